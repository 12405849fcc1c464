"""playbooks/rollout.yml as AWX and Ansible Automation Platform run it: through ``ansible-runner run``.

AWX lays out a private data dir per job (awx/main/tasks/jobs.py): ``project/`` (the synced project),
``inventory/hosts`` (an executable script that prints the inventory as JSON), ``env/extravars`` (the
job's extra variables) and ``env/envvars`` (what the credentials inject: the "OpenShift or Kubernetes API
Bearer Token" credential type sets ``K8S_AUTH_HOST`` and ``K8S_AUTH_API_KEY``), then runs
``ansible-runner`` on it and reads ``artifacts/<job id>/``: ``status``, ``rc`` and the events of
``job_events/``, which become the job's host summaries.

Here two Kubernetes sites of one cluster (the API test double, tests/support/kube_api_double.py, with its
controller and grant server) are rolled out, the second linked to the first by a grant, with no
kubeconfig anywhere: only the bearer token of env/envvars.
"""

import json
import os
import secrets
import shutil
import stat
import subprocess
import sys

import pytest
import yaml

from tests.integration.test_rollout_links import Cluster, secret_texts
from tests.support.playbook import ROOT

# The extra suite (./scripts/test --extra, run by .ci/run after the default suite): two whole rollouts,
# about a minute on this 2-CPU machine, kept out of the default run so that it stays under 15 minutes.
pytestmark = pytest.mark.extra

pytest.importorskip("kubernetes")
pytest.importorskip("ansible_runner")


def ansible_runner():
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-runner")
    return beside if os.path.exists(beside) else shutil.which("ansible-runner")


class PrivateDataDir:
    """An ansible-runner private data dir laid out as AWX lays out a job's."""

    def __init__(self, path, hosts, extravars, envvars):
        self.path = path
        shutil.copytree(os.path.join(ROOT, "playbooks"), str(path / "project" / "playbooks"))
        (path / "inventory").mkdir()
        (path / "env").mkdir()
        self.write_inventory(hosts)
        self.write_env("extravars", extravars)
        self.write_env("envvars", envvars)

    def write_inventory(self, hosts):
        script_data = {"skupper_sites": {"hosts": sorted(hosts)}, "_meta": {"hostvars": hosts}}
        inventory = self.path / "inventory" / "hosts"
        # As AWX's build_inventory writes it: a script printing the inventory, mode 0700.
        inventory.write_text("#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(%r)\n" % json.dumps(script_data))
        inventory.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IXUSR)

    def write_env(self, name, values):
        (self.path / "env" / name).write_text(yaml.safe_dump(values))

    def run(self, ident, environment):
        command = [ansible_runner(), "run", str(self.path), "--playbook", "playbooks/rollout.yml", "--ident", ident]
        process = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600, check=False)
        return Job(self.path / "artifacts" / ident, process)


class Job:
    """What AWX reads back from a job's artifacts."""

    def __init__(self, artifacts, process):
        self.artifacts = artifacts
        self.process = process
        self.status = (artifacts / "status").read_text().strip()
        self.rc = int((artifacts / "rc").read_text())
        self.events = []
        for name in os.listdir(str(artifacts / "job_events")):
            with open(str(artifacts / "job_events" / name)) as handle:
                self.events.append(json.load(handle))
        self.events.sort(key=lambda event: event["counter"])

    def hosts_with(self, event_name):
        return set(event["event_data"]["host"] for event in self.events if event["event"] == event_name)

    def stats(self):
        stats, = [event["event_data"] for event in self.events if event["event"] == "playbook_on_stats"]
        return stats

    def failed_tasks(self, host):
        return [event["event_data"]["task"] for event in self.events
                if event["event"] == "runner_on_failed" and event["event_data"]["host"] == host]

    def files(self):
        for folder, _dirs, names in os.walk(str(self.artifacts)):
            for name in names:
                yield os.path.join(folder, name)

    def __repr__(self):
        return "Job(%s, rc=%s)\n%s\n%s" % (self.status, self.rc, self.process.stdout[-6000:], self.process.stderr[-2000:])


def runner_environment(runner):
    """The process environment of ansible-runner: what the execution environment image has (the collection,
    ansible-core), never a Kubernetes credential: those come from env/envvars only."""
    environment = dict(runner.env)
    for name in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY"):
        environment.pop(name, None)
    environment["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), environment.get("PATH", "")])
    environment["HOME"] = str(runner.workdir)  # no ~/.kube/config to fall back on
    return environment


def credentials_in(path, credentials):
    """The credentials found in one artifact file (the first 12 characters of each, for the message).

    ansible-runner itself records its process environment, env/envvars included, in artifacts/<ident>/command
    (runner.py, for every playbook); AWX keeps that environment only through build_safe_env, which masks
    every variable named like a key or token, and removes the private data dir after the job. So in that one
    file the environment is left out and everything else (the command line, the working directory) is read."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    if os.path.basename(path) == "command":
        recorded = json.loads(text)
        recorded.pop("env")
        text = json.dumps(recorded)
    return sorted(value[:12] + "..." for value in credentials if value in text)


@pytest.fixture
def cluster(tmp_path):
    registry = tmp_path / "network"
    registry.mkdir()
    made = Cluster(tmp_path, "awx", registry)
    yield made
    made.stop()


def kubernetes_site(cluster, name, **extra):
    host = cluster.site(name, **extra)
    del host["skupper_site_kubeconfig"]  # the credential's environment is the only way in
    return host


def test_rollout_through_ansible_runner_as_awx_runs_it(runner, tmp_path, cluster):
    api_key = "awx-bearer-" + secrets.token_urlsafe(24)
    hosts = {
        "hub": kubernetes_site(cluster, "hub", skupper_site_link_access="default",
                               skupper_network_listeners=[{"name": "web", "routing_key": "web", "host": "web",
                                                           "port": 8080}],
                               skupper_network_connectors=[{"name": "db", "routing_key": "db", "host": "postgres",
                                                            "port": 5432}]),
        "spoke": kubernetes_site(cluster, "spoke", skupper_network_links=[{"site": "hub"}],
                                 skupper_network_listeners=[{"name": "db", "routing_key": "db", "host": "db",
                                                             "port": 5432}],
                                 skupper_network_connectors=[{"name": "web", "routing_key": "web", "selector": "app=web",
                                                              "port": 8080}]),
    }
    data_dir = PrivateDataDir(
        tmp_path / "job", hosts,
        # As docs/awx.md says: the report under /runner/artifacts/ (here the data dir's) stays with the job.
        extravars={"skupper_rollout_report": str(tmp_path / "job" / "artifacts" / "1" / "skupper-fleet-report.json")},
        envvars={"K8S_AUTH_HOST": cluster.double.url, "K8S_AUTH_API_KEY": api_key, "K8S_AUTH_VERIFY_SSL": "false"})
    environment = runner_environment(runner)

    job = data_dir.run("1", environment)
    assert job.status == "successful" and job.rc == 0, job
    assert job.hosts_with("runner_on_ok") >= {"hub", "spoke", "localhost"}, job
    assert job.hosts_with("runner_on_failed") == set(), job
    assert job.hosts_with("runner_on_unreachable") == set(), job
    stats = job.stats()
    assert set(stats["ok"]) == {"hub", "spoke", "localhost"} and stats["failures"] == {}, stats
    assert set(stats["changed"]) >= {"hub", "spoke"}, stats

    # The sites are there, and every request carried the credential's bearer token.
    assert cluster.double.get_object("sites", "hub", "hub") is not None
    assert cluster.double.get_object("listeners", "spoke", "db")["spec"]["port"] == 5432
    assert cluster.double.get_object("links", "spoke", "hub") is not None, "spoke linked to hub"
    requests = cluster.double.calls()
    assert requests and set(request.token for request in requests) == {api_key}
    report = json.loads((job.artifacts / "skupper-fleet-report.json").read_text())
    assert report["failed_hosts"] == [] and report["networks"] == [["hub/hub", "spoke/spoke"]]
    assert report["unreachable_routing_keys"] == []

    # A second job adds a host whose listener is refused: that host fails, the job is failed, the others
    # report ok and unchanged.
    hosts["broken"] = kubernetes_site(cluster, "broken", skupper_network_listeners=[
        {"name": "bad", "routing_key": "bad", "host": "bad", "port": 0}])
    data_dir.write_inventory(hosts)
    data_dir.write_env("extravars", {"skupper_rollout_report": str(job.artifacts.parent / "2" / "report.json")})
    failed = data_dir.run("2", environment)
    assert failed.status == "failed" and failed.rc != 0, failed
    assert failed.failed_tasks("broken"), failed
    assert failed.failed_tasks("localhost") == ["End the run failed when a host failed"], failed
    assert not failed.failed_tasks("hub") and not failed.failed_tasks("spoke"), failed
    assert failed.hosts_with("runner_on_ok") >= {"hub", "spoke", "broken", "localhost"}
    stats = failed.stats()
    assert set(stats["changed"]) & {"hub", "spoke"} == set(), "the linked sites are unchanged: %s" % stats
    report = json.loads((failed.artifacts / "report.json").read_text())
    assert report["failed_hosts"] == ["broken"]
    assert "port" in report["errors"]["broken"], report["errors"]
    assert cluster.double.list_objects("listeners", "broken") == [], "the bad listener was not written"

    # No credential in any artifact of either job: the API key, the token codes the grant server
    # redeemed, the Secret data of the link.
    credentials = {api_key} | set(cluster.codes)
    for secret in cluster.secrets():
        credentials |= secret_texts((secret.get("data") or {}).values())
    assert len(cluster.codes) == 1 and all(len(code) >= 16 for code in cluster.codes)
    assert len(credentials) > 3
    files = list(job.files()) + list(failed.files())
    assert len(files) > 20, files
    leaked = dict((os.path.relpath(path, str(tmp_path)), found) for path in files
                  for found in [credentials_in(path, credentials)] if found)
    assert leaked == {}, "credentials in the artifacts"
    # ... and the one place ansible-runner writes the environment does hold the key: the check reads real files.
    with open(str(job.artifacts / "command")) as handle:
        assert json.load(handle)["env"]["K8S_AUTH_API_KEY"] == api_key
