"""The site role on this machine: a system site under a temporary data home, and a Kubernetes site.

The Skupper CLI is the stand-in tests/bin/skupper (a test double), packed as one file and installed
by the role with its checksum; SKUPPER_DOUBLE_ROOT keeps its root paths inside the test's folder.
"""

import os
import sys

import pytest
import yaml

from tests.integration.test_rollout_fleet import build_cli
from tests.support.playbook import merged, run_playbook


def play(tmp_path, name, variables, role="skupperlabs.network.site"):
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump([{
        "name": name, "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": merged(variables, ansible_python_interpreter=sys.executable),
        "roles": [{"role": role}],
    }]))
    return str(path)


def run(runner, path, *args):
    return run_playbook(runner, path, "localhost,", *args)


def recap_changed(process):
    line = next(line for line in process.stdout.splitlines() if line.startswith("localhost "))
    return int(line.split("changed=")[1].split()[0]), int(line.split("failed=")[1].split()[0])


def system_vars(tmp_path):
    cli, checksum = build_cli(tmp_path)
    root = tmp_path / "root"
    return {
        "skupper_site_platform": "linux",
        "skupper_site_name": "west",
        "skupper_site_data_home": str(root / "var" / "lib" / "skupper"),
        "skupper_site_cli_src": cli,
        "skupper_site_cli_checksum": checksum,
        "skupper_site_cli_path": str(tmp_path / "bin" / "skupper"),
        "skupper_site_cli_environment": {"SKUPPER_DOUBLE_ROOT": str(root),
                                         "SKUPPER_DOUBLE_UNIT_DIR": str(tmp_path / "units")},
        "skupper_site_required_commands": ["python3"],
        "skupper_site_systemd": False,
    }


def test_system_site_up_then_unchanged_then_torn_down_with_a_backup(runner, tmp_path):
    variables = system_vars(tmp_path)
    home = os.path.join(variables["skupper_site_data_home"], "namespaces", "default")
    first = run(runner, play(tmp_path, "up", variables))
    assert first.returncode == 0, first.stdout[-5000:]
    assert os.access(variables["skupper_site_cli_path"], os.X_OK)
    assert os.listdir(os.path.join(home, "input", "resources")) == ["Site-west.yaml"]
    assert os.path.exists(os.path.join(home, "runtime", "resources", "Site-west.yaml"))
    assert os.path.exists(str(tmp_path / "units" / "skupper-default.service"))
    assert recap_changed(run(runner, play(tmp_path, "again", variables))) == (0, 0)

    down = merged(variables, skupper_site_state="absent")
    gone = run(runner, play(tmp_path, "down", down))
    assert gone.returncode == 0, gone.stdout[-5000:]
    assert not os.path.exists(home)
    backups = os.path.join(variables["skupper_site_data_home"], "backups")
    backup, = os.listdir(backups)
    assert backup.startswith("default-")
    assert os.listdir(os.path.join(backups, backup, "resources")) == ["Site-west.yaml"]
    assert recap_changed(run(runner, play(tmp_path, "down-again", down))) == (0, 0)


def test_cli_with_a_wrong_checksum_is_refused(runner, tmp_path):
    variables = merged(system_vars(tmp_path), skupper_site_cli_checksum="sha256:" + "0" * 64)
    process = run(runner, play(tmp_path, "bad-checksum", variables))
    assert process.returncode != 0
    assert "does not match skupper_site_cli_checksum" in process.stdout
    assert not os.path.exists(variables["skupper_site_cli_path"])


def test_missing_platform_command_is_named(runner, tmp_path):
    variables = merged(system_vars(tmp_path), skupper_site_required_commands=["python3", "skrouterd-not-here"])
    process = run(runner, play(tmp_path, "no-router", variables))
    assert process.returncode != 0
    assert "skupper_site_platform linux needs skrouterd-not-here on localhost" in process.stdout
    assert not os.path.exists(variables["skupper_site_data_home"]), "nothing is set up before the check"


def test_kubernetes_site_with_its_controller_manifest(kube_site, runner, tmp_path):
    if kube_site.double is None:
        pytest.skip("applies a stand-in manifest; run on the API double only")
    kube_site.double.controller_enabled = True
    manifest = tmp_path / "controller.yaml"
    manifest.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "skupper-controller-stand-in", "namespace": kube_site.namespace},
        "data": {"version": "2.1.1"}}))
    variables = {
        "skupper_site_platform": "kubernetes",
        "skupper_site_name": "west",
        "skupper_site_namespace": kube_site.namespace,
        "skupper_site_kubeconfig": str(kube_site.args["kubeconfig"]),
        "skupper_site_controller_manifest": str(manifest),
        "skupper_site_kubectl_args": ["--validate=false"],
        "skupper_site_wait_timeout": 20,
    }
    first = run(runner, play(tmp_path, "k8s-up", variables))
    assert first.returncode == 0, first.stdout[-5000:]
    assert kube_site.target.core.read_namespaced_config_map("skupper-controller-stand-in", kube_site.namespace)
    assert kube_site.read("Site", "west")["status"]["status"] == "Ready"
    assert recap_changed(run(runner, play(tmp_path, "k8s-again", variables))) == (0, 0)

    missing = run(runner, play(tmp_path, "k8s-no-manifest", merged(variables, skupper_site_controller_manifest="")))
    assert missing.returncode != 0
    assert "skupper_site_controller_manifest is required" in missing.stdout


def test_cli_from_a_url_with_its_checksum(runner, tmp_path):
    variables = system_vars(tmp_path)
    variables["skupper_site_cli_src"] = "file://" + variables["skupper_site_cli_src"]
    process = run(runner, play(tmp_path, "from-url", variables))
    assert process.returncode == 0, process.stdout[-5000:]
    assert os.access(variables["skupper_site_cli_path"], os.X_OK)
    wrong = merged(variables, skupper_site_cli_checksum="sha256:" + "1" * 64,
                   skupper_site_cli_path=str(tmp_path / "other" / "skupper"))
    refused = run(runner, play(tmp_path, "from-url-wrong", wrong))
    assert refused.returncode != 0 and "checksum" in refused.stdout.lower()
    assert not os.path.exists(wrong["skupper_site_cli_path"])
