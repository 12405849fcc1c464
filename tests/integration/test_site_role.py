"""The site role on this machine: a system site under a temporary data home, and a Kubernetes site.

The Skupper CLI is the stand-in tests/bin/skupper (a test double), packed as one file and installed
by the role with its checksum; SKUPPER_DOUBLE_ROOT keeps its root paths inside the test's folder.
"""

import hashlib
import json
import os
import shutil
import sys

import pytest
import yaml

from tests.integration.test_rollout_fleet import build_cli
from tests.support.playbook import merged, run_playbook
from tests.support.sites import SystemSite

# The extra suite (./scripts/test --extra, run by .ci/run after the default suite): several minutes of
# whole-site roll-outs, kept out of the default run so that it stays under 15 minutes.
pytestmark = pytest.mark.extra


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


def tree(folder):
    """Every file and folder under ``folder``: relative path -> sha256 of the bytes ("dir" for a folder)."""
    seen = {}
    for here, dirs, files in os.walk(folder):
        for name in dirs:
            seen[os.path.relpath(os.path.join(here, name), folder)] = "dir"
        for name in files:
            with open(os.path.join(here, name), "rb") as handle:
                seen[os.path.relpath(os.path.join(here, name), folder)] = hashlib.sha256(handle.read()).hexdigest()
    return seen


def add_user_input(home):
    """What a user adds by hand beside the role's Site: a subfolder, a multi-document file, a .json file
    Skupper ignores, a certificate folder with bytes that are not text, a hidden file."""
    files = {
        "resources/more/Listener-backend.yaml": yaml.safe_dump({
            "apiVersion": "skupper.io/v2alpha1", "kind": "Listener", "metadata": {"name": "backend"},
            "spec": {"routingKey": "backend", "host": "0.0.0.0", "port": 8080}}).encode(),
        "resources/connectors.yml": b"---\napiVersion: skupper.io/v2alpha1\nkind: Connector\nmetadata: {name: a}\n"
                                    b"spec: {routingKey: a, host: 127.0.0.1, port: 1}\n---\napiVersion: "
                                    b"skupper.io/v2alpha1\nkind: Connector\nmetadata: {name: b}\n"
                                    b"spec: {routingKey: b, host: 127.0.0.1, port: 2}\n",
        "resources/notes.json": b'{"kept": true}\n',
        "certs/my-ca/tls.key": bytes(range(256)) * 4,
        "resources/.hidden": b"",
    }
    for name, data in files.items():
        path = os.path.join(home, "input", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
    os.makedirs(os.path.join(home, "input", "empty"))  # an empty folder is kept too
    return files


def calls(variables):
    """The CLI double's call log: each call's arguments after the program name."""
    path = os.path.join(variables["skupper_site_data_home"], ".skupper-double", "calls.log")
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line)["argv"] for line in handle]


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

    added = add_user_input(home)
    before = tree(os.path.join(home, "input"))
    assert set(added) | {"resources/Site-west.yaml", "empty"} <= set(before)

    down = merged(variables, skupper_site_state="absent")
    gone = run(runner, play(tmp_path, "down", down))
    assert gone.returncode == 0, gone.stdout[-5000:]
    assert ["system", "stop", "--namespace", "default"] in calls(variables)
    assert not os.path.exists(home)
    backups = os.path.join(variables["skupper_site_data_home"], "backups")
    backup, = os.listdir(backups)
    assert backup.startswith("default-")
    assert tree(os.path.join(backups, backup)) == before, "every file of input/, byte for byte"
    assert "is backed up to %s" % os.path.join(backups, backup) in gone.stdout
    assert recap_changed(run(runner, play(tmp_path, "down-again", down))) == (0, 0)
    assert os.listdir(backups) == [backup], "a teardown with nothing to back up makes no backup"


def test_teardown_backs_up_to_skupper_site_backup_dir(runner, tmp_path):
    variables = system_vars(tmp_path)
    home = os.path.join(variables["skupper_site_data_home"], "namespaces", "default")
    assert run(runner, play(tmp_path, "up", variables)).returncode == 0
    add_user_input(home)
    before = tree(os.path.join(home, "input"))
    elsewhere = tmp_path / "kept" / "skupper"
    gone = run(runner, play(tmp_path, "down", merged(variables, skupper_site_state="absent",
                                                     skupper_site_backup_dir=str(elsewhere))))
    assert gone.returncode == 0, gone.stdout[-5000:]
    assert not os.path.exists(home)
    backup, = os.listdir(str(elsewhere))
    assert tree(str(elsewhere / backup)) == before
    assert not os.path.exists(os.path.join(variables["skupper_site_data_home"], "backups"))


def test_a_backup_that_cannot_be_written_stops_the_teardown_with_nothing_removed(runner, tmp_path):
    variables = system_vars(tmp_path)
    site = SystemSite(variables["skupper_site_data_home"])
    assert run(runner, play(tmp_path, "up", variables)).returncode == 0
    add_user_input(os.path.join(site.data_home, "namespaces", "default"))
    unit = tmp_path / "units" / "skupper-default.service"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    before = site.snapshot()

    refused = run(runner, play(tmp_path, "down-unwritable", merged(
        variables, skupper_site_state="absent", skupper_site_backup_dir=str(blocker / "backups"))))
    assert refused.returncode != 0
    assert "the backup of %s/namespaces/default/input to %s/backups/default-" % (site.data_home, blocker) \
        in refused.stdout, refused.stdout[-3000:]
    assert "Nothing was stopped or removed" in refused.stdout
    assert site.snapshot() == before, "nothing of the site was removed or changed"
    assert unit.exists()
    assert not any(call[:2] == ["system", "stop"] for call in calls(variables))

    inside = os.path.join(site.data_home, "namespaces", "backups")
    refused = run(runner, play(tmp_path, "down-inside", merged(
        variables, skupper_site_state="absent", skupper_site_backup_dir=inside)))
    assert refused.returncode != 0
    assert "must be an absolute path outside %s/namespaces" % site.data_home in refused.stdout
    assert site.snapshot() == before
    assert not any(call[:2] == ["system", "stop"] for call in calls(variables))


def test_the_backup_check_names_the_first_file_missing_or_different(runner, tmp_path):
    """The check the teardown runs before it removes anything (tasks/verify_backup.yml), on a copy that
    lost a file and changed another one's bytes (same size)."""
    home = tmp_path / "namespaces" / "default"
    add_user_input(str(home))
    backup = tmp_path / "backups" / "default-1"
    shutil.copytree(str(home / "input"), str(backup))
    path = tmp_path / "check.yml"

    def check(name):
        path.write_text(yaml.safe_dump([{
            "name": name, "hosts": "localhost", "connection": "local", "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "tasks": [{"name": "Check the backup", "ansible.builtin.include_role": {
                "name": "skupperlabs.network.site", "tasks_from": "verify_backup"},
                "vars": {"skupper_site_namespace_home": str(home), "skupper_site_backup_path": str(backup)}}],
        }]))
        return run(runner, str(path))

    assert check("same").returncode == 0
    (backup / "resources" / "more" / "Listener-backend.yaml").unlink()
    key = backup / "certs" / "my-ca" / "tls.key"
    key.write_bytes(b"\0" * key.stat().st_size)
    refused = check("different")
    assert refused.returncode != 0
    assert "is not complete: certs/my-ca/tls.key differs from input/" in refused.stdout, refused.stdout[-3000:]
    assert "(2 file(s) in all)" in refused.stdout
    key.unlink()
    refused = check("missing")
    assert "is not complete: certs/my-ca/tls.key is missing from the backup (2 file(s) in all)" in refused.stdout


def podman_vars(base, namespace, name):
    return merged(base, skupper_site_platform="podman", skupper_site_namespace=namespace, skupper_site_name=name)


def test_the_system_controller_stays_while_another_namespace_uses_it(runner, tmp_path):
    base = system_vars(tmp_path)
    west = podman_vars(base, "default", "west")
    east = podman_vars(base, "east", "east")
    data_home = west["skupper_site_data_home"]
    controller = os.path.join(data_home, ".skupper-double", "controller.yaml")
    controller_unit = tmp_path / "units" / "skupper-controller.service"
    for variables in (west, east):
        process = run(runner, play(tmp_path, "up-" + variables["skupper_site_name"], variables))
        assert process.returncode == 0, process.stdout[-5000:]
    assert os.path.exists(controller) and controller_unit.exists()
    site = SystemSite(data_home)
    before = site.snapshot()

    # always: Skupper's uninstall refuses while east runs, and --force would delete east's input/.
    refused = run(runner, play(tmp_path, "down-west-always", merged(west, skupper_site_state="absent",
                                                                    skupper_site_uninstall="always")))
    assert refused.returncode != 0
    assert "namespace(s) east of %s still run" % data_home in refused.stdout
    assert site.snapshot() == before, "refused before anything was backed up, stopped or removed"

    gone = run(runner, play(tmp_path, "down-west", merged(west, skupper_site_state="absent")))
    assert gone.returncode == 0, gone.stdout[-5000:]
    assert not os.path.exists(os.path.join(data_home, "namespaces", "default"))
    assert os.path.exists(os.path.join(data_home, "namespaces", "east", "runtime", "resources", "Site-east.yaml"))
    assert "the system controller stays installed: namespace(s) east" in gone.stdout
    assert os.path.exists(controller) and controller_unit.exists()
    assert not any(call[:2] == ["system", "uninstall"] for call in calls(west))

    last = run(runner, play(tmp_path, "down-east", merged(east, skupper_site_state="absent")))
    assert last.returncode == 0, last.stdout[-5000:]
    assert ["system", "uninstall"] in calls(east)
    assert not os.path.exists(controller) and not controller_unit.exists(), "the last namespace uninstalls it"
    assert sorted(name.split("-")[0] for name in os.listdir(os.path.join(data_home, "backups"))) == \
        ["default", "east"]
    assert recap_changed(run(runner, play(tmp_path, "down-east-again", merged(east, skupper_site_state="absent")))) \
        == (0, 0)


def test_never_keeps_the_system_controller(runner, tmp_path):
    west = podman_vars(system_vars(tmp_path), "default", "west")
    assert run(runner, play(tmp_path, "up", west)).returncode == 0
    gone = run(runner, play(tmp_path, "down", merged(west, skupper_site_state="absent",
                                                     skupper_site_uninstall="never")))
    assert gone.returncode == 0, gone.stdout[-5000:]
    assert os.path.exists(os.path.join(west["skupper_site_data_home"], ".skupper-double", "controller.yaml"))
    assert not any(call[:2] == ["system", "uninstall"] for call in calls(west))


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
