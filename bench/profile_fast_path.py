"""Where the fast path's time goes: the listener module's main() called in this process, as the fast
path calls it in Ansible's worker (plugins/plugin_utils/fast_path.py: ControllerModule), against the
Kubernetes API test double, with no Ansible task around it.

  python bench/profile_fast_path.py [--items 30] [--list-items 1000] [--top 25]

It prints the milliseconds of one loop item (one main() call for one listener: first a create, then
unchanged) and of the list form of --list-items listeners, then a cProfile of the unchanged calls
(cumulative time, --top functions). What a loop item costs in a playbook beyond this is Ansible's:
compare with bench/run.py's per-item figures.
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import COLLECTIONS, ROOT, ensure_collection_link, listener_items, reexec_in_venv  # noqa: E402


def main():
    reexec_in_venv(__file__)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--items", type=int, default=30, help="single-listener calls (default 30)")
    parser.add_argument("--list-items", type=int, default=1000, help="listeners of the list form (default 1000)")
    parser.add_argument("--top", type=int, default=25, help="functions shown per profile (default 25)")
    args = parser.parse_args()
    ensure_collection_link()
    sys.path.insert(0, ROOT)
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    _AnsibleCollectionFinder(paths=[COLLECTIONS])._install()
    from ansible_collections.skupperlabs.network.plugins.plugin_utils.fast_path import ControllerModule, ModuleExit
    from tests.support.kube_api_double import KubeApiDouble

    started = time.perf_counter()
    from ansible_collections.skupperlabs.network.plugins.modules import listener
    import_ms = 1000 * (time.perf_counter() - started)

    double = KubeApiDouble().start()
    try:
        kubeconfig = double.write_kubeconfig(os.path.join(tempfile.mkdtemp(prefix="bench-profile-"), "kubeconfig"))
        double.create_namespace("profile")
        double.create_namespace("profile-list")

        def call(arguments):
            def module_class(**kwargs):
                return ControllerModule(arguments=arguments, name="skupperlabs.network.listener", **kwargs)
            try:
                listener.main(module_class=module_class)
            except ModuleExit as exit_:
                if exit_.result.get("failed"):
                    raise RuntimeError(str(exit_.result.get("msg"))[:2000])
                return exit_.result
            raise RuntimeError("main() returned without exit_json")

        def one(item):
            return dict(item, kubeconfig=kubeconfig, namespace="profile")

        items = listener_items(args.items, "profile")
        timings = {}
        for phase in ("create", "unchanged"):
            values = []
            for item in items:
                begin = time.perf_counter()
                call(one(item))
                values.append(1000 * (time.perf_counter() - begin))
            timings[phase] = values
        profile = cProfile.Profile()
        profile.enable()
        for item in items:
            call(one(item))
        profile.disable()

        many = listener_items(args.list_items, "profile-list")
        list_ms = {}
        for phase in ("create", "unchanged"):
            begin = time.perf_counter()
            call({"kubeconfig": kubeconfig, "namespace": "profile-list", "listeners": many})
            list_ms[phase] = 1000 * (time.perf_counter() - begin)
        list_profile = cProfile.Profile()
        list_profile.enable()
        call({"kubeconfig": kubeconfig, "namespace": "profile-list", "listeners": many})
        list_profile.disable()
    finally:
        double.stop()

    print("listener module in this process (the fast path's ControllerModule), API double on 127.0.0.1")
    print("  import of the module (and the engine it imports): %.0f ms" % import_ms)
    for phase, values in timings.items():
        print("  one listener per main() call, %-9s: median %.1f ms, first %.1f ms, min %.1f ms, max %.1f ms (%d calls)"
              % (phase, statistics.median(values), values[0], min(values), max(values), len(values)))
    for phase, value in list_ms.items():
        print("  list form of %d, %-9s: %.0f ms (%.2f ms per listener)" % (
            args.list_items, phase, value, value / args.list_items))
    for title, prof in (("%d unchanged single-listener calls" % args.items, profile),
                        ("the unchanged list form of %d" % args.list_items, list_profile)):
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(args.top)
        print("\ncProfile of %s (cumulative):" % title)
        print("\n".join(line for line in text.getvalue().splitlines() if line.strip())[:12000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
