"""The fast path's pure parts: when it is taken, the switch, and the controller's module object."""

import glob
import importlib
import os
import sys

import pytest
from ansible.module_utils.basic import PASSWORD_MATCH

from ansible_collections.skupperlabs.network.plugins.plugin_utils import fast_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULES = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))

LOCAL = {"switched_off": False, "transport": "local", "become": False, "async_val": 0,
         "interpreter": sys.executable, "environment": {}}


def facts(**changes):
    result = dict(LOCAL)
    result.update(changes)
    return result


def test_a_local_task_on_the_controllers_python_takes_the_fast_path():
    assert fast_path.module_path_reason(facts()) is None


@pytest.mark.parametrize("changes, reason", [
    ({"switched_off": True}, "skupperlabs_network_fast_path is off"),
    ({"transport": "ssh"}, "the connection is ssh, not local"),
    ({"become": True}, "become is set"),
    ({"async_val": 30}, "async is set"),
    ({"interpreter": None}, "interpreter discovery"),
    ({"interpreter": "/usr/bin/python3"}, "the host's Python is /usr/bin/python3"),
    ({"environment": {"PATH": "/opt/bin", "KUBECONFIG": "/k"}}, "the task environment sets PATH"),
])
def test_each_case_that_would_change_the_outcome_takes_the_module_path(changes, reason):
    assert reason in fast_path.module_path_reason(facts(**changes))


def test_an_environment_of_the_variables_the_modules_read_is_applied_in_process():
    environment = {"K8S_AUTH_KUBECONFIG": "/k", "SKUPPER_PLATFORM": "linux", "XDG_DATA_HOME": "/d"}
    assert fast_path.module_path_reason(facts(environment=environment)) is None


def test_the_applied_environment_is_restored(monkeypatch):
    monkeypatch.setenv("SKUPPER_PLATFORM", "podman")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    with fast_path._AppliedEnvironment({"SKUPPER_PLATFORM": "linux", "XDG_DATA_HOME": "/d"}):
        assert os.environ["SKUPPER_PLATFORM"] == "linux" and os.environ["XDG_DATA_HOME"] == "/d"
    assert os.environ["SKUPPER_PLATFORM"] == "podman" and "XDG_DATA_HOME" not in os.environ


def test_a_virtualenv_python_is_not_its_base_interpreter(tmp_path):
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    assert not fast_path.same_interpreter(str(venv_bin / "python"))
    assert fast_path.same_interpreter(sys.executable)
    assert fast_path.same_interpreter(os.path.join(os.path.dirname(sys.executable), ".", os.path.basename(sys.executable)))
    assert not fast_path.same_interpreter(str(tmp_path / "missing"))


@pytest.mark.parametrize("variable, environment, off", [
    (None, None, False),
    (False, None, True),
    ("no", None, True),
    (True, "0", False),  # the variable wins over the environment
    (None, "off", True),
    (None, "1", False),
    (None, "", False),
])
def test_the_switch(variable, environment, off):
    task_vars = {} if variable is None else {fast_path.SWITCH_VARIABLE: variable}
    environ = {} if environment is None else {fast_path.SWITCH_ENVIRONMENT: environment}
    assert fast_path.switched_off(task_vars, environ) is off


def test_a_switch_that_is_no_boolean_is_refused():
    with pytest.raises(TypeError):
        fast_path.switched_off({fast_path.SWITCH_VARIABLE: "sometimes"}, {})


def _module_kwargs(name):
    """The AnsibleModule keyword arguments a module's main() passes."""
    captured = {}

    class Captured(Exception):
        pass

    def capture(**kwargs):
        captured.update(kwargs)
        raise Captured()

    module = importlib.import_module(fast_path.MODULES_PACKAGE + name)
    with pytest.raises(Captured):
        module.main(module_class=capture)
    return captured


def _options(spec):
    for name, option in spec.items():
        yield name, option
        for sub_name, sub_option in _options(option.get("options") or {}):
            yield "%s.%s" % (name, sub_name), sub_option


@pytest.mark.parametrize("name", MODULES)
def test_no_module_uses_what_the_controller_module_leaves_out(name):
    """ControllerModule gives AnsibleModule's results for these specs because none of them has an alias,
    a deprecation, file arguments, or a password-like option without no_log (AnsibleModule's warning)."""
    kwargs = _module_kwargs(name)
    assert set(kwargs) <= {"argument_spec", "supports_check_mode", "mutually_exclusive", "required_together",
                           "required_one_of", "required_if", "required_by"}
    for option_name, option in _options(kwargs["argument_spec"]):
        assert not option.get("aliases") and not option.get("deprecated_aliases"), option_name
        assert not option.get("removed_in_version") and not option.get("removed_at_date"), option_name
        leaf = option_name.rsplit(".", 1)[-1]
        assert option.get("no_log") is not None or not PASSWORD_MATCH.search(leaf), option_name


def _controller_module(name, arguments, **flags):
    kwargs = _module_kwargs(name)
    return fast_path.ControllerModule(arguments=arguments, name="skupperlabs.network." + name, **dict(kwargs, **flags))


def test_unknown_options_are_refused_as_ansible_module_refuses_them():
    with pytest.raises(fast_path.ModuleExit) as caught:
        _controller_module("listener", {"name": "a", "colour": "red"})
    result = caught.value.result
    assert result["failed"] is True
    assert result["msg"].startswith("Unsupported parameters for (skupperlabs.network.listener) module: colour.")
    assert result["invocation"]["module_args"]["colour"] == "red"


def test_type_errors_are_refused_with_the_validators_message():
    with pytest.raises(fast_path.ModuleExit) as caught:
        _controller_module("listener", {"name": "a", "port": "eighty"})
    assert "port" in caught.value.result["msg"] and "int" in caught.value.result["msg"]


def test_no_log_values_are_masked_in_the_result():
    module = _controller_module("access_token", {"name": "a", "token": {"code": "s3cr3t-c0de"}})
    module.no_log_values.add("s3cr3t-c0de")
    module.warn("careful")
    with pytest.raises(fast_path.ModuleExit) as caught:
        module.exit_json(changed=True, said="the code is s3cr3t-c0de", items=("x",))
    result = caught.value.result
    assert "s3cr3t-c0de" not in repr(result)
    assert result["warnings"] == ["careful"] and result["items"] == ["x"]


def test_defaults_are_filled_in_as_the_module_gets_them():
    module = _controller_module("listener", {"name": "a"}, supports_check_mode=True)
    assert module.params["state"] == "present" and module.params["wait_timeout"] == 60
    assert module.raw_params == {"name": "a"}


def test_plain_arguments_are_plain_json_types():
    arguments = fast_path.plain_arguments({"name": "a", "listeners": ({"port": 1},), "labels": {"k": "v"}})
    assert arguments == {"name": "a", "listeners": [{"port": 1}], "labels": {"k": "v"}}
