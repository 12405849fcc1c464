"""The system-site test doubles pinned to what Skupper's source does.

Each test names, in its docstring, the file of Skupper's source
(github ``skupperproject/skupper``, tags 2.0.0 to 2.2.1 and main) that the
behaviour comes from. A double that drifts back to an earlier, wrong reading of
Skupper fails here. The doubles: ``tests/bin/skupper`` (the CLI, run in a
subprocess against a private root) and ``tests/support/system_controller.py``
(called directly).
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.support import system_controller
from tests.support.system_controller import SystemSiteError

ROOT = Path(__file__).resolve().parents[2]
SKUPPER = ROOT / "tests" / "bin" / "skupper"
API = "skupper.io/v2alpha1"


def resource(kind, name, spec=None, namespace=None, api_version=API):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
    if namespace:
        obj["metadata"]["namespace"] = namespace
    if spec is not None:
        obj["spec"] = spec
    return obj


def site(name="west", namespace=None, **spec):
    return resource("Site", name, spec, namespace)


def listener(name, key="backend", host="127.0.0.1", port=8080, namespace=None, **extra):
    return resource("Listener", name, dict({"routingKey": key, "host": host, "port": port}, **extra), namespace)


def connector(name, key="backend", host="127.0.0.1", port=8080, namespace=None, **extra):
    return resource("Connector", name, dict({"routingKey": key, "host": host, "port": port}, **extra), namespace)


def priority_mkl(name, keys, host="127.0.0.1", port=5432, namespace=None):
    return resource("MultiKeyListener", name,
                    {"host": host, "port": port, "strategy": {"priority": {"routingKeys": list(keys)}}}, namespace)


def weighted_mkl(name, weights, host="127.0.0.1", port=5432, namespace=None):
    return resource("MultiKeyListener", name,
                    {"host": host, "port": port, "strategy": {"weighted": {"routingKeys": dict(weights)}}}, namespace)


def condition(obj, ctype):
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item["type"] == ctype:
            return item
    return None


class Cli:
    """Runs the CLI double against a private root, as root or as this user."""

    def __init__(self, base):
        self.base = Path(base)
        (self.base / "root").mkdir(parents=True, exist_ok=True)
        (self.base / "home").mkdir(parents=True, exist_ok=True)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.base / "home"),
                    "LANG": "C.UTF-8", "SKUPPER_DOUBLE_ROOT": str(self.base / "root"), "SKUPPER_PLATFORM": "podman"}

    @property
    def data_home(self):
        if os.getuid() == 0:
            return self.base / "root" / "var" / "lib" / "skupper"
        return self.base / "home" / ".local" / "share" / "skupper"

    @property
    def unit_dir(self):
        if os.getuid() == 0:
            return self.base / "root" / "etc" / "systemd" / "system"
        return self.base / "home" / ".config" / "systemd" / "user"

    def ns_home(self, namespace="default"):
        return self.data_home / "namespaces" / namespace

    def input_dir(self, namespace="default"):
        return self.ns_home(namespace) / "input" / "resources"

    def run(self, *args, stdin=None, expect=0, env=None):
        run_env = dict(self.env, **(env or {}))
        result = subprocess.run([sys.executable, str(SKUPPER)] + list(args), input=stdin, capture_output=True,
                                text=True, env=run_env, cwd=str(self.base), timeout=60, check=False)
        if expect is not None:
            assert result.returncode == expect, (args, result.returncode, result.stdout, result.stderr)
        return result

    def apply(self, *objects, namespace=None, expect=0):
        args = ["system", "apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        return self.run(*args, stdin=yaml.safe_dump_all(list(objects)), expect=expect)

    def write(self, relative, objects, namespace="default"):
        """Write input the way a user (or the collection) would: any file name, one or several documents."""
        path = self.input_dir(namespace) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all(objects) if isinstance(objects, list) else objects)
        return path

    def runtime(self, kind, name, namespace="default"):
        path = self.ns_home(namespace) / "runtime" / "resources" / ("%s-%s.yaml" % (kind, name))
        return yaml.safe_load(path.read_text()) if path.exists() else None


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def write_input(data_home, relative, objects, namespace="default"):
    path = Path(system_controller.input_dir(data_home, namespace)) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(objects) if isinstance(objects, list) else objects)
    return path


# ---- 1. stop removes the whole namespace home -------------------------------------------------------------

def test_stop_removes_the_whole_namespace_home_input_included(cli):
    """internal/nonkube/bootstrap/teardown.go: Teardown removes the unit (removeService), then
    removeDefinition does os.RemoveAll of the namespace home: input/ goes too, in 2.0.0 to 2.2.1 and main."""
    cli.apply(site(), listener("backend"), namespace="east")
    extra = cli.write("hand-written.yaml", [connector("db", key="db")], namespace="east")
    (cli.ns_home("east") / "input" / "certs").mkdir(parents=True)
    cli.run("system", "start", "-n", "east")
    unit = cli.unit_dir / "skupper-east.service"
    assert unit.exists() and extra.exists()

    result = cli.run("system", "stop", "-n", "east")
    assert result.stdout.strip() == 'Namespace "east" has been removed'
    assert not cli.ns_home("east").exists()
    assert not unit.exists()
    assert (cli.data_home / "namespaces").is_dir()  # only the namespace's own folder goes


def test_stop_of_a_namespace_not_started_refuses_and_removes_nothing(cli):
    """internal/cmd/skupper/system/nonkube/system_stop.go ValidateInput: NamespacePlatformLoader.Load
    (internal/nonkube/common/platform.go) fails without internal/platform.yaml: exit 2, nothing removed."""
    cli.apply(site())
    result = cli.run("system", "stop", expect=2)
    assert result.stdout.startswith("failed to read platform config file for namespace default: open ")
    assert "internal/platform.yaml: no such file or directory" in result.stdout
    assert (cli.input_dir() / "Site-west.yaml").exists()


def test_stop_with_another_platform_refuses_and_keeps_everything(cli):
    """internal/cmd/skupper/system/nonkube/system_stop.go ValidateInput: "existing namespace uses %q platform
    and it cannot change to %q" (a validation error: exit 2)."""
    cli.apply(site())
    cli.run("system", "start")
    result = cli.run("system", "stop", env={"SKUPPER_PLATFORM": "docker"}, expect=2)
    assert result.stdout.strip() == 'existing namespace uses "podman" platform and it cannot change to "docker"'
    assert (cli.input_dir() / "Site-west.yaml").exists() and (cli.ns_home() / "runtime").is_dir()


def test_forced_uninstall_removes_every_namespace_home(cli):
    """internal/cmd/skupper/system/nonkube/system_uninstall.go Run: with --force every folder under
    namespaces/ goes, a running one through Teardown, any other one with os.RemoveAll."""
    cli.run("system", "install")
    cli.apply(site())
    cli.run("system", "start")
    cli.apply(site("idle"), namespace="idle")
    halted = cli.run("system", "uninstall", expect=2)
    assert "The west site is active (namespace default)" in halted.stdout  # bootstrap/uninstall.go
    assert cli.ns_home().exists() and cli.ns_home("idle").exists()
    forced = cli.run("system", "uninstall", "--force")
    assert forced.stdout.splitlines()[:3] == ['Removing active site namespace "default"',
                                              'Namespace "default" has been removed',
                                              'Namespace "idle" has been removed']
    assert list((cli.data_home / "namespaces").iterdir()) == []


def test_stop_site_function_removes_the_namespace_home(tmp_path):
    """internal/nonkube/bootstrap/teardown.go removeDefinition, played by system_controller.stop_site."""
    write_input(tmp_path, "Site-here.yaml", [site("here")])
    system_controller.start_site(tmp_path, platform="linux")
    assert system_controller.stop_site(tmp_path) is True
    assert not os.path.exists(system_controller.namespace_home(tmp_path))
