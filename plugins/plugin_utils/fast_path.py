# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller-side fast path of the collection's modules.

Every module of the collection has an action plugin of the same name (``plugins/action/``), a
subclass of ``FastPathAction``. When the task would run its module on the controller anyway, as
the same user and with the same Python (a local connection, no become, no async, the controller's
own interpreter), the action runs the module's own ``main()`` in Ansible's worker process, with
``ControllerModule`` in place of ``AnsibleModule``: no module packing, no new interpreter, and the
``kubernetes`` client imported once per task, shared by every item of a loop. In every other case
(``module_path_reason`` names it) the action runs the module as Ansible's ``normal`` action does.

Both paths run the same engine (``plugins/module_utils``) on the same arguments, validated by the
same ``ArgumentSpecValidator`` that ``AnsibleModule`` runs, and return the same result: the same
keys, ``invocation``, warnings, and values listed as ``no_log`` masked by Ansible's own
``remove_values``. The switch: the variable ``skupperlabs_network_fast_path`` (inventory, play,
``-e``) or, when it is not set, the environment variable ``SKUPPERLABS_NETWORK_FAST_PATH`` of
``ansible-playbook``; ``false``/``0``/``no``/``off`` forces the module path. docs/fast-path.md
documents when each path is taken.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import json
import os
import sys
import warnings

from ansible import constants as C
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

SWITCH_VARIABLE = "skupperlabs_network_fast_path"
SWITCH_ENVIRONMENT = "SKUPPERLABS_NETWORK_FAST_PATH"
MODULES_PACKAGE = "ansible_collections.skupperlabs.network.plugins.modules."
# The environment variables the modules read (connection options' fallbacks, the Kubernetes client's
# credentials, the system-site data home, the test-only request timeout) and the locale. A task
# ``environment`` that sets only these is applied in the worker for the task's time; any other
# variable (PATH, PYTHONPATH, a proxy, ...) could change what a new interpreter does, so the module
# path runs the task.
ENVIRONMENT_APPLIED_IN_PROCESS = frozenset((
    "SKUPPER_PLATFORM", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "KUBECONFIG", "K8S_AUTH_HOST",
    "K8S_AUTH_API_KEY", "K8S_AUTH_VERIFY_SSL", "K8S_AUTH_SSL_CA_CERT", "XDG_DATA_HOME", "HOME",
    "SKUPPERLABS_NETWORK_TEST_REQUEST_TIMEOUT", "LANG", "LC_ALL", "LC_MESSAGES",
))
INTERPRETER_DISCOVERY_MODES = ("auto", "auto_legacy", "auto_silent", "auto_legacy_silent")


class ModuleExit(Exception):
    """Raised by ControllerModule.exit_json and fail_json: the module's result, already formatted."""

    def __init__(self, result):
        Exception.__init__(self, "module exit")
        self.result = result


class ControllerModule:
    """What the collection's modules use of ``AnsibleModule``, in the controller's worker process.

    Arguments are validated by ``ArgumentSpecValidator``, the validator ``AnsibleModule`` itself
    runs, and refused with the message ``AnsibleModule`` gives. ``exit_json`` and ``fail_json``
    format the result as ``AnsibleModule._return_formatted`` does (``invocation``, ``warnings``,
    ``remove_values`` over every ``no_log`` value) and raise ``ModuleExit`` instead of printing
    and exiting. Left out, because no module of the collection needs it (a unit test checks the
    argument specs for it): aliases and their warnings, deprecated options, file common arguments,
    the warning for a password-like option without ``no_log``, and the syslog record of the
    invocation that ``AnsibleModule`` writes on the managed host.
    """

    # AnsibleModule's own code for the file facts (owner, mode, size, ...) it adds to a result with a ``path``.
    add_path_info = AnsibleModule.add_path_info
    user_and_group = AnsibleModule.user_and_group
    selinux_enabled = AnsibleModule.selinux_enabled
    selinux_mls_enabled = AnsibleModule.selinux_mls_enabled
    selinux_initial_context = AnsibleModule.selinux_initial_context
    selinux_context = AnsibleModule.selinux_context
    _selinux_enabled = None
    _selinux_mls_enabled = None
    _selinux_initial_context = None

    def __init__(self, argument_spec, supports_check_mode=False, mutually_exclusive=None, required_together=None,
                 required_one_of=None, required_if=None, required_by=None, arguments=None, check_mode=False,
                 diff=False, name="module"):
        self.argument_spec = argument_spec
        self.check_mode = check_mode
        self._diff = diff
        self._name = name
        self._warnings = []
        self.no_log_values = set()
        # The arguments as sent, before conversion: what basic._load_params() gives on the module path.
        self.raw_params = dict(arguments or {})
        validator = ArgumentSpecValidator(argument_spec, mutually_exclusive=mutually_exclusive,
                                          required_together=required_together, required_one_of=required_one_of,
                                          required_if=required_if, required_by=required_by)
        validation = validator.validate(self.raw_params)
        self.params = dict(self.raw_params)
        self.params.update(validation.validated_parameters)
        self.no_log_values.update(validation._no_log_values)
        try:  # as AnsibleModule: the error list has no length
            first_error = validation.errors[0]
        except IndexError:
            first_error = None
        if first_error is not None:
            message = validation.errors.msg
            if isinstance(first_error, UnsupportedError):
                message = "Unsupported parameters for (%s) module: %s" % (name, message)
            self.fail_json(msg=message)
        if check_mode and not supports_check_mode:
            self.exit_json(skipped=True, msg="remote module (%s) does not support check mode" % name)

    def warn(self, warning):
        self._warnings.append(warning)

    def exit_json(self, **kwargs):
        raise ModuleExit(self._formatted(kwargs))

    def fail_json(self, msg, **kwargs):
        kwargs.update(failed=True, msg=str(msg))
        if kwargs.get("exception") is None:
            kwargs.pop("exception", None)
        raise ModuleExit(self._formatted(kwargs))

    def _formatted(self, kwargs):
        self.add_path_info(kwargs)
        kwargs.setdefault("invocation", {"module_args": self.params})
        if self._warnings:
            kwargs["warnings"] = list(self._warnings)
        # Through JSON, as the module path's result is: lists, not tuples; plain str. remove_values only
        # masks (and copies): with nothing to mask, its answer is the same, and it costs most of a
        # 1000-item result's time.
        if self.no_log_values:
            kwargs = remove_values(kwargs, self.no_log_values)
        return json.loads(json.dumps(kwargs))


def plain_arguments(arguments):
    """The task's arguments as a module receives them: through Ansible's own JSON encoder for
    module arguments (vaulted values decrypted, tagged or unsafe strings made plain)."""
    try:  # ansible-core 2.19 and later
        from ansible.module_utils.common.json import Direction, get_module_encoder
        text = json.dumps(arguments, cls=get_module_encoder("legacy", Direction.CONTROLLER_TO_MODULE))
    except ImportError:  # ansible-core 2.16 to 2.18
        from ansible.module_utils.common.json import AnsibleJSONEncoder
        text = json.dumps(arguments, cls=AnsibleJSONEncoder, vault_to_text=True)
    return json.loads(text)


def switched_off(task_vars, environ=None):
    """True when the user forces the module path: the variable, else the environment variable."""
    environ = os.environ if environ is None else environ
    value = task_vars.get(SWITCH_VARIABLE)
    if value is None:
        value = environ.get(SWITCH_ENVIRONMENT)
    if value is None or (isinstance(value, str) and not value.strip()):
        return False
    return not boolean(value)  # raises TypeError for a value that is no boolean


def same_interpreter(path, executable=None):
    """Whether ``path`` names the interpreter this process runs: the same file in the same folder
    (a virtualenv's python is a link to its base interpreter, but brings other packages)."""
    executable = executable or sys.executable
    if os.path.abspath(path) == os.path.abspath(executable):
        return True
    try:
        return (os.path.samefile(path, executable)
                and os.path.dirname(os.path.abspath(path)) == os.path.dirname(os.path.abspath(executable)))
    except OSError:
        return False


def module_path_reason(facts):
    """Why the module path must run the task, or None when the fast path gives the same outcome.

    ``facts`` is a mapping of what decides it, gathered by FastPathAction.facts():
    switched_off, transport, become, async_val, interpreter (the Python the module path would
    use, None when interpreter discovery has not run), environment (the task's, templated).
    A pure function: unit tests give it every case."""
    if facts["switched_off"]:
        return "%s is off" % SWITCH_VARIABLE
    if facts["transport"] != "local":
        return "the connection is %s, not local" % facts["transport"]
    if facts["become"]:
        return "become is set: the module runs as another user"
    if facts["async_val"]:
        return "async is set"
    interpreter = facts["interpreter"]
    if interpreter is None:
        return "the host's Python interpreter is not known yet (interpreter discovery)"
    if not same_interpreter(interpreter):
        return "the host's Python is %s, not the controller's %s" % (interpreter, sys.executable)
    others = sorted(set(facts["environment"]) - ENVIRONMENT_APPLIED_IN_PROCESS)
    if others:
        return "the task environment sets %s" % ", ".join(others)
    return None


class _AppliedEnvironment:
    """The task's environment in os.environ for the time of the task, as the module process has it."""

    def __init__(self, environment):
        self.environment = dict((str(key), str(value)) for key, value in environment.items())
        self.saved = {}

    def __enter__(self):
        for key, value in self.environment.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value
        return self

    def __exit__(self, *exc_info):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        return False


class FastPathAction(ActionBase):
    """The action of every module of the collection: the fast path, or the module path."""

    MODULE = None  # the module's name in plugins/modules, set by each action plugin
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(FastPathAction, self).run(tmp, task_vars)
        del tmp
        environment = {}
        reason = module_path_reason(self.facts(task_vars, environment))
        if reason is None:
            display.vvv("skupperlabs.network fast path: %s runs in the controller's worker process" % self._task.action)
            with _AppliedEnvironment(environment):
                result.update(self._run_in_process())
            return result
        display.vvv("skupperlabs.network module path for %s: %s" % (self._task.action, reason))
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result.update(self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def facts(self, task_vars, environment_out):
        """What module_path_reason decides on, read from the task and its variables."""
        host_vars = task_vars
        if self._task.delegate_to:
            # As ActionBase._configure_module: the delegated host's variables choose its interpreter.
            host_vars = (task_vars.get("ansible_delegated_vars") or {}).get(self._task.delegate_to) or task_vars
        switch = {}
        if task_vars.get(SWITCH_VARIABLE) is not None:
            switch[SWITCH_VARIABLE] = self._templar.template(task_vars[SWITCH_VARIABLE])
        try:
            off = switched_off(switch)
        except TypeError:
            raise AnsibleActionFail("%s (or %s) must be a boolean, not %r" % (
                SWITCH_VARIABLE, SWITCH_ENVIRONMENT, switch.get(SWITCH_VARIABLE, os.environ.get(SWITCH_ENVIRONMENT))))
        facts = {
            "switched_off": off,
            "transport": getattr(self._connection, "transport", None),
            "become": bool(self._play_context.become),
            "async_val": self._task.async_val,
            "interpreter": None,
            "environment": {},
        }
        if facts["switched_off"] or facts["transport"] != "local" or facts["become"] or facts["async_val"]:
            return facts
        facts["interpreter"] = self._interpreter(host_vars)
        self._compute_environment_string(environment_out)
        facts["environment"] = environment_out
        return facts

    def _interpreter(self, host_vars):
        """The Python the module path would start, as module_common._get_shebang chooses it."""
        if "ansible_python_interpreter" in host_vars:
            value = self._templar.template(host_vars["ansible_python_interpreter"])
        else:
            value = C.config.get_config_value("INTERPRETER_PYTHON", variables=host_vars)
            if isinstance(value, str) and "{{" in value:
                value = self._templar.template(value)
            if not value or value in INTERPRETER_DISCOVERY_MODES:
                value = (host_vars.get("ansible_facts") or {}).get("discovered_interpreter_python")
        return str(value).strip() if value else None

    def _run_in_process(self):
        module_file = importlib.import_module(MODULES_PACKAGE + self.MODULE)
        arguments = plain_arguments(self._task.args)

        def controller_module(**module_kwargs):
            return ControllerModule(arguments=arguments, check_mode=bool(self._task.check_mode),
                                    diff=bool(self._task.diff), name=self._task.action, **module_kwargs)

        try:
            # A library's Python warning (urllib3's for an unverified TLS connection, say) goes to a module's
            # stderr, which Ansible drops when the module answers: here it would reach the terminal.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module_file.main(module_class=controller_module)
        except ModuleExit as exit_:
            return _as_module_result(exit_.result)
        raise RuntimeError("%s returned without exit_json or fail_json" % self.MODULE)


def _as_module_result(result):
    """What ActionBase._parse_returned_data makes of a module's answer. From ansible-core 2.19 on, a
    failure is captured as a module's (the task fails with "Module failed: ...", not "Action failed")."""
    try:
        from ansible._internal._errors._captured import AnsibleModuleCapturedError  # ansible-core 2.19+
    except ImportError:
        return result
    AnsibleModuleCapturedError.normalize_result_exception(result)
    return result
