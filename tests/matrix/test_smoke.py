"""The smoke of the version matrix (scripts/matrix): what a user does first, on each ansible-core release.

Real ansible-playbook runs of the cell's ansible-core: a listener on both back ends and on both of the
modules' paths (the controller-side fast path and, with SKUPPERLABS_NETWORK_FAST_PATH=0, the module in
its own interpreter), a multi-key listener on both back ends, the info modules reading them back, and the
quickstart. The full suites (tests/unit, tests/integration) run on the default ansible-core.
"""

import json
import os

import pytest
import yaml

from tests.integration.test_playbooks import assert_unchanged, namespace_home, path_without_skupper
from tests.support.playbook import merged, run_playbook
from tests.support.sites import MANAGED

LISTENER = "skupperlabs.network.listener"
SEED = {"name": "backend", "routing_key": "backend", "host": "backend", "port": 8080}
WEIGHTED = {"name": "mkl-backend", "host": "mkl-backend", "port": 9092,
            "strategy": {"weighted": {"routing_keys": {"east-backend": 1, "west-backend": 3}}}}

# What -vvv prints for each path (plugins/plugin_utils/fast_path.py): the test checks the path it asked for ran.
PATHS = {
    "fast path": ({"SKUPPERLABS_NETWORK_FAST_PATH": "1"}, "skupperlabs.network fast path: %s runs in the controller's worker process"),
    "module path": ({"SKUPPERLABS_NETWORK_FAST_PATH": "0"}, "skupperlabs.network module path for %s: "),
}


def task(module, site, **options):
    args = dict(site.args)
    args.update(options)
    return {"skupperlabs.network." + module: args}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_listener_create_read_rerun_delete(site, runner, path):
    env, announced = PATHS[path]

    def run(*tasks):
        result = runner.run(*tasks, env=env, extra_args=("-vvv",))
        assert announced % LISTENER in result.stdout, "the %s ran" % path
        return result

    created, read = run(task("listener", site, **SEED), task("listener_info", site, name="backend")).results
    assert created["changed"] is True and created["action"] == "create", created
    stored = site.read("Listener", "backend")
    assert stored["spec"] == {"routingKey": "backend", "host": "backend", "port": 8080}
    assert stored["metadata"]["labels"] == MANAGED
    entry, = read["listeners"]
    assert (entry["name"], entry["routing_key"], entry["host"], entry["port"]) == ("backend", "backend", "backend", 8080)
    assert read["changed"] is False

    before = site.snapshot()
    again = run(task("listener", site, **SEED))[0]
    assert again["changed"] is False and again["action"] == "none", again
    assert site.snapshot() == before, "an unchanged run writes nothing"

    deleted = run(task("listener", site, name="backend", state="absent"))[0]
    assert deleted["changed"] is True, deleted
    assert site.read("Listener", "backend") is None


def test_multikeylistener_create_read_rerun(site, runner):
    created, read = runner.run(task("multikeylistener", site, **WEIGHTED),
                               task("multikeylistener_info", site, routing_key="west-backend")).results
    assert created["changed"] is True and created["action"] == "create", created
    stored = site.read("MultiKeyListener", "mkl-backend")
    assert stored["spec"] == {"host": "mkl-backend", "port": 9092,
                              "strategy": {"weighted": {"routingKeys": {"east-backend": 1, "west-backend": 3}}}}
    entry, = read["multikeylisteners"]
    assert entry["name"] == "mkl-backend"
    assert entry["strategy"] == {"weighted": {"routing_keys": {"east-backend": 1, "west-backend": 3}}}

    before = site.snapshot()
    # Weighted keys written in another order are no change.
    reordered = merged(WEIGHTED, strategy={"weighted": {"routing_keys": {"west-backend": 3, "east-backend": 1}}})
    again = runner.run(task("multikeylistener", site, **reordered))[0]
    assert again["changed"] is False, again
    assert site.snapshot() == before


def test_quickstart_declares_the_network_and_reruns_unchanged(runner, tmp_path):
    home = tmp_path / "quickstart"
    # As from a user's shell: no Skupper CLI, and no interpreter chosen for Ansible.
    env = {"PATH": path_without_skupper(runner.env), "ANSIBLE_PYTHON_INTERPRETER": None}

    def quickstart():
        return run_playbook(runner, "playbooks/quickstart.yml", "localhost,", "-e",
                            "skupper_quickstart_home=%s" % home, env=env)

    first = quickstart()
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    west = namespace_home(home, "hello-world-west") / "input" / "resources"
    listener = yaml.safe_load((west / "Listener-backend.yaml").read_text())
    assert listener["spec"] == {"routingKey": "backend", "host": "backend", "port": 8080}
    assert os.path.exists(str(namespace_home(home, "hello-world-east") / "input" / "resources" / "Connector-backend.yaml"))
    report = json.loads((home / "skupper-fleet-report.json").read_text())
    assert report["failed_hosts"] == []
    assert report["networks"] == [["east/hello-world-east", "west/hello-world-west"]]
    assert report["unreachable_routing_keys"] == []

    assert_unchanged(quickstart())
