"""Speed benchmark of skupperlabs.network: whole ansible-playbook runs, side by side.

Every form below creates N listeners (a first run) and then runs again with nothing to
change (a re-run), against the Kubernetes API test double (tests/support/kube_api_double.py)
served from this process on 127.0.0.1, or on a system site in a temporary data home:

  list    skupperlabs.network.listener, one task with ``listeners: [...]`` (N items)
  loop    skupperlabs.network.listener in a ``loop:`` of N items
  k8s     kubernetes.core.k8s, ``state: present``, in a ``loop:`` of N items (the usual tool;
          needs the kubernetes.core collection: see --setup)
  system  the list form with ``platform: linux`` and ``data_home`` in a temporary folder
  ping    baselines: a play of one ansible.builtin.ping, and a loop of N pings (what any
          module costs in a playbook: start-up, then per task)

The machine this runs on may be shared and noisy, so the contenders are interleaved: each
repeat runs the first run of every form, then every re-run, in an order rotated from one
repeat to the next; the report gives medians, and ratios of runs made side by side. Besides
wall time it gives the CPU time of ansible-playbook and every process under it, which other
load on the machine disturbs much less. The API requests come from the double's request log.

This is not a test and is not part of ./scripts/test: it prints figures, and exits non-zero
only when a run fails or when one of this collection's modules writes on an unchanged re-run.

Usage (from the checkout, after ./scripts/test or ./scripts/quickstart made .venv):

  python bench/run.py --setup        # first time: install kubernetes.core for the comparison
  python bench/run.py [--items 20] [--repeats 3] [--forms list,loop,k8s,system,ping]
"""

import argparse
import glob
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv")
BUILD = os.path.join(ROOT, ".build")
COLLECTIONS = os.path.join(BUILD, "collections")
COLLECTION_LINK = os.path.join(COLLECTIONS, "ansible_collections", "skupperlabs", "network")
BENCH_VENV = os.path.join(BUILD, "bench-venv")
BENCH_COLLECTIONS = os.path.join(BUILD, "bench-collections")
BENCH_REQUIREMENTS = ["ansible>=10,<12", "kubernetes>=24.2"]
ALL_FORMS = ("list", "loop", "k8s", "system", "ping")
MANAGED_BY = {"app.kubernetes.io/managed-by": "skupperlabs.network"}
RSS_LOOP_ITEMS = 3
RECAP = re.compile(r"^\S+\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def log(message):
    print(message, file=sys.stderr, flush=True)


# -- environment ---------------------------------------------------------------------------

def reexec_in_venv():
    """Run under <checkout>/.venv/bin/python when it exists (it has ansible-core and kubernetes)."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.exists(python) and os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


def ensure_collection_link():
    """.build/collections/ansible_collections/skupperlabs/network -> ../../../.. (the checkout)."""
    target = os.path.relpath(ROOT, os.path.dirname(COLLECTION_LINK))
    if os.path.islink(COLLECTION_LINK) and os.readlink(COLLECTION_LINK) == target:
        return
    os.makedirs(os.path.dirname(COLLECTION_LINK), exist_ok=True)
    if os.path.lexists(COLLECTION_LINK):
        os.unlink(COLLECTION_LINK)
    os.symlink(target, COLLECTION_LINK)


def find_kubernetes_core():
    """The kubernetes.core collection of the running venv (if it has ansible) or of the bench venv, or None."""
    for prefix in (sys.prefix, BENCH_VENV):
        pattern = os.path.join(prefix, "lib", "python*", "site-packages")
        for site in sorted(glob.glob(pattern)):
            candidate = os.path.join(site, "ansible_collections", "kubernetes", "core")
            if os.path.isfile(os.path.join(candidate, "MANIFEST.json")):
                return candidate
    return None


def install_kubernetes_core():
    """Make .build/bench-venv and pip install the ansible package (it ships kubernetes.core).

    Returns None on success, or why it failed.
    """
    logfile = os.path.join(BUILD, "logs", "bench-setup.log")
    os.makedirs(os.path.dirname(logfile), exist_ok=True)
    python = os.path.join(BENCH_VENV, "bin", "python")
    base = getattr(sys, "_base_executable", sys.executable)
    steps = []
    if not os.path.exists(python):
        steps.append([base, "-m", "venv", BENCH_VENV])
    steps.append([python, "-m", "pip", "install", "-q"] + BENCH_REQUIREMENTS)
    with open(logfile, "a") as handle:
        for step in steps:
            log("setup: %s (log: %s)" % (shlex.join(step), os.path.relpath(logfile, ROOT)))
            handle.write("$ %s\n" % shlex.join(step))
            handle.flush()
            if subprocess.run(step, stdout=handle, stderr=subprocess.STDOUT, check=False).returncode != 0:
                with open(logfile) as reread:
                    lines = [line.strip() for line in reread if line.strip()]
                errors = [line for line in lines if line.startswith("ERROR")] or lines[-1:] or ["see " + logfile]
                return "'%s' failed: %s" % (shlex.join(step[:4]), errors[-1])
    return None


def link_kubernetes_core(path):
    """A collections folder holding kubernetes.core only (not the ansible package's hundred others)."""
    link = os.path.join(BENCH_COLLECTIONS, "ansible_collections", "kubernetes", "core")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.lexists(link):
        if os.path.realpath(link) == os.path.realpath(path):
            return BENCH_COLLECTIONS
        os.unlink(link)
    os.symlink(path, link)
    return BENCH_COLLECTIONS


def collection_version(path):
    with open(os.path.join(path, "MANIFEST.json")) as handle:
        return json.load(handle)["collection_info"]["version"]


def package_version(name):
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


# -- playbooks -----------------------------------------------------------------------------

def listener_items(count):
    return [{"name": "bench-%03d" % index, "routing_key": "bench.backend-%d" % index,
             "host": "backend-%d" % index, "port": 8000 + index} for index in range(count)]


def play(tasks, items=None):
    return [{"name": "Benchmark", "hosts": "localhost", "gather_facts": False,
             "vars": {"bench_items": items or []}, "tasks": tasks}]


def kube_auth():
    return {"kubeconfig": "{{ bench_kubeconfig }}", "namespace": "{{ bench_namespace }}"}


def playbook_list(items):
    task = dict(kube_auth(), listeners=items)
    return play([{"name": "Listeners, list form", "skupperlabs.network.listener": task}])


def playbook_loop(items):
    task = dict(kube_auth(), name="{{ item.name }}", routing_key="{{ item.routing_key }}", host="{{ item.host }}",
                port="{{ item.port }}")
    return play([{"name": "Listeners, one task per item", "skupperlabs.network.listener": task,
                  "loop": "{{ bench_items }}", "loop_control": {"label": "{{ item.name }}"}}], items)


def playbook_k8s(items):
    definition = {"apiVersion": "skupper.io/v2alpha1", "kind": "Listener",
                  "metadata": {"name": "{{ item.name }}", "labels": dict(MANAGED_BY)},
                  "spec": {"routingKey": "{{ item.routing_key }}", "host": "{{ item.host }}",
                           "port": "{{ item.port }}"}}
    task = dict(kube_auth(), state="present", definition=definition)
    return play([{"name": "Listeners with kubernetes.core.k8s", "kubernetes.core.k8s": task,
                  "loop": "{{ bench_items }}", "loop_control": {"label": "{{ item.name }}"}}], items)


def playbook_system(items):
    task = {"platform": "linux", "data_home": "{{ bench_data_home }}", "listeners": items}
    return play([{"name": "Listeners on a system site, list form", "skupperlabs.network.listener": task}])


def playbook_ping(items):
    task = {"name": "Ping", "ansible.builtin.ping": {}}
    if items:
        task.update({"loop": "{{ bench_items }}", "loop_control": {"label": "{{ item.name }}"}})
    return play([task], items)


class Form:
    """One contender: a playbook, where it writes, and whether it has a create/re-run pair."""

    def __init__(self, key, label, build, target, phases=("create", "re-run"), ours=True, looped=False):
        self.key = key
        self.label = label
        self.build = build
        self.target = target  # "kube", "system" or None
        self.phases = phases
        self.ours = ours
        self.looped = looped  # one module process per item


def make_forms(selected, have_k8s):
    forms = []
    if "list" in selected:
        forms.append(Form("list", "listener, list form", playbook_list, "kube"))
    if "loop" in selected:
        forms.append(Form("loop", "listener, loop", playbook_loop, "kube", looped=True))
    if "k8s" in selected and have_k8s:
        forms.append(Form("k8s", "kubernetes.core.k8s, loop", playbook_k8s, "kube", ours=False, looped=True))
    if "system" in selected:
        forms.append(Form("system", "listener, list, system site", playbook_system, "system"))
    if "ping" in selected:
        forms.append(Form("ping1", "baseline: one ping", lambda items: playbook_ping(None), None, ("run",), False))
        forms.append(Form("pingN", "baseline: ping loop", playbook_ping, None, ("run",), False, True))
    return forms


# -- measuring -----------------------------------------------------------------------------

def file_states(folder):
    """path -> (inode, mtime, size) of every file under folder: what a re-run must leave alone."""
    states = {}
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            info = os.lstat(os.path.join(parent, name))
            states[os.path.join(parent, name)] = (info.st_ino, info.st_mtime_ns, info.st_size)
    return states


def count_requests(records):
    """Requests by method (GET of a collection counted as LIST), discovery apart, and real writes."""
    counts = {"discovery": 0, "writes": 0}
    for record in records:
        if record.discovery:
            counts["discovery"] += 1
            continue
        method = "LIST" if record.method == "GET" and record.name is None else record.method
        counts[method] = counts.get(method, 0) + 1
        if record.is_write and not record.dry_run:
            counts["writes"] += 1
    return counts


def cpu_seconds(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Bench:
    """Runs the forms' playbooks against one KubeApiDouble and keeps every run's figures."""

    def __init__(self, args, workdir, double, k8s_collections):
        self.workdir = workdir
        self.double = double
        self.items = listener_items(args.items)
        self.kubeconfig = double.write_kubeconfig(os.path.join(workdir, "kubeconfig"))
        paths = [COLLECTIONS] + ([k8s_collections] if k8s_collections else [])
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("ANSIBLE_", "K8S_AUTH_")) and key not in ("KUBECONFIG", "PYTHONPATH")}
        tmp = os.path.join(workdir, "tmp")
        os.makedirs(tmp)
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(paths),
            "ANSIBLE_HOME": os.path.join(workdir, "ansible-home"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_REMOTE_TMP": os.path.join(workdir, "remote-tmp"),
            # kubernetes.core keeps its discovery cache in the temp folder: a private one per benchmark.
            "TMPDIR": tmp,
        })
        self.inventory = self._inventory("inventory", sys.executable)
        self.playbooks = {}
        self.results = []  # one dict per timed run

    def _inventory(self, name, interpreter):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as handle:
            handle.write("localhost ansible_connection=local ansible_python_interpreter=%s\n" % interpreter)
        return path

    def write_playbook(self, form, items, suffix=""):
        import yaml
        path = os.path.join(self.workdir, "%s%s.yml" % (form.key, suffix))
        with open(path, "w") as handle:
            yaml.safe_dump(form.build(items), handle, sort_keys=False)
        return path, len(items)

    def prepare(self, form, tag):
        """The extra vars of a fresh target: a new namespace on the double, or a new data home."""
        if form.target == "kube":
            namespace = "bench-" + tag
            self.double.create_namespace(namespace)
            return {"bench_kubeconfig": self.kubeconfig, "bench_namespace": namespace}
        if form.target == "system":
            return {"bench_data_home": os.path.join(self.workdir, "data-home-" + tag)}
        return {}

    def run_phase(self, form, phase, extra, playbook, count, inventory=None, env=None):
        """One ansible-playbook run: wall and CPU time, API requests, writes; checks the outcome."""
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                   "-i", inventory or self.inventory, playbook, "-e", json.dumps(extra)]
        data_home = extra.get("bench_data_home")
        before = file_states(data_home) if data_home else None
        self.double.reset_calls()
        version = int(self.double.resource_version)
        children, server = cpu_seconds(resource.RUSAGE_CHILDREN), cpu_seconds(resource.RUSAGE_SELF)
        started = time.perf_counter()
        process = subprocess.run(command, capture_output=True, text=True, env=env or self.env, cwd=self.workdir,
                                 timeout=600, check=False)
        run = {"form": form.key, "ours": form.ours, "phase": phase, "seconds": time.perf_counter() - started,
               "cpu": cpu_seconds(resource.RUSAGE_CHILDREN) - children,
               "server_cpu": cpu_seconds(resource.RUSAGE_SELF) - server}
        recap = RECAP.search(process.stdout)
        if process.returncode != 0 or recap is None or int(recap.group(3)) or int(recap.group(4)):
            raise RuntimeError("ansible-playbook %s (%s) failed, rc %s:\n%s\n%s" % (
                form.key, phase, process.returncode, process.stdout[-3000:], process.stderr[-2000:]))
        run["changed_tasks"] = int(recap.group(2))
        counts = count_requests(self.double.calls(exclude_discovery=False))
        counts["stored"] = int(self.double.resource_version) - version
        made = None
        if data_home:
            after = file_states(data_home)
            written = (set(after) ^ set(before)) | {path for path in after if before.get(path) != after[path]}
            counts["writes"] = counts["stored"] = len(written)
            made = len([path for path in after if re.match(r"Listener-.*\.yaml$", os.path.basename(path))])
        elif form.target == "kube":
            made = len(self.double.list_objects("listeners", extra["bench_namespace"]))
        if made is not None and made != count:
            raise RuntimeError("after %s (%s) there are %d listeners, not %d" % (form.key, phase, made, count))
        run["counts"] = counts
        return run

    def run_repeat(self, forms, repeat):
        """Every form once; all first runs, then all re-runs, in an order rotated per repeat."""
        shift = repeat % len(forms)
        order = forms[shift:] + forms[:shift]
        extras = {form.key: self.prepare(form, "%s-%d" % (form.key, repeat)) for form in order}
        for index in range(max(len(form.phases) for form in forms)):
            for form in order:
                if index >= len(form.phases):
                    continue
                playbook, count = self.playbooks[form.key]
                run = self.run_phase(form, form.phases[index], extras[form.key], playbook, count)
                run["repeat"] = repeat
                self.results.append(run)
                log("  repeat %d  %-7s %-7s %6.2f s wall %6.2f s CPU  changed tasks %d  requests: %s" % (
                    repeat + 1, form.key, run["phase"], run["seconds"], run["cpu"], run["changed_tasks"],
                    format_counts(run["counts"])))

    def measure_modules(self, forms, repeats):
        """An untimed first run per form: peak RSS of its module processes, and CPU of one run alone.

        Each module process runs through an interpreter wrapper that logs its peak RSS. Ansible
        keeps the module files it ran (ANSIBLE_KEEP_REMOTE_FILES): one of them is then run again
        alone, outside Ansible, with the real interpreter; the resources exist by then, so that is
        the unchanged path. A looped module's peak does not depend on the number of items, so loops
        get RSS_LOOP_ITEMS; the list forms, which handle every item in one process, get all of them.
        """
        logfile = os.path.join(self.workdir, "rss.log")
        wrapper = os.path.join(self.workdir, "rss-bin", "python")
        os.makedirs(os.path.dirname(wrapper))
        with open(wrapper, "w") as handle:
            handle.write(RSS_WRAPPER.format(python=sys.executable, log=logfile))
        os.chmod(wrapper, 0o755)
        inventory = self._inventory("inventory-rss", wrapper)
        env = dict(self.env, ANSIBLE_KEEP_REMOTE_FILES="1")
        figures = {}
        for form in forms:
            if form.key == "pingN":
                continue  # the same module as ping1
            items = self.items[:RSS_LOOP_ITEMS] if form.looped else self.items
            playbook, count = self.write_playbook(form, items, "-modules")
            env["ANSIBLE_REMOTE_TMP"] = os.path.join(self.workdir, "remote-tmp-" + form.key)
            open(logfile, "w").close()
            self.run_phase(form, form.phases[0], self.prepare(form, form.key + "-modules"), playbook, count,
                           inventory, env)
            with open(logfile) as handle:
                figures[form.key] = {"rss_kib": [int(line) for line in handle if line.strip()]}
            modules = sorted(glob.glob(os.path.join(env["ANSIBLE_REMOTE_TMP"], "*", "AnsiballZ_*.py")))
            if modules:
                figures[form.key]["alone_cpu"] = statistics.median(
                    run_alone(modules[0], self.env) for _repeat in range(max(repeats, 3)))
        return figures


def run_alone(module, env):
    """CPU seconds of one module process run outside Ansible (its arguments are in the file)."""
    before = cpu_seconds(resource.RUSAGE_CHILDREN)
    process = subprocess.run([sys.executable, module], capture_output=True, text=True, env=env,
                             cwd=os.path.dirname(module), timeout=300, check=False)
    if process.returncode != 0 or '"failed": true' in process.stdout:
        raise RuntimeError("%s failed alone:\n%s\n%s" % (module, process.stdout[-2000:], process.stderr[-2000:]))
    return cpu_seconds(resource.RUSAGE_CHILDREN) - before


RSS_WRAPPER = '''#!{python}
"""Runs a module with the real interpreter, then logs its peak RSS in KiB (bench/run.py)."""
import resource
import subprocess
import sys

code = subprocess.call([{python!r}] + sys.argv[1:])
with open({log!r}, "a") as log:
    log.write("%d\\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
'''


def time_import(repeats):
    """Median CPU seconds of a fresh interpreter importing the kubernetes client, and of a bare one."""
    def once(code):
        before = cpu_seconds(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True)
        return cpu_seconds(resource.RUSAGE_CHILDREN) - before
    bare, client = [], []
    for _repeat in range(max(repeats, 3)):
        bare.append(once("pass"))
        client.append(once("from kubernetes import client, config"))
    return statistics.median(client), statistics.median(bare)


# -- report --------------------------------------------------------------------------------

METHOD_ORDER = ("GET", "LIST", "POST", "PUT", "PATCH", "DELETE")


def format_counts(counts):
    parts = ["%s %d" % (method, counts[method]) for method in METHOD_ORDER if counts.get(method)]
    return ", ".join(parts) or "none"


def spread(values):
    low, high = min(values), max(values)
    return "%d" % low if low == high else "%d-%d" % (low, high)


def summarize(results):
    """(form, phase) -> medians and spreads over the repeats."""
    groups = {}
    for run in results:
        groups.setdefault((run["form"], run["phase"]), []).append(run)
    summary = {}
    for key, runs in groups.items():
        methods = set()
        for run in runs:
            methods.update(run["counts"])
        row = {"counts": {m: statistics.median(run["counts"].get(m, 0) for run in runs) for m in methods}}
        for measure in ("seconds", "cpu", "server_cpu"):
            values = [run[measure] for run in runs]
            row[measure] = statistics.median(values)
            row[measure + "_range"] = (min(values), max(values))
        for measure in ("discovery", "writes", "stored"):
            row[measure] = spread([run["counts"][measure] for run in runs])
        row["changed_tasks"] = spread([run["changed_tasks"] for run in runs])
        summary[key] = row
    return summary


def ratio(numerator, denominator):
    return "%.1fx" % (numerator / denominator) if denominator else "-"


def request_total(row):
    return sum(row["counts"].get(method, 0) for method in METHOD_ORDER)


def paired_ratio(results, slow, fast, phase, measure):
    """Median (and range) of slow/fast ratios, one per repeat: each pair ran side by side."""
    pairs = {}
    for run in results:
        if run["phase"] == phase and run["form"] in (slow, fast):
            pairs.setdefault(run["repeat"], {})[run["form"]] = run[measure]
    values = [pair[slow] / pair[fast] for pair in pairs.values() if len(pair) == 2 and pair[fast]]
    if not values:
        return "-"
    return "%.2fx (%.2f-%.2f)" % (statistics.median(values), min(values), max(values))


def report(args, forms, results, modules, imports, versions, skipped):
    n = args.items
    summary = summarize(results)
    keys = {form.key for form in forms}
    rows = [(form, phase, summary[(form.key, phase)]) for form in forms for phase in form.phases]
    lines = []
    out = lines.append
    out("skupperlabs.network benchmark: %d listeners per run, medians of %d interleaved repeats" % (n, args.repeats))
    out("  host: %s, %d CPUs, load average %.1f at the end; Python %s (%s)" % (
        platform.platform(terse=True), os.cpu_count() or 0, os.getloadavg()[0], platform.python_version(),
        sys.executable))
    out("  %s" % ", ".join("%s %s" % item for item in versions.items()))
    out("  API server: KubeApiDouble on 127.0.0.1, plain HTTP, in the benchmark process")
    if skipped:
        out("  kubernetes.core comparison SKIPPED: %s" % skipped)

    out("")
    out("time of whole ansible-playbook runs (wall: elapsed; CPU: user+system of ansible-playbook and every")
    out("process under it, less disturbed by other load; API CPU: the double serving the requests)")
    header = "%-28s %-7s %8s %13s %8s %8s %8s %8s"
    out(header % ("form", "run", "wall s", "wall min-max", "ms/item", "CPU s", "ms/item", "API ms"))
    for form, phase, row in rows:
        out(header % (form.label, phase, "%.2f" % row["seconds"], "%.2f-%.2f" % row["seconds_range"],
                      "%.0f" % (1000 * row["seconds"] / n), "%.2f" % row["cpu"], "%.0f" % (1000 * row["cpu"] / n),
                      "%.0f" % (1000 * row["server_cpu"]) if form.target == "kube" else "-"))

    out("")
    out("API requests (medians; LIST is a GET of a collection), discovery requests, writes (POST, PUT, PATCH")
    out("or DELETE requests that were not dry runs, whatever the answer; on a system site: files written),")
    out("stored (objects the server changed: resourceVersion bumps) and tasks reported changed")
    header = "%-28s %-7s %-24s %5s %6s %6s %7s"
    out(header % ("form", "run", "requests", "disc", "writes", "stored", "changed"))
    for form, phase, row in rows:
        if form.target:
            kube = form.target == "kube"
            out(header % (form.label, phase, format_counts(row["counts"]) if kube else "-",
                          row["discovery"] if kube else "-", row["writes"], row["stored"], row["changed_tasks"]))

    if "k8s" in keys:
        out("")
        out("kubernetes.core.k8s loop / ours: median of the per-repeat ratios (range); above 1: ours is faster")
        header = "%-28s %-7s %20s %20s %9s"
        out(header % ("ours", "run", "wall", "CPU", "requests"))
        for ours in ("list", "loop"):
            for phase in ("create", "re-run") if ours in keys else ():
                out(header % ("listener, %s form" % ours, phase,
                              paired_ratio(results, "k8s", ours, phase, "seconds"),
                              paired_ratio(results, "k8s", ours, phase, "cpu"),
                              ratio(request_total(summary[("k8s", phase)]), request_total(summary[(ours, phase)]))))
    if "loop" in keys and "list" in keys:
        out("")
        out("listener loop / list form: create %s wall, %s CPU; re-run %s wall, %s CPU" % tuple(
            paired_ratio(results, "loop", "list", phase, measure)
            for phase in ("create", "re-run") for measure in ("seconds", "cpu")))

    if modules:
        out("")
        out("module processes (an untimed first run per form through an interpreter wrapper; loops of %d"
            % RSS_LOOP_ITEMS)
        out("items, the list forms with all %d): their peak RSS, and the CPU time of one of them run again" % n)
        out("alone, outside Ansible (the unchanged path; median of %d)" % max(args.repeats, 3))
        out("%-28s %10s %10s %14s" % ("form", "processes", "max MiB", "alone CPU ms"))
        for form in forms:
            figures = modules.get(form.key)
            if figures:
                alone = figures.get("alone_cpu")
                out("%-28s %10d %10.1f %14s" % (
                    form.label, len(figures["rss_kib"]), max(figures["rss_kib"]) / 1024.0,
                    "%.0f" % (1000 * alone) if alone is not None else "-"))

    out("")
    out("where the time goes (CPU time, differences of medians)")

    def line(label, seconds, note=""):
        out("  %-62s %6.0f ms%s" % (label, 1000 * seconds, note))

    if "ping1" in keys:
        one, many = summary[("ping1", "run")]["cpu"], summary[("pingN", "run")]["cpu"]
        line("ansible-playbook start-up and one ping task", one)
        line("each further task of a ping loop (Ansible's cost of a task)", (many - one) / (n - 1))
        for key, label in (("loop", "listener loop"), ("k8s", "kubernetes.core.k8s loop")):
            for phase in ("create", "re-run") if key in keys else ():
                line("%s, %s: per item, beyond a ping loop" % (label, phase),
                     (summary[(key, phase)]["cpu"] - many) / n)
        for key, label in (("list", "listener list form"), ("system", "list form on a system site")):
            for phase in ("create", "re-run") if key in keys else ():
                extra = summary[(key, phase)]["cpu"] - one
                line("%s, %s: beyond one ping" % (label, phase), extra, " (%.0f ms/item)" % (1000 * extra / n))
    ping_alone = modules.get("ping1", {}).get("alone_cpu")
    for key, label in (("loop", "listener"), ("k8s", "kubernetes.core.k8s"), ("system", "listener, system site")):
        alone = modules.get(key, {}).get("alone_cpu")
        if alone is not None and ping_alone is not None:
            line("one module process alone: %s, beyond ping" % label, alone - ping_alone)
    if imports:
        line("a fresh interpreter importing the kubernetes client", imports[0] - imports[1],
             " (a bare start: %.0f ms)" % (1000 * imports[1]))
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=20, help="listeners per run (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (default 3)")
    parser.add_argument("--forms", default=",".join(ALL_FORMS),
                        help="comma-separated subset of %s (default: all)" % ",".join(ALL_FORMS))
    parser.add_argument("--setup", action="store_true",
                        help="install kubernetes.core first when it is missing (pip install %s into "
                        ".build/bench-venv)" % " ".join("'%s'" % r for r in BENCH_REQUIREMENTS))
    parser.add_argument("--no-modules", action="store_true",
                        help="skip the untimed pass that measures module processes (peak RSS, CPU alone)")
    parser.add_argument("--json", metavar="PATH", help="also write every run's figures to PATH")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (playbooks, data homes)")
    args = parser.parse_args(argv)
    args.forms = [f.strip() for f in args.forms.split(",") if f.strip()]
    unknown = set(args.forms) - set(ALL_FORMS)
    if unknown:
        parser.error("unknown forms: %s" % ", ".join(sorted(unknown)))
    if args.items < 2 or args.repeats < 1:
        parser.error("--items must be at least 2 and --repeats at least 1")
    return args


def kubernetes_core(args, versions):
    """The collections folder that holds kubernetes.core, and why the comparison is skipped (or None)."""
    path = find_kubernetes_core()
    failure = None
    if path is None and args.setup:
        failure = install_kubernetes_core()
        path = find_kubernetes_core()
    if path is None:
        if args.setup:
            return None, "could not install it into .build/bench-venv: %s" % (failure or "no kubernetes.core")
        return None, "the kubernetes.core collection is not installed; `python bench/run.py --setup` installs it"
    versions["kubernetes.core"] = "%s (%s)" % (collection_version(path), os.path.relpath(path, ROOT))
    return link_kubernetes_core(path), None


def main(argv=None):
    reexec_in_venv()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import ansible.release
        import yaml  # noqa: F401  (PyYAML writes the playbooks)
    except ImportError as exc:
        sys.exit("bench/run.py needs ansible-core and PyYAML: run ./scripts/test or ./scripts/quickstart to "
                 "make .venv first (%s)" % exc)
    ensure_collection_link()
    sys.path.insert(0, ROOT)
    from tests.support.kube_api_double import KubeApiDouble

    versions = {"ansible-core": ansible.release.__version__, "kubernetes client": package_version("kubernetes")}
    k8s_collections, skipped = None, None
    if "k8s" in args.forms:
        k8s_collections, skipped = kubernetes_core(args, versions)
        if skipped:
            log("kubernetes.core comparison skipped: " + skipped)
    forms = make_forms(args.forms, k8s_collections is not None)
    if not forms:
        sys.exit("no form to run")

    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="skupperlabs-bench-")
    double = KubeApiDouble().start()
    try:
        bench = Bench(args, workdir, double, k8s_collections)
        for form in forms:
            bench.playbooks[form.key] = bench.write_playbook(form, bench.items)
        log("work folder %s, API double at %s" % (workdir, double.url))
        for repeat in range(args.repeats):
            bench.run_repeat(forms, repeat)
        modules = {} if args.no_modules else bench.measure_modules(forms, args.repeats)
        imports = time_import(args.repeats) if {"loop", "k8s", "list"} & set(args.forms) else None
    finally:
        double.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print(report(args, forms, bench.results, modules, imports, versions, skipped))
    print("\n(the benchmark took %.0f s)" % (time.monotonic() - started))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"items": args.items, "repeats": args.repeats, "versions": versions, "skipped": skipped,
                       "runs": bench.results, "modules": modules, "import_cpu_seconds": imports}, handle, indent=2)
    bad = [run for run in bench.results
           if run["ours"] and run["phase"] == "re-run" and (run["counts"]["writes"] or run["changed_tasks"])]
    if bad:
        log("FAIL: this collection wrote on an unchanged re-run: %s" % ", ".join(
            "%s (repeat %d)" % (run["form"], run["repeat"] + 1) for run in bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
