"""The system-site namespace lock: concurrent module processes on a brand-new namespace.

Each writer is a real Python process running a module's main as Ansible runs it on the managed
host (the module file with its arguments in {"ANSIBLE_MODULE_ARGS": ...}), all released at once
through a start gate, so they race for the first read of a namespace whose folder does not exist.
"""

import json
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
MODULES = "ansible_collections.skupperlabs.network.plugins.modules."
LOCK_FOLDER = ".skupperlabs.network.lock.d"

# Imports the module and everything it uses (so the race is not spread out by import times), waits
# for the gate file, then runs the module as Ansible would (python module.py args.json). A slow disk
# is simulated by a pause before each file is created (SLOW_CREATE_SECONDS), so the time between a
# writer's read and its write is long enough for every racer to read first when nothing keeps them
# apart: without a lock taken before the first read, several of them win.
GATED_MODULE = """
import importlib, os, runpy, sys, time
gate, module, args, slow = sys.argv[1:5]
importlib.import_module(module)
system_site = importlib.import_module("ansible_collections.skupperlabs.network.plugins.module_utils.system_site")
create = system_site.SystemSiteBackend.create
def slow_create(*args, **kwargs):
    time.sleep(float(slow))
    return create(*args, **kwargs)
system_site.SystemSiteBackend.create = slow_create
while not os.path.exists(gate):
    time.sleep(0.001)
sys.argv = [module, args]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def module_env(extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = COLLECTIONS + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


def parse_output(process):
    """The module's JSON answer; anything else (a traceback) fails the test with what was printed."""
    try:
        return json.loads(process.stdout)
    except ValueError:
        raise AssertionError("not a module answer (rc %s):\n%s\n%s"
                             % (process.returncode, process.stdout, process.stderr))


def run_module(module, args, workdir, env=None, timeout=120):
    """One module process, as Ansible runs it; its JSON answer."""
    path = os.path.join(str(workdir), "args-%s.json" % time.monotonic_ns())
    with open(path, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    process = subprocess.run([sys.executable, "-m", MODULES + module, path], capture_output=True, text=True,
                             env=module_env(env), timeout=timeout, check=False)
    return parse_output(process)


SLOW_CREATE_SECONDS = 1.0


def race(module, many_args, workdir, slow_create=SLOW_CREATE_SECONDS):
    """Start one process per argument set, release them together, and return their answers."""
    gate = os.path.join(str(workdir), "gate-%s" % time.monotonic_ns())
    processes = []
    for index, args in enumerate(many_args):
        path = os.path.join(str(workdir), "race-%s-%d.json" % (os.path.basename(gate), index))
        with open(path, "w") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
        processes.append(subprocess.Popen([sys.executable, "-c", GATED_MODULE, gate, MODULES + module, path,
                                           str(slow_create)],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          env=module_env()))
    time.sleep(2)  # every process imported Python and waits at the gate
    open(gate, "w").close()
    answers = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=180)
        answers.append(parse_output(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)))
    return answers


def listener_files(data_home, namespace):
    folder = os.path.join(str(data_home), "namespaces", namespace, "input", "resources")
    return sorted(name for name in os.listdir(folder) if name.endswith(".yaml"))


@pytest.mark.parametrize("round_number", range(5))
def test_twenty_writers_of_one_host_and_port_to_a_new_namespace_leave_exactly_one(tmp_path, round_number):
    # Round 0 starts without a data home at all; the others in a data home that has other namespaces.
    data_home = tmp_path / "data"
    if round_number:
        (data_home / "namespaces" / "other" / "input" / "resources").mkdir(parents=True)
    namespace = "fresh%d" % round_number
    writers = [{"platform": "linux", "data_home": str(data_home), "namespace": namespace,
                "name": "writer-%02d" % index, "routing_key": "writer-%02d" % index, "host": "0.0.0.0",
                "port": 9090} for index in range(20)]
    answers = race("listener", writers, tmp_path)
    winners = [answer for answer in answers if answer.get("changed") and not answer.get("failed")]
    losers = [answer for answer in answers if answer.get("failed")]
    assert len(winners) == 1, [answer.get("msg") for answer in answers]
    assert len(losers) == 19
    for loser in losers:
        assert "9090" in loser["msg"] and "nothing was written" in loser["msg"], loser["msg"]
    assert listener_files(data_home, namespace) == ["Listener-%s.yaml" % winners[0]["name"]]
    # The lock lives beside namespaces/, where `skupper system uninstall` and the loader never look.
    assert os.listdir(str(data_home / LOCK_FOLDER)) == [namespace + ".lock"]
    expected = [namespace] + (["other"] if round_number else [])
    assert sorted(os.listdir(str(data_home / "namespaces"))) == sorted(expected)


def test_check_mode_and_reads_of_a_new_namespace_create_nothing(tmp_path):
    """The lock file is created by the first write only: check mode writes nothing, not even the lock."""
    data_home = tmp_path / "data"
    args = {"platform": "linux", "data_home": str(data_home), "namespace": "new", "name": "a", "routing_key": "a",
            "host": "a", "port": 1, "_ansible_check_mode": True}
    answer = run_module("listener", args, tmp_path)
    assert answer["changed"] is True and answer["action"] == "create"
    info = run_module("listener_info", {"platform": "linux", "data_home": str(data_home), "namespace": "new"},
                      tmp_path)
    assert info.get("failed") is not True and info["listeners"] == []
    assert not data_home.exists()


def test_a_writer_waits_while_another_holds_the_lock_of_a_namespace_not_created_yet(tmp_path):
    """The lock file exists once a namespace was written; a holder of it keeps the next writer out."""
    import fcntl

    data_home = tmp_path / "data"
    base = {"platform": "linux", "data_home": str(data_home), "namespace": "held", "routing_key": "a", "host": "a"}
    first = run_module("listener", dict(base, name="first", port=1), tmp_path)
    assert first["changed"] is True
    lock_path = str(data_home / LOCK_FOLDER / "held.lock")
    holder = os.open(lock_path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        args = tmp_path / "second.json"
        args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(base, name="second", port=2)}))
        process = subprocess.Popen([sys.executable, "-m", MODULES + "listener", str(args)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=module_env())
        time.sleep(3)
        assert process.poll() is None, "finished while another process held the namespace lock"
        assert listener_files(data_home, "held") == ["Listener-first.yaml"]
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    stdout, stderr = process.communicate(timeout=60)
    assert json.loads(stdout)["changed"] is True, stderr
    assert listener_files(data_home, "held") == ["Listener-first.yaml", "Listener-second.yaml"]
