"""The Skupper CLI test double (tests/bin/skupper) behaves as the real CLI does to a data home.

Every case runs the executable in a subprocess, with a clean environment and
``SKUPPER_DOUBLE_ROOT`` pointing at a temporary folder, so the root-scope paths
(``/var/lib/skupper``, ``/etc/systemd/system``) of this machine are never
touched. One case runs it as an unprivileged user (``setpriv``), where the data
home and unit folder follow ``$HOME``/``$XDG_DATA_HOME``.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SKUPPER = ROOT / "tests" / "bin" / "skupper"
SUPPORT = ROOT / "tests" / "support"
SYSTEM_PYTHON = "/usr/bin/python3"
NOBODY = 65534


def _python_with_yaml():
    """The machine's python3 (as on a managed host) when it has PyYAML, else this interpreter."""
    if os.access(SYSTEM_PYTHON, os.X_OK):
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import yaml"], capture_output=True, check=False)
        if probe.returncode == 0:
            return SYSTEM_PYTHON
    return sys.executable


PYTHON = _python_with_yaml()


def resource(kind, name, spec=None, namespace=None):
    obj = {"apiVersion": "skupper.io/v2alpha1", "kind": kind, "metadata": {"name": name}}
    if namespace:
        obj["metadata"]["namespace"] = namespace
    if spec is not None:
        obj["spec"] = spec
    return obj


SITE = resource("Site", "west")
LISTENER = resource("Listener", "backend", {"routingKey": "backend", "host": "backend", "port": 8080})
CONNECTOR = resource("Connector", "backend", {"routingKey": "backend", "host": "localhost", "port": 8080})


class Double:
    """Runs the double against a private root (and a private HOME)."""

    def __init__(self, base, program=None):
        self.base = Path(base)
        self.root = self.base / "root"
        self.home = self.base / "home"
        self.root.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self.program = [PYTHON, str(program or SKUPPER)]
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "LANG": "C.UTF-8",
                    "SKUPPER_DOUBLE_ROOT": str(self.root)}

    @property
    def data_home(self):
        if os.getuid() == 0:
            return self.root / "var" / "lib" / "skupper"
        return self.home / ".local" / "share" / "skupper"

    @property
    def unit_dir(self):
        if os.getuid() == 0:
            return self.root / "etc" / "systemd" / "system"
        return self.home / ".config" / "systemd" / "user"

    def ns_home(self, namespace="default"):
        return self.data_home / "namespaces" / namespace

    def run(self, *args, stdin=None, env=None, platform="podman", expect=0):
        run_env = dict(self.env)
        if platform:
            run_env["SKUPPER_PLATFORM"] = platform
        run_env.update(env or {})
        result = subprocess.run(self.program + list(args), input=stdin, capture_output=True, text=True,
                                env=run_env, cwd=str(self.base), timeout=30, check=False)
        if expect is not None:
            assert result.returncode == expect, (args, result.returncode, result.stdout, result.stderr)
        return result

    def apply(self, *objects, namespace=None):
        text = yaml.safe_dump_all(list(objects))
        args = ["system", "apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        return self.run(*args, stdin=text)

    def runtime(self, kind, name, namespace="default"):
        path = self.ns_home(namespace) / "runtime" / "resources" / ("%s-%s.yaml" % (kind, name))
        return yaml.safe_load(path.read_text()) if path.exists() else None

    def calls(self):
        path = self.data_home / ".skupper-double" / "calls.log"
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def double(tmp_path):
    return Double(tmp_path)


def condition_types(obj):
    return [c["type"] for c in obj["status"]["conditions"]]


# ---- version, usage, platforms -------------------------------------------------

def test_version_is_marked_as_the_double(double):
    result = double.run("version", platform=None)
    assert result.stdout.splitlines()[0].split() == ["COMPONENT", "VERSION"]
    assert "cli" in result.stdout and "2.1.1-double" in result.stdout
    document = json.loads(double.run("version", "-o", "json").stdout)
    assert document["testDouble"] is True
    assert {"component": "cli", "version": "2.1.1-double"} in document["components"]


def test_unknown_commands_and_flags_exit_1_with_usage(double):
    for args in (["frobnicate"], ["system", "frobnicate"], ["listener", "create", "x", "80"],
                 ["system", "start", "--bogus"]):
        result = double.run(*args, expect=1)
        assert "Usage:" in result.stderr, args
        assert "unknown" in result.stdout, args
    assert "Usage:" in double.run("--help").stdout
    assert "install" in double.run("system", "-h").stdout


def test_kubernetes_platform_prints_the_real_message_and_exits_0(double):
    for command in ("install", "start", "stop"):
        result = double.run("system", command, platform=None)
        assert result.stdout.strip() == "This command does not support kubernetes platforms."
    result = double.run("system", "reload", "--platform", "kubernetes")
    assert result.stdout.strip() == "This command is not supported by kubernetes sites."
    assert not (double.data_home / "namespaces").exists()
    assert not double.unit_dir.exists()
    assert "platform \"vms\" not supported" in double.run("system", "start", "--platform", "vms", expect=1).stdout


# ---- install / uninstall --------------------------------------------------------

def test_install_is_idempotent_and_writes_a_runnable_unit(double):
    first = double.run("system", "install", "--reload-type", "auto")
    assert first.stdout.strip() == "Platform podman is now configured for Skupper"
    unit = double.unit_dir / "skupper-controller.service"
    text = unit.read_text()
    assert "ExecStart=/bin/sleep infinity" in text and "[Install]" in text
    state = yaml.safe_load((double.data_home / ".skupper-double" / "controller.yaml").read_text())
    assert state["platform"] == "podman" and state["reload_type"] == "auto"
    assert (double.data_home / "namespaces").is_dir()
    before = unit.stat().st_mtime_ns

    again = double.run("system", "install", "--reload-type", "manual")
    assert "already running" in again.stdout
    assert unit.stat().st_mtime_ns == before
    state = yaml.safe_load((double.data_home / ".skupper-double" / "controller.yaml").read_text())
    assert state["reload_type"] == "auto"

    removed = double.run("system", "uninstall")
    assert "now uninstalled" in removed.stdout
    assert not unit.exists()
    assert not (double.data_home / ".skupper-double" / "controller.yaml").exists()
    assert double.run("system", "uninstall").stdout == ""


def test_unit_dir_knob_moves_the_units_only(double, tmp_path):
    units = tmp_path / "units"
    double.env["SKUPPER_DOUBLE_UNIT_DIR"] = str(units)
    double.run("system", "install")
    double.apply(SITE)
    double.run("system", "start")
    assert sorted(entry.name for entry in units.iterdir()) == ["skupper-controller.service", "skupper-default.service"]
    assert not double.unit_dir.exists()
    assert (double.ns_home() / "runtime" / "resources" / "Site-west.yaml").exists()
    double.run("system", "stop")
    assert [entry.name for entry in units.iterdir()] == ["skupper-controller.service"]


def test_install_refused_on_linux_and_bad_reload_type(double):
    result = double.run("system", "install", platform="linux", expect=2)
    assert "not supported by this command. There is nothing to install" in result.stdout
    assert "reload type is not valid" in double.run("system", "install", "--reload-type", "sometimes", expect=2).stdout
    assert not double.unit_dir.exists()
    assert not (double.data_home / ".skupper-double" / "controller.yaml").exists()


def test_uninstall_halts_while_a_site_is_active_unless_forced(double):
    double.run("system", "install")
    double.apply(SITE)
    double.run("system", "start")
    result = double.run("system", "uninstall", expect=2)
    assert "Active sites detected" in result.stdout
    assert (double.unit_dir / "skupper-controller.service").exists()
    assert "The west site is active (namespace default)" in result.stdout
    double.apply(SITE, namespace="idle")  # never started: removed as well (system_uninstall.go Run)
    forced = double.run("system", "uninstall", "--force")
    assert 'Removing active site namespace "default"' in forced.stdout
    assert 'Namespace "default" has been removed' in forced.stdout
    assert 'Namespace "idle" has been removed' in forced.stdout
    assert list((double.data_home / "namespaces").iterdir()) == []
    assert not (double.unit_dir / "skupper-default.service").exists()


# ---- start / reload / stop ------------------------------------------------------

def test_start_writes_runtime_and_units_and_refuses_a_second_start(double):
    double.apply(SITE, LISTENER)
    result = double.run("system", "start")
    assert 'Site "west" has been created on namespace "default"' in result.stdout
    assert "Platform: podman" in result.stdout
    home = double.ns_home()
    # no controller installed: the render-time status (fs_config_renderer.go: the Site is Running at once)
    assert condition_types(double.runtime("Site", "west")) == ["Configured", "Ready", "Running"]
    assert yaml.safe_load((home / "internal" / "platform.yaml").read_text()) == {"platform": "podman"}
    units = (home / "internal" / "scripts" / "skupper-default.service", double.unit_dir / "skupper-default.service")
    for unit in units:
        text = unit.read_text()
        assert "ExecStart=/bin/sleep infinity" in text
        assert "namespace default" in text

    second = double.run("system", "start", expect=2)
    assert second.stdout.strip() == "namespace already exists: default"


def test_start_needs_sources_and_a_site(double):
    empty = double.run("system", "start", expect=1)
    assert 'Namespace "default" does not exist' in empty.stdout
    assert "No sources found at: %s" % (double.ns_home() / "input" / "resources") in empty.stdout

    double.apply(LISTENER)
    result = double.run("system", "start", expect=1)
    assert "no valid site definition has been found" in result.stdout
    assert not (double.ns_home() / "runtime").exists()
    assert not (double.unit_dir / "skupper-default.service").exists()


def test_reload_updates_runtime_status_when_a_connector_is_added(double):
    double.run("system", "install")
    double.apply(SITE, LISTENER)
    double.run("system", "start")
    listener = double.runtime("Listener", "backend")
    assert listener["status"]["status"] == "Pending"
    assert listener["status"]["message"] == "No matching connectors"

    added = double.apply(CONNECTOR)
    assert "Connector backend added" in added.stdout
    assert double.runtime("Listener", "backend")["status"]["status"] == "Pending"  # manual reload type
    double.run("system", "reload")
    listener = double.runtime("Listener", "backend")
    assert listener["status"]["status"] == "Ready"
    assert listener["status"]["hasMatchingConnector"] is True
    assert double.runtime("Connector", "backend")["status"]["status"] == "Ready"


def test_without_a_controller_the_render_time_status_stays(double):
    double.apply(SITE, LISTENER, CONNECTOR)
    double.run("system", "start")
    listener = double.runtime("Listener", "backend")
    assert (listener["status"]["status"], listener["status"]["message"]) == ("Pending", "Not Matched")
    assert condition_types(listener) == ["Configured", "Ready"]


def test_auto_reload_type_applies_changes_at_once(double):
    double.run("system", "install", "--reload-type", "auto")
    double.apply(SITE, LISTENER)
    double.run("system", "start")
    double.apply(CONNECTOR)
    assert double.runtime("Listener", "backend")["status"]["status"] == "Ready"


def test_reload_refusals(double):
    double.apply(SITE)
    double.run("system", "reload")  # bootstrap.go: a namespace never started is rendered as a start
    assert double.runtime("Site", "west")["status"]["status"] == "Ready"
    changed = double.run("system", "reload", "--platform", "docker", expect=1)
    assert 'existing namespace uses "podman" platform and it cannot change to "docker"' in changed.stdout
    disabled = double.run("system", "reload", env={"SKUPPER_SYSTEM_RELOAD_TYPE": "auto"}, expect=2)
    assert "disabled because automatic reloading is configured" in disabled.stdout
    bad = double.apply(resource("Listener", "two", {"routingKey": "k", "host": "Not_Valid", "port": 1}))
    assert bad.returncode == 0
    failed = double.run("system", "reload", expect=1)
    assert "Failed to bootstrap: failed to render site state: invalid listener host" in failed.stdout
    assert double.runtime("Listener", "two") is None


def test_stop_removes_the_whole_namespace_home_and_its_unit(double):
    """internal/nonkube/bootstrap/teardown.go: removeService, then removeDefinition (os.RemoveAll)."""
    double.apply(SITE, LISTENER, namespace="east")
    double.run("system", "start", "-n", "east")
    assert (double.unit_dir / "skupper-east.service").exists()
    result = double.run("system", "stop", "--namespace=east")
    assert result.stdout.strip() == 'Namespace "east" has been removed'
    assert not double.ns_home("east").exists()  # input/ included
    assert not (double.unit_dir / "skupper-east.service").exists()
    again = double.run("system", "stop", "-n", "east", expect=2)
    assert again.stdout.startswith("failed to read platform config file for namespace east: open ")
    assert "No sources found" in double.run("system", "start", "-n", "east", expect=1).stdout


def test_apply_and_delete_files(double, tmp_path):
    manifest = tmp_path / "resources.yaml"
    manifest.write_text(yaml.safe_dump_all([SITE, LISTENER, resource("ConfigMap", "ignored")]))
    applied = double.run("system", "apply", "-f", str(manifest))
    resources = double.ns_home() / "input" / "resources"
    assert applied.stdout.splitlines()[:4] == ["File written to %s" % (resources / "Site-west.yaml"), "Site west added",
                                               "File written to %s" % (resources / "Listener-backend.yaml"),
                                               "Listener backend added"]
    written = yaml.safe_load((double.ns_home() / "input" / "resources" / "Listener-backend.yaml").read_text())
    assert written["metadata"] == {"name": "backend", "namespace": "default"}  # utils/encode.go: no empties
    assert written["spec"] == LISTENER["spec"]
    assert not (double.ns_home() / "input" / "resources" / "ConfigMap-ignored.yaml").exists()

    deleted = double.run("system", "delete", "-f", str(manifest))
    assert "Listener backend deleted" in deleted.stdout
    assert list((double.ns_home() / "input" / "resources").iterdir()) == []
    assert "unsupported extension" in double.run("system", "apply", "-f", str(tmp_path / "x.txt"), expect=2).stdout
    assert "You need to provide a file" in double.run("system", "apply", expect=2).stdout


# ---- call log, installation layouts, unprivileged users --------------------------

def test_every_call_is_logged(double, tmp_path):
    double.run("version")
    double.run("system", "start", expect=1)
    calls = double.calls()
    assert [c["argv"] for c in calls] == [["version"], ["system", "start"]]
    assert [c["exit_code"] for c in calls] == [0, 1]
    assert calls[1]["uid"] == os.getuid() and calls[1]["cwd"] == str(double.base)
    assert calls[1]["platform"] == "podman" and calls[1]["namespace"] == "default"
    assert calls[1]["time"].endswith("Z")

    log = tmp_path / "elsewhere" / "calls.jsonl"
    double.run("system", "install", env={"SKUPPER_DOUBLE_LOG": str(log)})
    assert [json.loads(line)["argv"] for line in log.read_text().splitlines()] == [["system", "install"]]
    assert len(double.calls()) == 2


def test_runs_from_one_folder_with_its_two_modules(tmp_path):
    folder = tmp_path / "usr-local-bin"
    folder.mkdir()
    for source in (SKUPPER, SUPPORT / "system_controller.py", SUPPORT / "skupper_status.py"):
        shutil.copy2(source, folder / source.name)
    assert os.access(folder / "skupper", os.X_OK)
    installed = Double(tmp_path / "run", program=folder / "skupper")
    installed.apply(SITE)
    installed.run("system", "start")
    assert installed.runtime("Site", "west")["status"]["status"] == "Ready"  # render time, no controller
    assert not (folder / "__pycache__").exists()

    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy2(SKUPPER, lonely / "skupper")
    alone = Double(tmp_path / "alone", program=lonely / "skupper")
    alone.run("version")  # needs no support module
    missing = alone.run("system", "start", expect=1)
    assert "system_controller.py not found" in missing.stdout
    alone.env["SKUPPER_DOUBLE_SUPPORT"] = str(folder)
    alone.apply(SITE)
    alone.run("system", "start")
    assert alone.runtime("Site", "west") is not None


def test_executable_with_its_shebang():
    assert SKUPPER.read_text().startswith("#!/usr/bin/env python\n")
    assert os.access(SKUPPER, os.X_OK)
    if shutil.which("python") is None:
        pytest.skip("no python on PATH for the #!/usr/bin/env python shebang")
    result = subprocess.run([str(SKUPPER), "version"], capture_output=True, text=True, timeout=30, check=False,
                            env={"PATH": os.environ.get("PATH", ""), "HOME": tempfile.gettempdir()})
    if result.returncode != 0 and "No module named 'yaml'" in result.stderr:
        pytest.skip("the python on PATH has no PyYAML")
    assert result.returncode == 0, result.stderr
    assert "2.1.1-double" in result.stdout


@pytest.fixture
def nobody_home():
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as an unprivileged user")
    base = Path(tempfile.mkdtemp(prefix="skupper-double-"))
    os.chmod(base, 0o755)
    for sub in ("home", "xdg"):
        (base / sub).mkdir()
        os.chown(base / sub, NOBODY, NOBODY)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_unprivileged_user_uses_home_and_xdg_folders(nobody_home):
    def run(*args, stdin=None, xdg=False):
        env = {"PATH": "/usr/bin:/bin", "HOME": str(nobody_home / "home"), "SKUPPER_PLATFORM": "podman",
               "LANG": "C.UTF-8", "SKUPPER_DOUBLE_ROOT": str(nobody_home / "never")}
        if xdg:
            env["XDG_DATA_HOME"] = str(nobody_home / "xdg" / "data")
            env["XDG_CONFIG_HOME"] = str(nobody_home / "xdg" / "config")
        command = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups", PYTHON, str(SKUPPER)]
        result = subprocess.run(command + list(args), input=stdin, capture_output=True, text=True, env=env,
                                cwd=str(nobody_home), timeout=30, check=False)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    site = yaml.safe_dump(SITE)
    run("system", "install")
    run("system", "apply", "-f", "-", stdin=site)
    run("system", "start")
    home = nobody_home / "home"
    data = home / ".local" / "share" / "skupper"
    assert (home / ".config" / "systemd" / "user" / "skupper-controller.service").exists()
    assert (home / ".config" / "systemd" / "user" / "skupper-default.service").exists()
    assert (data / "namespaces" / "default" / "runtime" / "resources" / "Site-west.yaml").exists()
    assert json.loads((data / ".skupper-double" / "calls.log").read_text().splitlines()[-1])["uid"] == NOBODY

    run("system", "apply", "-f", "-", stdin=site, xdg=True)
    run("system", "start", xdg=True)
    assert (nobody_home / "xdg" / "data" / "skupper" / "namespaces" / "default" / "runtime").is_dir()
    assert (nobody_home / "xdg" / "config" / "systemd" / "user" / "skupper-default.service").exists()
    assert not (nobody_home / "never").exists()
