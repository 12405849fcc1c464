"""The fleet scenario of bench/run.py: playbooks/rollout.yml over real SSH hosts, re-run unchanged.

tests/support/fleet.py makes the hosts (an sshd each in a network namespace, with its own
/var/lib/skupper; needs root, iproute2 and openssh-server). Every host is a Linux system site
(the site role installs the stand-in Skupper CLI, tests/bin/skupper, a test double, from a file
with its checksum) with S listeners and one connector, declared through the network role, in a
namespace of its own per size: one fleet serves both sizes. After a first rollout per size, each
repeat runs the unchanged re-run of both sizes and, side by side, a playbook of as many
`ansible.builtin.ping` tasks per host (and on localhost) as the re-run ran there (the recap's ok).
"""

import hashlib
import os
import shutil
import zipapp

from harness import (ROOT, BenchFailure, changed_files, changed_tasks, file_states, log, median, ratio_text,
                     target_pair, write_yaml)

CONTROLLER = "localhost"
# As many forks as the rollout's default batch (skupper_rollout_serial, 10), for the rollout and the pings.
FORKS = 10
FLEET_ENV = {"ANSIBLE_FORKS": str(FORKS)}


def build_cli(folder):
    """The stand-in CLI and its support modules as one executable file (a zipapp), as a release binary is one."""
    source = os.path.join(folder, "skupper-src")
    os.makedirs(source)
    shutil.copyfile(os.path.join(ROOT, "tests", "bin", "skupper"), os.path.join(source, "__main__.py"))
    for name in ("system_controller.py", "skupper_status.py"):
        shutil.copyfile(os.path.join(ROOT, "tests", "support", name), os.path.join(source, name))
    target = os.path.join(folder, "skupper")
    zipapp.create_archive(source, target, interpreter="/usr/bin/env python3")
    with open(target, "rb") as handle:
        return target, "sha256:" + hashlib.sha256(handle.read()).hexdigest()


class FleetScenario:
    def __init__(self, context, hosts, sizes, workdir):
        self.ctx = context
        self.host_count = hosts
        self.sizes = sizes
        self.workdir = workdir
        self.results = []  # {"key", "repeat", "seconds", "cpu"}
        self.tasks = {}  # size -> {"host": ok, "skipped": ..., "controller": ok}
        self.first = {}  # size -> seconds of the first rollout
        self.fleet = None
        self.inventories = {}
        self.ping_playbooks = {}
        self.ping_of = {}  # size -> the size whose ping playbook is its reference (the same tasks per host)

    def namespace(self, size):
        return "bench-%d" % size

    def host_vars(self, size, cli, checksum, registry):
        def for_host(host):
            number = int(host.name[1:])
            listeners = [{"name": "l-%04d" % index, "routing_key": "svc-%d-%d" % (number, index),
                          "host": "0.0.0.0", "port": 10000 + index} for index in range(size)]
            return {
                "skupper_site_platform": "linux",
                "skupper_site_name": host.name,
                "skupper_site_namespace": self.namespace(size),
                "skupper_site_cli_src": cli,
                "skupper_site_cli_checksum": checksum,
                "skupper_site_cli_path": "/var/lib/skupper/bin/skupper",
                "skupper_site_cli_environment": {"SKUPPER_DOUBLE_UNIT_DIR": "/var/lib/skupper/units",
                                                 "SKUPPER_DOUBLE_NETWORK_DIR": registry},
                "skupper_site_required_commands": ["python3"],
                "skupper_site_systemd": False,
                "skupper_network_listeners": listeners,
                "skupper_network_connectors": [{"name": "svc-%d" % number, "routing_key": "svc-%d" % number,
                                                "host": "127.0.0.1", "port": 9000}],
                "skupper_network_exclusive": True,
            }
        return for_host

    def inputs(self, size):
        """Every file under each host's input/ of the size's namespace: what an unchanged re-run must leave alone."""
        states = {}
        for host in self.fleet.hosts:
            folder = os.path.join(self.fleet.data_home(host.name), "namespaces", self.namespace(size), "input")
            states.update(file_states(folder))
        return states

    def rollout(self, size):
        report = os.path.join(self.workdir, "report-%d.json" % size)
        return self.ctx.playbooks.run(os.path.join(ROOT, "playbooks", "rollout.yml"), self.inventories[size],
                                      {"skupper_rollout_report": report}, env=FLEET_ENV)

    def count_tasks(self, run, size):
        hosts = [counts for host, counts in run["recap"].items() if host != CONTROLLER]
        controller = run["recap"].get(CONTROLLER, {})
        oks = sorted({counts["ok"] for counts in hosts})
        if len(hosts) != self.host_count or len(oks) != 1:
            raise BenchFailure("fleet %d: the rollout ran %s tasks on %d hosts (expected the same on %d)" % (
                size, oks, len(hosts), self.host_count))
        return {"host": oks[0], "skipped": median([counts.get("skipped", 0) for counts in hosts]),
                "controller": controller.get("ok", 0), "controller_skipped": controller.get("skipped", 0)}

    def ping_playbook(self, size):
        tasks = self.tasks[size]
        plays = [{"name": "As many pings as the rollout's tasks per host", "hosts": "skupper_sites",
                  "gather_facts": False,
                  "tasks": [{"name": "Ping %d" % index, "ansible.builtin.ping": {}} for index in range(tasks["host"])]}]
        if tasks["controller"]:
            plays.append({"name": "As many on the controller", "hosts": CONTROLLER, "connection": "local",
                          "gather_facts": False,
                          "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                          "tasks": [{"name": "Ping %d" % index, "ansible.builtin.ping": {}}
                                    for index in range(tasks["controller"])]})
        return write_yaml(os.path.join(self.workdir, "ping-%d.yml" % size), plays)

    def run(self, repeats):
        from tests.support.fleet import Fleet
        log("fleet: %d hosts, %s listeners per host, %d repeats" % (
            self.host_count, " and ".join(map(str, self.sizes)), repeats))
        os.makedirs(self.workdir)
        cli, checksum = build_cli(self.workdir)
        registry = os.path.join(self.workdir, "network")
        os.makedirs(registry)
        with Fleet(count=self.host_count, workdir=os.path.join(self.workdir, "fleet")) as fleet:
            self.fleet = fleet
            for size in self.sizes:
                self.inventories[size] = fleet.inventory(os.path.join(self.workdir, "inventory-%d.yml" % size),
                                                         extra_hostvars=self.host_vars(size, cli, checksum, registry))
                run = self.rollout(size)
                self.first[size] = run["seconds"]
                log("  first rollout, %d listeners per host: %.1f s" % (size, run["seconds"]))
            # The first repeat runs the re-runs first: they say how many ping tasks match them. When both
            # sizes ran as many tasks, one ping playbook is the reference of both.
            for repeat in range(repeats):
                contenders = [("rollout", size) for size in self.sizes]
                if self.tasks:
                    contenders += [("ping", size) for size in sorted(set(self.ping_of.values()))]
                shift = repeat % len(contenders)
                for kind, size in contenders[shift:] + contenders[:shift]:
                    if kind == "rollout":
                        run = self.checked_rerun(size, "repeat %d" % (repeat + 1))
                        tasks = self.count_tasks(run, size)
                        if size not in self.tasks:
                            self.tasks[size] = tasks
                            log("  re-run, %d listeners per host: %s" % (size, tasks))
                        elif tasks != self.tasks[size]:
                            raise BenchFailure("fleet %d: the re-run ran other tasks: %s" % (size, tasks))
                    else:
                        run = self.ctx.playbooks.run(self.ping_playbooks[size], self.inventories[size],
                                                     env=FLEET_ENV)
                    self.results.append({"key": (kind, size), "repeat": repeat, "seconds": run["seconds"],
                                         "cpu": run["cpu"]})
                    log("  repeat %d  %-8s %4d per host %7.2f s wall %7.2f s CPU" % (
                        repeat + 1, kind, size, run["seconds"], run["cpu"]))
                if repeat == 0:
                    for size in self.sizes:
                        same = [other for other in self.ping_of.values() if self.tasks[other] == self.tasks[size]]
                        self.ping_of[size] = same[0] if same else size
                        if self.ping_of[size] == size:
                            self.ping_playbooks[size] = self.ping_playbook(size)
                    for size in sorted(set(self.ping_of.values())):
                        # The first repeat's pings, after its rollouts.
                        run = self.ctx.playbooks.run(self.ping_playbooks[size], self.inventories[size],
                                                     env=FLEET_ENV)
                        self.results.append({"key": ("ping", size), "repeat": 0, "seconds": run["seconds"],
                                             "cpu": run["cpu"]})
                        log("  repeat 1  ping     %4d per host %7.2f s wall %7.2f s CPU" % (
                            size, run["seconds"], run["cpu"]))
            self.fleet = None

    def checked_rerun(self, size, tag):
        before = self.inputs(size)
        run = self.rollout(size)
        written = changed_files(before, self.inputs(size))
        if written or changed_tasks(run):
            self.ctx.violations.append("fleet %d per host, %s re-run: %d changed tasks, %d files written (%s)" % (
                size, tag, changed_tasks(run), len(written), ", ".join(written[:3])))
        return run

    # -- figures -------------------------------------------------------------------------

    def by_repeat(self, key, measure="seconds"):
        return {run["repeat"]: run[measure] for run in self.results if run["key"] == key}

    def ratios(self, key, ref, measure="seconds"):
        ours, theirs = self.by_repeat(key, measure), self.by_repeat(ref, measure)
        return [ours[r] / theirs[r] for r in ours if r in theirs]

    def report(self):
        small, large = self.sizes[0], self.sizes[-1]
        out = ["== 3. Fleet rollout: playbooks/rollout.yml over %d SSH hosts (system sites), unchanged re-run, forks %d"
               % (self.host_count, FORKS),
               "%-48s %8s %13s %8s %11s" % ("playbook", "wall s", "wall min-max", "CPU s", "tasks/host")]
        pings = sorted(set(self.ping_of.values()))
        for kind, size in [("rollout", size) for size in self.sizes] + [("ping", size) for size in pings]:
            walls = list(self.by_repeat((kind, size)).values())
            tasks = self.tasks[size]
            label = ("rollout re-run, %d listeners per host" % size if kind == "rollout"
                     else "ping playbook, as many tasks as the rollout")
            count = "%d" % tasks["host"] + (" +%d skip" % tasks["skipped"] if kind == "rollout" else "")
            out.append("%-48s %8.2f %13s %8.2f %11s" % (
                label, median(walls), "%.2f-%.2f" % (min(walls), max(walls)),
                median(self.by_repeat((kind, size), "cpu").values()), count))
        for size in self.sizes:
            tasks = self.tasks[size]
            out.append("  %d per host: per host %d tasks ok and %s skipped (recap of the re-run), on the controller "
                       "%d ok, %d skipped; first rollout %.1f s" % (size, tasks["host"], tasks["skipped"],
                                                                    tasks["controller"], tasks["controller_skipped"],
                                                                    self.first[size]))
        out.append("")
        out.append("ratios, median of the per-repeat ratios (range); wall, then CPU")
        rows = [("%d per host / %d per host" % (large, small), ("rollout", large), ("rollout", small))]
        rows += [("rollout %d / ping playbook, as many tasks" % size, ("rollout", size), ("ping", self.ping_of[size]))
                 for size in self.sizes]
        for label, key, ref in rows:
            out.append("  %-48s wall %-22s CPU %s" % (
                label, ratio_text(self.ratios(key, ref)), ratio_text(self.ratios(key, ref, "cpu"))))
        out.append("")
        out.append("targets (median ratios, wall and CPU; the hosts' own CPU is not in CPU: wall is the one here)")
        key, ref = ("rollout", large), ("rollout", small)
        out.append("  %d listeners per host cost <= 1.3x %d per host: %s" % (
            large, small, target_pair(self.ratios(key, ref), self.ratios(key, ref, "cpu"), 1.3)))
        for size in self.sizes:
            key, ref = ("rollout", size), ("ping", self.ping_of[size])
            out.append("  rollout (%d per host) <= 1.5x the ping playbook with as many tasks: %s" % (
                size, target_pair(self.ratios(key, ref), self.ratios(key, ref, "cpu"), 1.5)))
        return out
