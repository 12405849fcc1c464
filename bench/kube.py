"""The Kubernetes scenarios of bench/run.py: loop, list and memory, against the API test double.

loop    N `skupperlabs.network.listener` tasks in a loop (default 30): on the fast path, on the module
        path (SKUPPERLABS_NETWORK_FAST_PATH=0), and with the collection as it was before the fast path;
        against a loop of N `ansible.builtin.ping` and a loop of N `kubernetes.core.k8s`.
list    the list form (`listeners: [...]`, one task; default 1000 items) on both paths, against one
        `kubernetes.core.k8s` task whose `definition:` is the list of the same 1000 Listeners.
memory  peak RSS of the module process (module path, through an interpreter wrapper) and of the
        worker process (fast path) for the list form of 1000 items, and of a worker that runs one ping.

Per-item cost: (t(N items) - t(empty loop)) / N, where the empty loop is a playbook of one task with
`loop: []` run in the same repeat: Ansible's start-up, parsing and the play cancel out; what is
left is the cost of the task and its N items.
"""

import os
import sys

from harness import (FAST_PATH_SWITCH, MANAGED_BY, BenchFailure, changed_tasks, count_requests, format_counts,
                     listener_items, log, median, ratio_text, target_pair, write_yaml)

RSS_WRAPPER = '''#!{python}
"""Runs a module with the real interpreter, then logs its peak RSS in KiB (bench/kube.py)."""
import resource
import subprocess
import sys

code = subprocess.call([{python!r}] + sys.argv[1:])
with open({log!r}, "a") as log:
    log.write("%d\\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
'''

FAST_MARK = "skupperlabs.network fast path:"
MODULE_MARK = "skupperlabs.network module path for"


# -- playbooks -----------------------------------------------------------------------------

def play(tasks, items=None):
    return [{"name": "Benchmark", "hosts": "localhost", "gather_facts": False,
             "vars": {"bench_items": items or []}, "tasks": tasks}]


def kube_auth():
    return {"kubeconfig": "{{ bench_kubeconfig }}", "namespace": "{{ bench_namespace }}"}


def looped(task, items):
    task.update({"loop": "{{ bench_items }}", "loop_control": {"label": "{{ item.name }}"}})
    return play([task], items)


def playbook_listener_loop(items):
    args = dict(kube_auth(), name="{{ item.name }}", routing_key="{{ item.routing_key }}", host="{{ item.host }}",
                port="{{ item.port }}")
    return looped({"name": "Listeners, one task per item", "skupperlabs.network.listener": args}, items)


def k8s_definition(item):
    return {"apiVersion": "skupper.io/v2alpha1", "kind": "Listener",
            "metadata": {"name": item["name"], "labels": dict(MANAGED_BY)},
            "spec": {"routingKey": item["routing_key"], "host": item["host"], "port": item["port"]}}


def playbook_k8s_loop(items):
    definition = k8s_definition({"name": "{{ item.name }}", "routing_key": "{{ item.routing_key }}",
                                 "host": "{{ item.host }}", "port": "{{ item.port }}"})
    return looped({"name": "Listeners with kubernetes.core.k8s",
                   "kubernetes.core.k8s": dict(kube_auth(), state="present", definition=definition)}, items)


def playbook_ping_loop(items):
    return looped({"name": "Ping", "ansible.builtin.ping": {}}, items)


def playbook_debug_loop(items):
    return looped({"name": "Debug", "ansible.builtin.debug": {"msg": "{{ item.name }}"}}, items)


def playbook_empty_loop(_items):
    return play([{"name": "Ping, no items", "ansible.builtin.ping": {}, "loop": []}])


def playbook_ping_once(_items):
    return play([{"name": "Ping", "ansible.builtin.ping": {}}])


def playbook_listener_list(items):
    return play([{"name": "Listeners, list form", "skupperlabs.network.listener": dict(kube_auth(), listeners=items)}])


def playbook_k8s_list(items):
    args = dict(kube_auth(), state="present", definition=[k8s_definition(item) for item in items])
    return play([{"name": "Listeners with kubernetes.core.k8s, one task", "kubernetes.core.k8s": args}])


class Contender:
    """One playbook of a scenario: what it runs, with which environment, and what it must do."""

    def __init__(self, key, label, build, kube=True, ours=False, env=None, collections=None, path=None):
        self.key = key
        self.label = label
        self.build = build
        self.kube = kube  # writes Listeners to a namespace of the double (create, then re-run)
        self.ours = ours  # this collection: an unchanged re-run must write nothing
        self.env = dict(env or {})
        self.collections = collections  # another ANSIBLE_COLLECTIONS_PATH (the collection before the fast path)
        self.path = path  # "fast" or "module": the path its -vvv output must name
        self.phases = ("create", "re-run") if kube else ("run",)
        self.playbook = None


# -- running a scenario --------------------------------------------------------------------

class KubeScenario:
    """Interleaved repeats of a scenario's contenders against one KubeApiDouble."""

    def __init__(self, name, items, contenders, context):
        self.name = name
        self.items = items
        self.contenders = contenders
        self.ctx = context  # playbooks (harness.Playbooks), double, kubeconfig, inventory, violations
        self.results = []

    def env_of(self, contender):
        env = dict(contender.env)
        if contender.collections:
            env["ANSIBLE_COLLECTIONS_PATH"] = contender.collections
        return env

    def write(self, contender, items, suffix=""):
        path = os.path.join(self.ctx.workdir, "%s-%s%s.yml" % (self.name, contender.key, suffix))
        return write_yaml(path, contender.build(items))

    def namespace(self, tag):
        namespace = "%s-%s" % (self.name, tag)
        self.ctx.double.create_namespace(namespace)
        return {"bench_kubeconfig": self.ctx.kubeconfig, "bench_namespace": namespace}

    def check_paths(self):
        """An untimed -vvv run of 2 items per contender of ours: it must take the path it is named for."""
        for contender in self.contenders:
            if not contender.path:
                continue
            playbook = self.write(contender, self.items[:2], "-paths")
            run = self.ctx.playbooks.run(playbook, self.ctx.inventory, self.namespace(contender.key + "-paths"),
                                         self.env_of(contender), args=["-vvv"])
            fast, module = FAST_MARK in run["stdout"], MODULE_MARK in run["stdout"]
            if contender.path == "fast" and (not fast or module):
                raise BenchFailure("%s: the fast path was not taken: %s" % (contender.label, path_lines(run)))
            if contender.path == "module" and (fast or not module) and not contender.collections:
                raise BenchFailure("%s: the module path was not taken: %s" % (contender.label, path_lines(run)))
            if contender.collections and (fast or module):
                raise BenchFailure("%s: the collection before the fast path has an action plugin" % contender.label)
            log("  %s: %s" % (contender.label, path_lines(run) or "no action plugin (module path)"))

    def run(self, repeats):
        log("%s: %d items, %d repeats" % (self.name, len(self.items), repeats))
        self.check_paths()
        for contender in self.contenders:
            contender.playbook = self.write(contender, self.items)
        for repeat in range(repeats):
            shift = repeat % len(self.contenders)
            order = self.contenders[shift:] + self.contenders[:shift]
            extras = {c.key: self.namespace("%s-%d" % (c.key, repeat)) if c.kube else {} for c in order}
            for index in range(2):
                for contender in order:
                    if index < len(contender.phases):
                        self.run_one(contender, contender.phases[index], extras[contender.key], repeat)

    def run_one(self, contender, phase, extra, repeat):
        double = self.ctx.double
        double.reset_calls()
        version = int(double.resource_version)
        run = self.ctx.playbooks.run(contender.playbook, self.ctx.inventory, extra, self.env_of(contender))
        run.pop("stdout")
        counts = count_requests(double.calls(exclude_discovery=False))
        counts["stored"] = int(double.resource_version) - version
        run.update(key=contender.key, phase=phase, repeat=repeat, counts=counts, changed=changed_tasks(run))
        if contender.kube:
            made = len(double.list_objects("listeners", extra["bench_namespace"]))
            if made != len(self.items):
                raise BenchFailure("%s (%s): %d listeners, not %d" % (contender.label, phase, made, len(self.items)))
        if contender.ours and phase == "re-run" and (counts["writes"] or run["changed"]):
            self.ctx.violations.append("%s %s, repeat %d: %d writes, %d changed tasks on an unchanged re-run" % (
                self.name, contender.label, repeat + 1, counts["writes"], run["changed"]))
        self.results.append(run)
        log("  repeat %d  %-10s %-7s %7.2f s wall %7.2f s CPU  changed %d  requests: %s" % (
            repeat + 1, contender.key, phase, run["seconds"], run["cpu"], run["changed"], format_counts(counts)))

    # -- figures -------------------------------------------------------------------------

    def runs(self, key, phase):
        return {run["repeat"]: run for run in self.results if run["key"] == key and run["phase"] == phase}

    def per_item(self, key, phase, measure):
        """repeat -> (t - t(empty loop)) / N of that repeat."""
        empty = self.runs("empty", "run")
        n = len(self.items)
        return {repeat: (run[measure] - empty[repeat][measure]) / n
                for repeat, run in self.runs(key, phase).items() if repeat in empty}

    def ratios(self, key, phase, ref_key, ref_phase, measure="seconds"):
        ours, ref = self.per_item(key, phase, measure), self.per_item(ref_key, ref_phase, measure)
        return [ours[r] / ref[r] for r in ours if r in ref and ref[r] > 0]

    def whole_ratios(self, key, phase, ref_key, ref_phase, measure="seconds"):
        ours, ref = self.runs(key, phase), self.runs(ref_key, ref_phase)
        return [ours[r][measure] / ref[r][measure] for r in ours if r in ref]

    def keys(self):
        return {contender.key for contender in self.contenders}

    def table(self):
        n = len(self.items)
        lines = ["%-48s %-7s %8s %13s %9s %8s %9s" % ("contender", "run", "wall s", "wall min-max", "ms/item",
                                                      "CPU s", "CPU ms/it")]
        for contender in self.contenders:
            for phase in contender.phases:
                runs = list(self.runs(contender.key, phase).values())
                if not runs:
                    continue
                walls = [run["seconds"] for run in runs]
                per_wall = median(self.per_item(contender.key, phase, "seconds").values())
                per_cpu = median(self.per_item(contender.key, phase, "cpu").values())
                lines.append("%-48s %-7s %8.2f %13s %9s %8.2f %9s" % (
                    contender.label, phase, median(walls), "%.2f-%.2f" % (min(walls), max(walls)),
                    "-" if contender.key == "empty" else "%.1f" % (1000 * per_wall),
                    median([run["cpu"] for run in runs]),
                    "-" if contender.key == "empty" else "%.1f" % (1000 * per_cpu)))
        lines.append("(ms/item: (t - t(empty loop)) / %d, medians of the per-repeat values)" % n)
        lines.append("")
        lines.append("%-48s %-7s %-52s %6s %6s %7s" % (
            "API requests (medians)", "run", "requests per item", "disc", "writes", "changed"))
        for contender in self.contenders:
            for phase in contender.phases if contender.kube else ():
                runs = list(self.runs(contender.key, phase).values())
                methods = set().union(*(run["counts"] for run in runs))
                counts = {m: median([run["counts"].get(m, 0) for run in runs]) for m in methods}
                lines.append("%-48s %-7s %-52s %6d %6d %7d" % (
                    contender.label, phase, format_counts(counts, per=n) + " (total %s)" % format_counts(counts),
                    counts["discovery"], counts["writes"], median([run["changed"] for run in runs])))
        return lines

    def median_counts(self, key, phase):
        runs = list(self.runs(key, phase).values())
        if not runs:
            return None
        methods = set().union(*(run["counts"] for run in runs))
        return {m: max(run["counts"].get(m, 0) for run in runs) for m in methods}


def path_lines(run):
    seen = []
    for line in run["stdout"].splitlines():
        line = line.strip()
        if (FAST_MARK in line or MODULE_MARK in line) and line not in seen:
            seen.append(line)
    return "; ".join(seen)


# -- the scenarios -------------------------------------------------------------------------

def loop_scenario(context, items, have_k8s, before):
    contenders = [
        Contender("fast", "listener loop, fast path", playbook_listener_loop, ours=True, path="fast"),
        Contender("module", "listener loop, module path (FAST_PATH=0)", playbook_listener_loop, ours=True,
                  env={FAST_PATH_SWITCH: "0"}, path="module"),
    ]
    if before:
        contenders.append(Contender("before", "listener loop, before the fast path (%s)" % before["commit"],
                                    playbook_listener_loop, ours=True, collections=before["collections"],
                                    path="module"))
    if have_k8s:
        contenders.append(Contender("k8s", "kubernetes.core.k8s loop", playbook_k8s_loop))
    contenders += [Contender("ping", "ansible.builtin.ping loop", playbook_ping_loop, kube=False),
                   # An action that runs in the worker and does nothing: Ansible's own cost of a loop item.
                   Contender("debug", "ansible.builtin.debug loop (floor)", playbook_debug_loop, kube=False),
                   Contender("empty", "empty loop (loop: [])", playbook_empty_loop, kube=False)]
    return KubeScenario("loop", listener_items(items, "loop"), contenders, context)


def loop_report(scenario, docs_figures):
    n = len(scenario.items)
    keys = scenario.keys()
    out = ["== 1. Kubernetes loop: %d skupperlabs.network.listener items, one task per item" % n]
    out += scenario.table()
    out.append("")
    out.append("ratios of per-item cost, median of the per-repeat ratios (range); wall time, then CPU")
    rows = [("fast path / ping loop", "fast", "ping", "run"),
            ("fast path / debug loop (Ansible's floor)", "fast", "debug", "run"),
            ("fast path / kubernetes.core.k8s loop", "fast", "k8s", None),
            ("module path / kubernetes.core.k8s loop", "module", "k8s", None),
            ("module path / before the fast path", "module", "before", None),
            ("fast path / module path", "fast", "module", None)]
    for label, key, ref, ref_phase in rows:
        if key not in keys or ref not in keys:
            continue
        for phase in ("create", "re-run"):
            out.append("  %-40s %-7s wall %-22s CPU %s" % (
                label, phase, ratio_text(scenario.ratios(key, phase, ref, ref_phase or phase)),
                ratio_text(scenario.ratios(key, phase, ref, ref_phase or phase, "cpu"))))
    if "debug" in keys:
        beyond = []
        for phase in ("create", "re-run"):
            ours, floor = scenario.per_item("fast", phase, "cpu"), scenario.per_item("debug", "run", "cpu")
            value = median([ours[r] - floor[r] for r in ours if r in floor])
            beyond.append("%s %s ms" % (phase, "%.0f" % (1000 * value) if value is not None else "-"))
        out.append("  fast path per item beyond a debug item (CPU; the module's own work in the worker): " +
                   ", ".join(beyond))
    out.append("")
    out.append("module path, whole run / N (as docs/benchmarks.md gave it before the fast path: %s)" % docs_figures)
    for key, label in (("module", "listener loop, module path"), ("before", "listener loop, before the fast path"),
                       ("k8s", "kubernetes.core.k8s loop"), ("fast", "listener loop, fast path")):
        for phase in ("create", "re-run") if key in keys else ():
            out.append("  %-40s %-7s %6.0f ms/item" % (
                label, phase, 1000 * median([r["seconds"] for r in scenario.runs(key, phase).values()]) / n))
    out.append("")
    out.append("targets (median ratios of per-item cost, wall and CPU)")
    for phase in ("create", "re-run"):
        for ref, limit, label in (("ping", 0.5, "ping loop item"), ("k8s", 0.25, "kubernetes.core.k8s item")):
            if ref in keys:
                ref_phase = "run" if ref == "ping" else phase
                out.append("  fast path %-7s per item <= %.2fx a %-26s %s" % (phase, limit, label, target_pair(
                    scenario.ratios("fast", phase, ref, ref_phase),
                    scenario.ratios("fast", phase, ref, ref_phase, "cpu"), limit)))
    counts = scenario.median_counts("fast", "re-run")
    if counts:
        gets, others = counts.get("GET", 0), sum(counts.get(m, 0) for m in ("LIST", "POST", "PUT", "PATCH", "DELETE"))
        out.append("  unchanged = 1 GET and 0 writes per item: %s per item, %d writes, %d other requests: %s" % (
            format_counts(counts, per=n), counts["writes"], others,
            "reached" if gets == n and not counts["writes"] and not others else "MISSED"))
    return out


def list_scenario(context, items, have_k8s):
    contenders = [
        Contender("fast", "listener list form, fast path", playbook_listener_list, ours=True, path="fast"),
        Contender("module", "listener list form, module path", playbook_listener_list, ours=True,
                  env={FAST_PATH_SWITCH: "0"}, path="module"),
    ]
    if have_k8s:
        contenders.append(Contender("k8s", "kubernetes.core.k8s, one task, definition list", playbook_k8s_list))
    contenders.append(Contender("empty", "empty loop (loop: [])", playbook_empty_loop, kube=False))
    return KubeScenario("list", listener_items(items, "list"), contenders, context)


def list_report(scenario):
    n = len(scenario.items)
    keys = scenario.keys()
    out = ["== 2. Kubernetes list form: %d listeners in one task" % n]
    out += scenario.table()
    out.append("")
    out.append("ratios, median of the per-repeat ratios (range): per item ((t - t(empty)) / N), then whole runs")
    for label, key, ref in (("fast path / kubernetes.core.k8s", "fast", "k8s"),
                            ("module path / kubernetes.core.k8s", "module", "k8s"),
                            ("fast path / module path", "fast", "module")):
        if key in keys and ref in keys:
            for phase in ("create", "re-run"):
                out.append("  %-36s %-7s per item: wall %-22s CPU %-22s whole run: wall %s" % (
                    label, phase, ratio_text(scenario.ratios(key, phase, ref, phase)),
                    ratio_text(scenario.ratios(key, phase, ref, phase, "cpu")),
                    ratio_text(scenario.whole_ratios(key, phase, ref, phase))))
    out.append("")
    out.append("targets (median ratios of per-item cost, wall and CPU)")
    if "k8s" in keys:
        for phase, limit in (("re-run", 0.3), ("create", 0.7)):
            out.append("  fast path %-7s <= %.1fx kubernetes.core.k8s: %s" % (phase, limit, target_pair(
                scenario.ratios("fast", phase, "k8s", phase), scenario.ratios("fast", phase, "k8s", phase, "cpu"),
                limit)))
    for phase, writes in (("create", n), ("re-run", 0)):
        for key in ("fast", "module"):
            counts = scenario.median_counts(key, phase)
            if not counts:
                continue
            others = sum(counts.get(m, 0) for m in ("GET", "PUT", "PATCH", "DELETE"))
            good = counts.get("LIST", 0) == 1 and counts["writes"] == writes and counts.get("POST", 0) == writes \
                and not others
            out.append("  %-6s %-7s 1 LIST + %d writes: %s: %s" % (key, phase, writes, format_counts(counts),
                                                                   "reached" if good else "MISSED"))
    return out


# -- memory --------------------------------------------------------------------------------

def memory_scenario(context, items):
    """Untimed runs of the list form of N items: on the module path through an interpreter wrapper that
    logs the module process's peak RSS, and on the fast path; the peak RSS (VmHWM) of ansible-playbook
    and its worker processes is sampled from /proc. A one-ping playbook is the reference worker."""
    workdir = context.workdir
    rss_log = os.path.join(workdir, "module-rss.log")
    wrapper = os.path.join(workdir, "rss-bin", "python")
    os.makedirs(os.path.dirname(wrapper))
    with open(wrapper, "w") as handle:
        handle.write(RSS_WRAPPER.format(python=sys.executable, log=rss_log))
    os.chmod(wrapper, 0o755)
    wrapped = context.playbooks.inventory("inventory-rss", wrapper)
    listeners = listener_items(items, "mem")
    list_playbook = write_yaml(os.path.join(workdir, "memory-list.yml"), playbook_listener_list(listeners))
    check_playbook = write_yaml(os.path.join(workdir, "memory-paths.yml"), playbook_listener_list(listeners[:2]))
    ping_playbook = write_yaml(os.path.join(workdir, "memory-ping.yml"), playbook_ping_once(None))
    log("memory: %d items" % items)
    figures = {"items": items}
    for label, inventory, env in (("module", wrapped, {FAST_PATH_SWITCH: "0"}), ("fast", context.inventory, {})):
        extra = {"bench_kubeconfig": context.kubeconfig, "bench_namespace": "memory-" + label}
        context.double.create_namespace(extra["bench_namespace"])
        context.double.create_namespace("memory-paths-" + label)
        run = context.playbooks.run(check_playbook, inventory, dict(extra, bench_namespace="memory-paths-" + label),
                                    env, args=["-vvv"])
        expected = MODULE_MARK if label == "module" else FAST_MARK
        if expected not in run["stdout"]:
            raise BenchFailure("memory, %s path: not taken: %s" % (label, path_lines(run)))
        log("  %s: %s" % (label, path_lines(run)))
        for phase in ("create", "re-run"):
            open(rss_log, "w").close()
            context.double.reset_calls()
            run = context.playbooks.run(list_playbook, inventory, extra, env, sample_rss=True)
            writes = len(context.double.writes())
            if phase == "re-run" and (writes or changed_tasks(run)):
                context.violations.append("memory, %s path: %d writes on an unchanged re-run" % (label, writes))
            with open(rss_log) as handle:
                module = [int(line) for line in handle if line.strip()]
            figures[(label, phase)] = dict(run["rss_kib"], module=max(module) if module else None)
            log("  %-6s %-7s %s" % (label, phase, figures[(label, phase)]))
    run = context.playbooks.run(ping_playbook, context.inventory, sample_rss=True)
    figures[("ping", "run")] = dict(run["rss_kib"], module=None)
    return figures


def memory_report(figures):
    def mib(kib):
        return "%.1f" % (kib / 1024.0) if kib else "-"

    out = ["== 4. Memory: peak RSS (MiB), list form of %d listeners" % figures["items"],
           "%-44s %-7s %14s %10s %14s %16s" % ("run", "", "module process", "worker", "under worker",
                                               "ansible-playbook")]
    labels = {"module": "module path (SKUPPERLABS_NETWORK_FAST_PATH=0)", "fast": "fast path",
              "ping": "one ansible.builtin.ping (reference)"}
    for key in (("module", "create"), ("module", "re-run"), ("fast", "create"), ("fast", "re-run"), ("ping", "run")):
        row = figures.get(key)
        if row:
            out.append("%-44s %-7s %14s %10s %14s %16s" % (labels[key[0]], key[1], mib(row["module"]),
                                                           mib(row["worker"]), mib(row["under_worker"]),
                                                           mib(row["playbook"])))
    out.append("(module process: its ru_maxrss, logged by an interpreter wrapper (module path only); worker,")
    out.append(" under worker (the largest process a worker started: shell, wrapper, module) and ansible-playbook:")
    out.append(" VmHWM sampled from /proc every 20 ms. On the fast path the worker runs the module's main().)")
    return out
