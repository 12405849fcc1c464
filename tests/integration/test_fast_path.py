"""The fast path (plugins/plugin_utils/fast_path.py) and the module path give the same outcome.

The same tasks run twice through real ansible-playbook processes, once on each path (the switch:
SKUPPERLABS_NETWORK_FAST_PATH), from the same starting state: the registered results and the whole
default output (results, diffs, warnings, errors, no_log) must be equal. Then each case that must
take the module path is run, and -vvv says which path ran and why: the switch, become, async,
another interpreter, interpreter discovery, a task environment with other variables, and a remote
host over real SSH (with a task delegated back to the controller, which takes the fast path).

The whole suite also runs on the module path (./scripts/test --module-path), so every other test
checks both paths as well.
"""

import os
import re
import shutil

import pytest

from tests.integration.test_links import static_link
from tests.support.playbook import merged, run_playbook

MODULES = "skupperlabs.network."
FAST = "skupperlabs.network fast path: "
MODULE_PATH = "skupperlabs.network module path for "
SEED = {"name": "backend", "routing_key": "backend", "host": "backend", "port": 8080}
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields")


def task(module, site, **options):
    return {MODULES + module: dict(site.args, **options)}


def on_path(fast):
    return {"SKUPPERLABS_NETWORK_FAST_PATH": "1" if fast else "0"}


def without_server_fields(value):
    """Results without what the API server sets anew on each run (uid, resourceVersion, ...)."""
    if isinstance(value, dict):
        return dict((k, without_server_fields(v)) for k, v in value.items() if k not in SERVER_FIELDS)
    if isinstance(value, list):
        return [without_server_fields(v) for v in value]
    return value


def output_lines(text):
    """The output without server-set fields and without the playbook's file name (one per run)."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r'"(%s)": [^,}\n]*' % "|".join(SERVER_FIELDS), r'"\1": _', line)
        lines.append(re.sub(r"playbook-\d+\.yml", "playbook.yml", line))
    return lines


def scenario(site, definition):
    """Tasks that cover what a user sees: create, unchanged, check and diff, the list form, each module
    family, a link's hidden Secret, a kept unmodelled field's warning, no_log, and each kind of refusal."""
    return [
        task("listener", site, **SEED),
        task("listener", site, **SEED),
        merged(task("listener", site, **merged(SEED, port=8081)), check_mode=True, diff=True),
        task("listener", site, listeners=[{"name": "l1", "routing_key": "k1", "host": "h1", "port": 1},
                                          {"name": "l2", "routing_key": "k2", "host": "h2", "port": 2}]),
        task("listener", site, listeners=[{"name": "l3", "routing_key": "k3", "host": "h3", "port": 3},
                                          {"name": "Bad", "port": 0}]),
        task("listener", site, name="odd", routing_key="odd", host="odd", port=9090),
        merged(task("listener", site, name="quiet", routing_key="q", host="quiet-secret-host", port=0), no_log=True),
        task("listener", site, name="x", colour="red"),
        task("listener", site, name="x", port="eighty"),
        task("multikeylistener", site, name="mk", host="mk", port=7070, strategy={"priority": {}},
             routing_keys=["k1", "k2"]),
        task("connector", site, name="backend", routing_key="backend", host="10.0.0.5" if site.platform != "kubernetes"
             else "backend.example", port=8080),
        merged(task("link", site, name="west", definition=definition), diff=True),
        task("listener_info", site),
        task("link_info", site),
        task("listener", site, name="backend", state="absent"),
    ]


def reset(site, fresh_state):
    """The starting state of each run: empty, with one Listener that holds a field the module does not model."""
    if site.platform == "kubernetes":
        for kind in ("Listener", "MultiKeyListener", "Connector", "Link"):
            for name in site.names(kind):
                site.target.custom.delete_namespaced_custom_object(
                    "skupper.io", "v2alpha1", site.namespace, site_plural(kind), name)
        for secret in site.target.core.list_namespaced_secret(site.namespace).items:
            site.target.core.delete_namespaced_secret(secret.metadata.name, site.namespace)
    else:
        shutil.rmtree(site.data_home, ignore_errors=True)
    fresh_state()


def site_plural(kind):
    from tests.support.sites import PLURALS
    return PLURALS[kind]


def test_both_paths_give_the_same_results_output_and_state(site, runner):
    definition, _data, _plain = static_link()

    def fresh_state():
        site.put("Listener", "odd", {"routingKey": "odd", "host": "odd", "port": 9090, "futureField": "kept"})

    # Each run below takes the path it names (a read-only task at -vvv says which), so the comparison is
    # of the two paths and not of one path with itself.
    for fast in (True, False):
        probe = runner.run(task("listener_info", site), env=on_path(fast), extra_args=["-vvv"])
        assert path_taken(probe) == [FAST + "skupperlabs.network.listener_info runs in the controller's worker process"
                                     if fast else MODULE_PATH + "skupperlabs.network.listener_info: "
                                     "skupperlabs_network_fast_path is off"]

    runs = {}
    for fast in (True, False):
        reset(site, fresh_state)
        run = runner.run(*scenario(site, definition), env=on_path(fast))
        state = dict((kind, dict((name, without_server_fields(site.read(kind, name))) for name in site.names(kind)))
                     for kind in ("Listener", "MultiKeyListener", "Connector", "Link"))
        runs[fast] = (without_server_fields(run.results), output_lines(run.stdout), output_lines(run.stderr), state)
    fast_results, fast_output, fast_errors, fast_state = runs[True]
    module_results, module_output, module_errors, module_state = runs[False]
    for index, (on_fast, on_module) in enumerate(zip(fast_results, module_results)):
        assert on_fast == on_module, "task %d differs" % index
    assert fast_output == module_output
    assert fast_errors == module_errors  # warnings go to stderr
    assert fast_state == module_state

    # And the scenario shows what it is meant to: a kept field's warning, no_log, refusals, a hidden Secret.
    if site.platform != "kubernetes":  # the API server prunes a field its CRD does not know
        assert "[WARNING]: Listener default/odd: kept spec field this module does not manage: futureField" in fast_errors
    censored = [line for line in fast_output if "the output has been hidden" in line]
    assert len(censored) == 1 and "quiet-secret-host" not in "\n".join(fast_output + fast_errors)
    assert fast_results[7]["failed"] and "Unsupported parameters" in fast_results[7]["msg"]
    assert fast_results[8]["failed"] and "port" in fast_results[8]["msg"]
    assert fast_results[4]["failed"] and "listeners[1]" in fast_results[4]["msg"]
    assert fast_results[11]["diff"][0]["after"]["data"]["tls.key"] == "(hidden)"
    assert [r["changed"] for r in fast_results[:3]] == [True, False, True]


def listener_file(system_site, name="backend"):
    return system_site.read("Listener", name)


def path_taken(run):
    """The fast-path or module-path lines of a -vvv run, in task order."""
    return [line for line in run.stdout.splitlines() if line.startswith((FAST, MODULE_PATH))]


@pytest.mark.parametrize("how", ["variable", "environment"])
def test_the_switch_forces_the_module_path(system_site, runner, how):
    if how == "variable":
        run = runner.run(task("listener", system_site, **SEED), env=on_path(True),
                         extra_args=["-vvv", "-e", "skupperlabs_network_fast_path=false"])
    else:
        run = runner.run(task("listener", system_site, **SEED), env=on_path(False), extra_args=["-vvv"])
    assert path_taken(run) == [MODULE_PATH + "skupperlabs.network.listener: skupperlabs_network_fast_path is off"]
    assert run[0]["changed"] is True and listener_file(system_site)["spec"]["port"] == 8080
    again = runner.run(task("listener", system_site, **SEED), env={"SKUPPERLABS_NETWORK_FAST_PATH": None},
                       extra_args=["-vvv"])
    assert path_taken(again) == [FAST + "skupperlabs.network.listener runs in the controller's worker process"]
    assert again[0]["changed"] is False


def test_a_switch_that_is_no_boolean_fails_the_task_and_writes_nothing(system_site, runner):
    run = runner.run(task("listener", system_site, **SEED), extra_args=["-e", "skupperlabs_network_fast_path=sometimes"])
    assert run[0]["failed"] is True
    assert "skupperlabs_network_fast_path (or SKUPPERLABS_NETWORK_FAST_PATH) must be a boolean" in run[0]["msg"]
    assert not os.path.exists(system_site.data_home)


def test_become_takes_the_module_path(system_site, runner):
    if os.geteuid() != 0 or not shutil.which("su"):
        pytest.skip("needs root and su: become to root without a password")
    run = runner.run(merged(task("listener", system_site, **SEED), become=True, become_method="su", become_user="root"),
                     env=on_path(True), extra_args=["-vvv"])
    assert path_taken(run) == [MODULE_PATH + "skupperlabs.network.listener: become is set: the module runs as another user"]
    assert run[0]["changed"] is True and listener_file(system_site) is not None


def test_async_takes_the_module_path(system_site, runner):
    run = runner.run(merged(task("listener", system_site, **SEED), **{"async": 60, "poll": 1}),
                     env=on_path(True), extra_args=["-vvv"])
    assert path_taken(run)[0] == MODULE_PATH + "skupperlabs.network.listener: async is set"
    assert run[0]["changed"] is True and run[0]["finished"] == 1
    assert listener_file(system_site)["spec"]["routingKey"] == "backend"


def test_another_interpreter_takes_the_module_path_and_its_outcome(kube_site, runner):
    """The system Python has no kubernetes client: the module path's answer (missing library), not the fast path's."""
    other = "/usr/bin/python3"
    if not os.path.exists(other) or os.path.realpath(other) == os.path.realpath(os.sys.executable):
        pytest.skip("needs a Python other than the controller's at /usr/bin/python3")
    run = runner.run(merged(task("listener", kube_site, **SEED), vars={"ansible_python_interpreter": other}),
                     merged(task("listener", kube_site, **SEED),
                            vars={"ansible_python_interpreter": "{{ ansible_playbook_python }}"}),
                     env=on_path(True), extra_args=["-vvv"])
    first, second = path_taken(run)
    assert first.startswith(MODULE_PATH + "skupperlabs.network.listener: the host's Python is /usr/bin/python3")
    assert second == FAST + "skupperlabs.network.listener runs in the controller's worker process"
    if _has_kubernetes(other):
        pytest.skip("/usr/bin/python3 has the kubernetes client: no different outcome to show")
    assert run[0]["failed"] is True and "Failed to import the required Python library (kubernetes)" in run[0]["msg"]
    assert run[1]["changed"] is True and kube_site.read("Listener", "backend") is not None


def _has_kubernetes(python):
    import subprocess
    return subprocess.run([python, "-c", "import kubernetes"], capture_output=True, check=False).returncode == 0


def test_interpreter_discovery_takes_the_module_path_until_it_is_known(system_site, runner):
    # Discovery takes the first of these it finds (a pyenv shim found first may be broken).
    fallback = {"vars": {"ansible_interpreter_python_fallback": ["/usr/bin/python3", os.sys.executable]}}
    listener = merged(task("listener", system_site, **SEED), **fallback)
    run = runner.run(listener, listener, env=dict(on_path(True), ANSIBLE_PYTHON_INTERPRETER="auto_silent"),
                     extra_args=["-vvv"])
    first, second = path_taken(run)
    assert first == MODULE_PATH + ("skupperlabs.network.listener: the host's Python interpreter is not known yet "
                                   "(interpreter discovery)")
    assert run[0]["changed"] is True and run[1]["changed"] is False
    discovered = run[0]["ansible_facts"]["discovered_interpreter_python"]
    if os.path.abspath(discovered) == os.path.abspath(os.sys.executable):
        assert second.startswith(FAST)
    else:
        assert second == MODULE_PATH + "skupperlabs.network.listener: the host's Python is %s, not the " \
            "controller's %s" % (discovered, os.sys.executable)


def test_a_task_environment_is_applied_or_takes_the_module_path(tmp_path, runner):
    data_home = str(tmp_path / "from-environment")
    listener = {MODULES + "listener": dict(SEED, data_home=data_home)}  # no platform: SKUPPER_PLATFORM decides
    run = runner.run(merged(listener, environment={"SKUPPER_PLATFORM": "linux"}),
                     merged(listener, environment={"SKUPPER_PLATFORM": "linux", "PYTHONWARNINGS": "ignore"}),
                     env=dict(on_path(True), SKUPPER_PLATFORM=None), extra_args=["-vvv"])
    first, second = path_taken(run)
    assert first.startswith(FAST)
    assert second == MODULE_PATH + "skupperlabs.network.listener: the task environment sets PYTHONWARNINGS"
    assert run[0]["changed"] is True and run[0]["path"].startswith(data_home)
    assert run[1]["changed"] is False
    assert "SKUPPER_PLATFORM" not in os.environ or os.environ["SKUPPER_PLATFORM"] != "linux"


def test_a_remote_host_takes_the_module_path_and_a_task_delegated_to_the_controller_the_fast_path(
        tmp_path, runner, kube_site):
    from tests.support.fleet import Fleet, fleet_available
    ok, reason = fleet_available()
    if not ok:
        pytest.skip(reason)
    playbook = tmp_path / "remote.yml"
    with Fleet(count=1, workdir=tmp_path / "fleet") as fleet:
        inventory = fleet.inventory(tmp_path / "hosts.yml")
        host = fleet.names[0]
        import yaml
        playbook.write_text(yaml.safe_dump([{"hosts": "skupper_sites", "gather_facts": False, "tasks": [
            {"name": "On the host", MODULES + "listener": dict(SEED, platform="linux"), "register": "on_host"},
            {"name": "On the controller", MODULES + "listener": dict(SEED, **kube_site.args),
             "delegate_to": "localhost", "register": "delegated"},
            {"ansible.builtin.assert": {"that": ["on_host is changed", "delegated is changed"]}},
        ]}]))
        # The implicit localhost's own interpreter (ansible_playbook_python) decides, not the config's.
        run = run_playbook(runner, str(playbook), inventory, "-vvv",
                           env=dict(on_path(True), ANSIBLE_PYTHON_INTERPRETER=None))
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert path_taken(run) == [MODULE_PATH + "skupperlabs.network.listener: the connection is ssh, not local",
                                   FAST + "skupperlabs.network.listener runs in the controller's worker process"]
        with open(os.path.join(fleet.data_home(host), "namespaces", "default", "input", "resources",
                               "Listener-backend.yaml")) as handle:
            assert "routingKey: backend" in handle.read()
        assert kube_site.read("Listener", "backend")["spec"]["port"] == 8080
