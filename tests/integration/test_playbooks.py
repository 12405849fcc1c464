"""The collection's playbooks as a user runs them: the quickstart, twice."""

import json
import os

import yaml

from tests.support.playbook import run_playbook


def test_quickstart_creates_the_seed_listeners_and_reruns_unchanged(runner, tmp_path):
    home = tmp_path / "quickstart"
    first = run_playbook(runner, "playbooks/quickstart.yml", "localhost,", "-e", "skupper_quickstart_home=%s" % home)
    assert first.returncode == 0, first.stdout + first.stderr
    resources = home / "data-home" / "skupper" / "namespaces" / "hello-world-west" / "input" / "resources"
    assert sorted(os.listdir(str(resources))) == [
        "Listener-backend.yaml", "MultiKeyListener-mkl-backend-priority.yaml", "MultiKeyListener-mkl-backend.yaml",
        "Site-hello-world-west.yaml"]
    listener = yaml.safe_load((resources / "Listener-backend.yaml").read_text())
    assert listener["spec"] == {"routingKey": "backend", "host": "backend", "port": 8080}
    report = json.loads((home / "skupper-fleet-report.json").read_text())
    assert report["listeners_without_connector"] == [
        "backend", "east-backend", "east-backend-http", "west-backend", "west-backend-http"]
    assert report["failed_hosts"] == []
    assert "backend                  Listener          Pending  backend (no connector)" in first.stdout

    second = run_playbook(runner, "playbooks/quickstart.yml", "localhost,", "-e", "skupper_quickstart_home=%s" % home)
    assert second.returncode == 0, second.stdout + second.stderr
    recap = second.stdout[second.stdout.index("PLAY RECAP"):]
    assert "changed=0" in recap and "changed=1" not in recap and "failed=0" in recap


def test_example_inventory_parses(runner):
    import subprocess

    from tests.support.playbook import ROOT, ansible_playbook

    inventory = os.path.join(ROOT, "docs", "examples", "inventory.yml")
    command = [os.path.join(os.path.dirname(ansible_playbook()), "ansible-inventory"), "-i", inventory, "--list"]
    process = subprocess.run(command, capture_output=True, text=True, env=runner.env, check=False, timeout=120)
    assert process.returncode == 0, process.stderr
    listed = json.loads(process.stdout)
    assert sorted(listed["skupper_sites"]["hosts"]) == ["db-1.example.com", "edge-7.example.com", "west-cluster"]
    platforms = set(host["skupper_site_platform"] for host in listed["_meta"]["hostvars"].values())
    assert platforms == {"podman", "linux", "kubernetes"}


def test_rollout_reports_even_when_a_whole_batch_is_down(runner, tmp_path):
    """Ansible ends a run when every host of a batch fails; the rollout still writes its report."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"skupper_sites": {"hosts": {"gone": {
        "ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh",
        "skupper_site_platform": "linux", "skupper_site_name": "gone", "skupper_site_run": False}}}}))
    report = tmp_path / "report.json"
    process = run_playbook(runner, "playbooks/rollout.yml", inventory, "-e", "skupper_rollout_serial=1",
                           "-e", "skupper_rollout_report=%s" % report)
    assert process.returncode == 0, process.stdout[-3000:]
    written = json.loads(report.read_text())
    assert written["failed_hosts"] == ["gone"]
    assert "unreachable" in written["errors"]["gone"]
