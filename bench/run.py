"""Speed benchmark of skupperlabs.network: whole ansible-playbook runs, side by side, in one command.

Scenarios (all by default, in this order; --scenarios picks some):

  loop    a loop of N skupperlabs.network.listener tasks (--loop-items, 30) on Kubernetes (the API test
          double), on the fast path, on the module path (SKUPPERLABS_NETWORK_FAST_PATH=0) and with the
          collection as it was before the fast path, against a loop of N ansible.builtin.ping and a
          loop of N kubernetes.core.k8s; create, then an unchanged re-run
  list    the list form, `listeners: [...]` of N items in one task (--list-items, 1000), on both paths,
          against one kubernetes.core.k8s task given the same N definitions
  memory  peak RSS of the module process (module path) and of the worker process (fast path) for the
          list form of --list-items listeners
  fleet   playbooks/rollout.yml over an SSH fleet (--fleet-hosts, 20; --fleet-sizes, 5,500 listeners per
          host), unchanged re-runs, against a playbook of as many ping tasks per host (needs root)

Within a scenario the contenders are interleaved: each repeat (--repeats, 3) runs every one of them,
in an order rotated from one repeat to the next, and ratios are taken per repeat (runs made side by
side), then their median. Per-item cost is (t(N) - t(empty loop)) / N with the empty loop of the same
repeat: Ansible's start-up cancels out.

This is not a test and is not part of ./scripts/test: it prints figures, ratios and the targets they
are measured against. It exits 1 when a playbook run fails or when this collection writes anything
on an unchanged re-run, and 0 otherwise, targets reached or not.

Usage (from the checkout, after ./scripts/test or ./scripts/quickstart made .venv):

  python bench/run.py      # every scenario, the fleet last: 40 to 70 minutes on a busy 2-core machine
  python bench/run.py --scenarios loop,list --repeats 5 --loop-items 30 --list-items 1000
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (BENCH_REQUIREMENTS, COLLECTIONS, ROOT, BenchFailure, commit_before_fast_path,  # noqa: E402
                     ensure_collection_link, export_collection, kubernetes_core, log, machine_load, package_version,
                     reexec_in_venv, Playbooks)

# In the order they run: the fleet, the longest, last.
ALL_SCENARIOS = ("loop", "list", "memory", "fleet")
# What docs/benchmarks.md measured before the fast path (N=20, module path): the reference for "no regression".
DOCS_FIGURES_BEFORE = "loop ~435 ms/item, kubernetes.core.k8s loop ~465 ms/item, N=20"


class Context:
    """What the scenarios share: the work folder, the API double, the ansible-playbook runner."""

    def __init__(self, workdir, double, collection_paths):
        self.workdir = workdir
        self.double = double
        self.kubeconfig = double.write_kubeconfig(os.path.join(workdir, "kubeconfig"))
        self.playbooks = Playbooks(workdir, collection_paths)
        self.inventory = self.playbooks.inventory("inventory")
        self.violations = []


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--scenarios", default=",".join(ALL_SCENARIOS),
                        help="comma-separated subset of %s (default: all)" % ",".join(ALL_SCENARIOS))
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats per scenario (default 3)")
    parser.add_argument("--loop-items", type=int, default=30, help="items of the loop scenario (default 30)")
    parser.add_argument("--list-items", type=int, default=1000,
                        help="items of the list and memory scenarios (default 1000)")
    parser.add_argument("--fleet-hosts", type=int, default=20, help="SSH hosts of the fleet scenario (default 20)")
    parser.add_argument("--fleet-sizes", default="5,500",
                        help="listeners per host of the fleet scenario, small,large (default 5,500)")
    parser.add_argument("--before", metavar="COMMIT",
                        help="the collection to compare the module path with (default: the commit before "
                        "plugins/plugin_utils/fast_path.py was added; 'none' leaves it out)")
    parser.add_argument("--setup", action="store_true",
                        help="install kubernetes.core first when it is missing (pip install %s into "
                        ".build/bench-venv)" % " ".join("'%s'" % r for r in BENCH_REQUIREMENTS))
    parser.add_argument("--json", metavar="PATH", help="also write every run's figures to PATH")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (playbooks, inventories)")
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(ALL_SCENARIOS)
    if unknown:
        parser.error("unknown scenarios: %s" % ", ".join(sorted(unknown)))
    try:
        args.fleet_sizes = sorted(int(size) for size in args.fleet_sizes.split(","))
    except ValueError:
        parser.error("--fleet-sizes takes two numbers, as 5,500")
    if len(args.fleet_sizes) != 2 or args.fleet_sizes[0] < 1:
        parser.error("--fleet-sizes takes two positive numbers, as 5,500")
    if args.loop_items < 2 or args.list_items < 2 or args.repeats < 1 or args.fleet_hosts < 1:
        parser.error("--*-items must be at least 2, --repeats and --fleet-hosts at least 1")
    return args


def header(args, versions, skipped):
    out = ["skupperlabs.network benchmark: medians of %d interleaved repeats" % args.repeats,
           "  host: %s; Python %s (%s)" % (platform.platform(terse=True), platform.python_version(), sys.executable),
           "  %s" % ", ".join("%s %s" % item for item in versions.items()),
           "  API server: KubeApiDouble on 127.0.0.1, plain HTTP, in the benchmark process; Ansible defaults "
           "(forks 5, no pipelining on localhost)"]
    for what, why in skipped.items():
        out.append("  %s SKIPPED: %s" % (what, why))
    return out


def main(argv=None):
    reexec_in_venv(__file__)
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
    import fleet as fleet_bench
    import kube

    started = time.monotonic()
    versions = {"ansible-core": ansible.release.__version__, "kubernetes client": package_version("kubernetes")}
    skipped = {}
    k8s_collections = None
    if {"loop", "list"} & set(args.scenarios):
        k8s_collections, why = kubernetes_core(args.setup, versions)
        if why:
            skipped["kubernetes.core comparisons"] = why
    fleet_ok = True
    if "fleet" in args.scenarios:
        from tests.support.fleet import fleet_available
        fleet_ok, why = fleet_available()
        if not fleet_ok:
            skipped["fleet scenario"] = why

    workdir = tempfile.mkdtemp(prefix="skupperlabs-bench-")
    extra_paths = [k8s_collections] if k8s_collections else []
    before = None
    commit = args.before or commit_before_fast_path()
    if "loop" in args.scenarios and commit and commit != "none":
        before = {"commit": commit,
                  "collections": os.pathsep.join([export_collection(commit, os.path.join(workdir, "before"))]
                                                 + extra_paths)}
        versions["before the fast path"] = commit
    elif "loop" in args.scenarios and commit != "none":
        skipped["the collection before the fast path"] = "no git history with plugins/plugin_utils/fast_path.py"

    double = KubeApiDouble().start()
    figures, failure, loads = {}, None, []
    context = Context(workdir, double, [COLLECTIONS] + extra_paths)
    log("work folder %s, API double at %s, %s" % (workdir, double.url, machine_load()))
    # Each scenario's report is printed as soon as it ends: a failure later keeps what was measured.
    print("\n".join(header(args, versions, skipped)), flush=True)

    def done(name, report):
        loads.append("%s: %s" % (name, machine_load()))
        print("\n" + "\n".join(report + ["(%s, %.0f s into the run)" % (loads[-1], time.monotonic() - started)]),
              flush=True)

    try:
        if "loop" in args.scenarios:
            scenario = kube.loop_scenario(context, args.loop_items, k8s_collections is not None, before)
            scenario.run(args.repeats)
            figures["loop"] = scenario.results
            done("loop", kube.loop_report(scenario, DOCS_FIGURES_BEFORE))
        if "list" in args.scenarios:
            scenario = kube.list_scenario(context, args.list_items, k8s_collections is not None)
            scenario.run(args.repeats)
            figures["list"] = scenario.results
            done("list", kube.list_report(scenario))
        if "memory" in args.scenarios:
            memory = kube.memory_scenario(context, args.list_items)
            figures["memory"] = {" ".join(key) if isinstance(key, tuple) else key: value
                                 for key, value in memory.items()}
            done("memory", kube.memory_report(memory))
        if "fleet" in args.scenarios and fleet_ok:
            scenario = fleet_bench.FleetScenario(context, args.fleet_hosts, args.fleet_sizes,
                                                 os.path.join(workdir, "fleet-bench"))
            scenario.run(args.repeats)
            figures["fleet"] = {"runs": [dict(run, key="%s-%d" % run["key"]) for run in scenario.results],
                                "tasks": {str(size): tasks for size, tasks in scenario.tasks.items()}}
            done("fleet", scenario.report())
    except BenchFailure as exc:
        failure = str(exc)
    finally:
        double.stop()
        if args.keep:
            log("kept the work folder %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print("\n(the benchmark took %.0f s; machine load at the end of each scenario: %s)" % (
        time.monotonic() - started, "; ".join(loads) or "-"))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "versions": versions, "skipped": skipped, "figures": figures,
                       "violations": context.violations, "failure": failure}, handle, indent=2, default=str)
    if failure:
        log("FAIL: %s" % failure)
    if context.violations:
        log("FAIL: this collection wrote on an unchanged re-run:\n  " + "\n  ".join(context.violations))
    return 1 if failure or context.violations else 0


if __name__ == "__main__":
    sys.exit(main())
