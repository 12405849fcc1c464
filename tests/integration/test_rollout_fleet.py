"""playbooks/rollout.yml over a real fleet: ten SSH hosts in network namespaces and a Kubernetes site, linked.

Each Linux host runs the site role (the Skupper CLI installed from a file on the controller
with its checksum; the CLI is the stand-in tests/bin/skupper, a test double) and the network
role over SSH; the Kubernetes site runs on the API test double. The inventory plants routing
keys with no connector and a connector with no listener, which the report must name. The hosts link to
the Kubernetes site (its grants redeemed over HTTPS on the fleet's bridge) and some to each other (static
links), with h9 left unlinked: the routing keys that need it are unreachable.
"""

import hashlib
import json
import os
import sys
import threading
import time
import zipapp

import pytest
import yaml

from tests.support.fleet import Fleet, fleet_available
from tests.support.playbook import run_playbook

# The extra suite: ./scripts/test --extra (.ci/run runs it after the default suite).
pytestmark = pytest.mark.extra

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COUNT = 10


def build_cli(folder):
    """The stand-in CLI and its two support modules as one executable file (a zipapp), as a release binary is one."""
    source = os.path.join(str(folder), "skupper-src")
    os.makedirs(source)
    with open(os.path.join(ROOT, "tests", "bin", "skupper")) as handle:
        main = handle.read()
    with open(os.path.join(source, "__main__.py"), "w") as handle:
        handle.write(main)
    for name in ("system_controller.py", "skupper_status.py"):
        with open(os.path.join(ROOT, "tests", "support", name)) as src, open(os.path.join(source, name), "w") as dst:
            dst.write(src.read())
    target = os.path.join(str(folder), "skupper")
    zipapp.create_archive(source, target, interpreter="/usr/bin/env python3")
    with open(target, "rb") as handle:
        return target, "sha256:" + hashlib.sha256(handle.read()).hexdigest()


def declared(name):
    """What the inventory declares for host hN: a listener for the next host's service, a connector for its own."""
    number = int(name[1:])
    listeners = [{"name": "svc-%d" % (number % COUNT + 1), "routing_key": "svc-%d" % (number % COUNT + 1),
                  "host": "0.0.0.0", "port": 8000 + number}]
    connectors = [{"name": "svc-%d" % number, "routing_key": "svc-%d" % number, "host": "127.0.0.1", "port": 9000}]
    if number == 3:
        listeners.append({"name": "orphan", "routing_key": "orphan", "host": "0.0.0.0", "port": 7000})
    if number == 5:
        connectors.append({"name": "lonely", "routing_key": "lonely", "host": "127.0.0.1", "port": 7001})
    multikeylisteners = []
    if number == 1:
        multikeylisteners.append({"name": "mkl", "host": "0.0.0.0", "port": 9092, "strategy": {
            "weighted": {"routing_keys": {"svc-4": 1, "svc-6": 3}}}})
    return listeners, multikeylisteners, connectors


@pytest.fixture
def fleet(tmp_path):
    available, reason = fleet_available()
    if not available:
        if os.environ.get("CI"):
            pytest.fail("the SSH fleet must run on CI: %s" % reason)
        pytest.skip(reason)
    with Fleet(count=COUNT, workdir=tmp_path / "fleet") as hosts:
        yield hosts


def links(name):
    """The links hN declares: every host but h9 (planted with no link) to the cluster, and each of h2, h4, h6,
    h8 also to the host before it (a static link: odd hosts but h9 have link access)."""
    number = int(name[1:])
    if number == 9:
        return []
    declared_links = [{"site": "cluster"}]
    if number % 2 == 0 and number < 10:
        declared_links.append({"site": "h%d" % (number - 1), "cost": 2})
    return declared_links


def link_access(name):
    number = int(name[1:])
    return "default" if number % 2 == 1 and number != 9 else ""


@pytest.fixture
def inventory(fleet, kube_site, tmp_path):
    cli, checksum = build_cli(tmp_path)
    registry = tmp_path / "network"
    registry.mkdir()
    if kube_site.double:
        kube_site.double.controller_enabled = True
        # The fleet's hosts reach the grant server on the bridge's address (test-bench.md "TLS and grant servers").
        kube_site.double.grant_server_host = fleet.gateway
        kube_site.double.network_dir = str(registry)

    def host_vars(host):
        listeners, multikeylisteners, connectors = declared(host.name)
        return {
            "skupper_site_platform": "linux",
            "skupper_site_name": host.name,
            "skupper_site_cli_src": cli,
            "skupper_site_cli_checksum": checksum,
            # Per host: the fleet's hosts share the machine's /usr and /etc, not /var/lib/skupper.
            "skupper_site_cli_path": "/var/lib/skupper/bin/skupper",
            "skupper_site_cli_environment": {"SKUPPER_DOUBLE_UNIT_DIR": "/var/lib/skupper/units",
                                             "SKUPPER_DOUBLE_NETWORK_DIR": str(registry)},
            "skupper_site_link_access": link_access(host.name),
            "skupper_network_links": links(host.name),
            "skupper_site_required_commands": ["python3"],
            "skupper_site_systemd": False,
            "skupper_network_listeners": listeners,
            "skupper_network_multikeylisteners": multikeylisteners,
            "skupper_network_connectors": connectors,
            "skupper_network_exclusive": True,
        }

    path = tmp_path / "inventory.yml"
    fleet.inventory(path, extra_hostvars=host_vars)
    with open(str(path)) as handle:
        data = yaml.safe_load(handle)
    data["all"]["children"]["skupper_sites"]["hosts"]["cluster"] = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "skupper_site_platform": "kubernetes",
        "skupper_site_name": "cluster",
        "skupper_site_namespace": kube_site.namespace,
        "skupper_site_kubeconfig": str(kube_site.args["kubeconfig"]),
        "skupper_site_install_controller": False,
        "skupper_site_wait_timeout": 30,
        "skupper_site_link_access": "default",
        "skupper_network_listeners": [{"name": "svc-1", "routing_key": "svc-1", "host": "svc-1", "port": 8080}],
        "skupper_network_connectors": [{"name": "metrics", "routing_key": "metrics", "selector": "app=metrics",
                                        "port": 9100}],
    }
    with open(str(path), "w") as handle:
        yaml.safe_dump(data, handle)
    return path


def rollout(runner, inventory, report):
    return run_playbook(runner, "playbooks/rollout.yml", inventory, "-e", "skupper_rollout_report=%s" % report,
                        "-e", "skupper_rollout_serial=5", env={"ANSIBLE_HOST_KEY_CHECKING": "False"})


def resources(fleet, name):
    folder = os.path.join(fleet.data_home(name), "namespaces", "default", "input", "resources")
    return sorted(os.listdir(folder))


def recap(stdout):
    lines = stdout[stdout.index("PLAY RECAP"):].splitlines()[1:]
    return dict((line.split()[0], dict(item.split("=") for item in line.split()[2:])) for line in lines if line.strip())


def test_rollout_brings_up_the_fleet_and_reruns_unchanged(fleet, inventory, kube_site, runner, tmp_path):
    report_path = tmp_path / "report.json"
    started = time.monotonic()
    first = rollout(runner, inventory, report_path)
    first_seconds = time.monotonic() - started
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]

    for host in fleet.hosts:
        listeners, multikeylisteners, connectors = declared(host.name)
        expected = sorted(["Site-%s.yaml" % host.name]
                          + ["Listener-%s.yaml" % item["name"] for item in listeners]
                          + ["MultiKeyListener-%s.yaml" % item["name"] for item in multikeylisteners]
                          + ["Connector-%s.yaml" % item["name"] for item in connectors])
        assert set(resources(fleet, host.name)) >= set(expected), host.name
        runtime = os.path.join(fleet.data_home(host.name), "namespaces", "default", "runtime", "resources")
        assert set(os.listdir(runtime)) >= set(expected), "%s: started and reloaded" % host.name
        made = sorted(name[len("Link-"):-len(".yaml")] for name in os.listdir(runtime) if name.startswith("Link-"))
        assert made == sorted("cluster" if item["site"] == "cluster" else item["site"]
                              for item in links(host.name)), "%s: its links, running" % host.name
    assert kube_site.read("Site", "cluster") is not None
    assert kube_site.read("Listener", "svc-1")["spec"]["port"] == 8080

    report = json.loads(report_path.read_text())
    assert report["listeners_without_connector"] == ["orphan"]
    assert report["connectors_without_listener"] == ["lonely", "metrics"]
    assert report["failed_hosts"] == []
    svc_1 = report["routing_keys"]["svc-1"]
    assert (svc_1["listeners"], svc_1["connectors"]) == (["cluster/%s" % kube_site.namespace, "h10/default"],
                                                         ["h1/default"])
    # Links: nine hosts to the cluster, four static links; h9 is planted alone.
    cluster_site = "cluster/%s" % kube_site.namespace
    made = sorted((link["from"], link["to"]) for link in report["links"])
    assert made == sorted([("h%d/default" % n, cluster_site) for n in range(1, 11) if n != 9]
                          + [("h%d/default" % n, "h%d/default" % (n - 1)) for n in (2, 4, 6, 8)])
    assert not [link for link in report["links"] if link["status"] == "Failed"], report["links"]
    assert report["networks"] == [sorted([cluster_site] + ["h%d/default" % n for n in range(1, 11) if n != 9]),
                                  ["h9/default"]]
    # svc-9 (listener h8, connector h9) and svc-10 (listener h9, connector h10) need h9, which is not linked.
    assert report["unreachable_routing_keys"] == ["lonely", "metrics", "orphan", "svc-10", "svc-9"]
    assert report["routing_keys"]["svc-4"]["reachable"] is True
    assert not kube_site.double or kube_site.double.list_objects("accessgrants") == [], "grants removed once redeemed"
    grant_writes = len([r for r in kube_site.double.calls(plural="accessgrants") if r.is_write]) \
        if kube_site.double else 0
    assert sorted(report["routing_keys"]["svc-4"]["listeners"]) == ["h1/default", "h3/default"]
    assert "orphan" in first.stdout and "no connector anywhere" in first.stdout

    again = rollout(runner, inventory, report_path)
    assert again.returncode == 0, again.stdout[-6000:]
    changed = dict((host, counts["changed"]) for host, counts in recap(again.stdout).items())
    assert set(changed.values()) == {"0"}, changed
    if kube_site.double:
        assert len([r for r in kube_site.double.calls(plural="accessgrants") if r.is_write]) == grant_writes, \
            "a re-run issues no grant"
    print("\nrollout over %d hosts + 1 cluster: first run %.1f s" % (COUNT, first_seconds))

    # The same fleet, torn down: one rollout serves both, the slowest part of the suite.
    tear_down_keeping_every_input_file(fleet, inventory, runner, tmp_path)


def test_a_host_down_mid_rollout(fleet, inventory, kube_site, runner, tmp_path):
    report_path = tmp_path / "report.json"
    victim = "h7"
    site_file = os.path.join(fleet.data_home(victim), "namespaces", "default", "input", "resources",
                             "Site-%s.yaml" % victim)

    def pull_the_plug():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not os.path.exists(site_file):
            time.sleep(0.05)
        fleet.stop_host(victim)

    thread = threading.Thread(target=pull_the_plug, daemon=True)
    thread.start()
    process = rollout(runner, inventory, report_path)
    thread.join()
    counts = recap(process.stdout)
    assert process.returncode != 0, "a lost host fails the run, once the report is written"
    assert counts[victim]["rescued"] != "0"
    for host in fleet.hosts:
        if host.name != victim:
            assert counts[host.name]["failed"] == "0" and counts[host.name]["unreachable"] == "0", host.name
            assert "Listener-svc-%d.yaml" % (int(host.name[1:]) % COUNT + 1) in resources(fleet, host.name)
    report = json.loads(report_path.read_text())
    assert report["failed_hosts"] == [victim]
    assert "unreachable" in report["errors"][victim]
    assert "failed hosts: %s" % victim in process.stdout
    # h8 links to h7 by its static link: only that link fails, and says which peer.
    h8_links = dict((link["to"], link) for link in report["links"] if link["from"] == "h8/default")
    assert h8_links["h7/default"]["status"] == "Failed" and "h7" in h8_links["h7/default"]["message"]
    assert h8_links["cluster/%s" % kube_site.namespace]["status"] != "Failed"


# ---------------------------------------------------------------------------
# Teardown: the site role with skupper_site_state absent over the fleet's Linux hosts
# ---------------------------------------------------------------------------

def input_tree(folder):
    """Every file and folder under ``folder``: relative path -> sha256 of the bytes ("folder" for a folder)."""
    seen = {}
    for here, dirs, files in os.walk(folder):
        for name in dirs:
            seen[os.path.relpath(os.path.join(here, name), folder)] = "folder"
        for name in files:
            with open(os.path.join(here, name), "rb") as handle:
                seen[os.path.relpath(os.path.join(here, name), folder)] = hashlib.sha256(handle.read()).hexdigest()
    return seen


def add_input_by_hand(input_folder, number):
    """Input a user adds beside the roles' files: a subfolder, a multi-document file, a key that is not text."""
    extra = {
        os.path.join("resources", "more", "Connector-by-hand.yaml"): yaml.safe_dump({
            "apiVersion": "skupper.io/v2alpha1", "kind": "Connector", "metadata": {"name": "by-hand"},
            "spec": {"routingKey": "by-hand-%d" % number, "host": "127.0.0.1", "port": 7000 + number}}).encode(),
        os.path.join("resources", "two.yml"): b"---\nkind: Listener\n---\nkind: Connector\n",
        os.path.join("certs", "my-ca", "tls.key"): os.urandom(2048),
    }
    for name, data in extra.items():
        path = os.path.join(input_folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)


def tear_down_keeping_every_input_file(fleet, inventory, runner, tmp_path):
    """The site role's teardown of a rolled-out fleet: every input file in the backup, byte for byte,
    after the CLI double's ``system stop`` removed the namespace home (bootstrap/teardown.go)."""
    before = {}
    for host in fleet.hosts:
        folder = os.path.join(fleet.data_home(host.name), "namespaces", "default", "input")
        add_input_by_hand(folder, int(host.name[1:]))
        before[host.name] = input_tree(folder)
        assert len(before[host.name]) >= 10, host.name

    playbook = tmp_path / "teardown.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Tear the Linux sites down", "hosts": "skupper_sites:!cluster", "gather_facts": False,
        "roles": [{"role": "skupperlabs.network.site", "vars": {"skupper_site_state": "absent"}}],
    }]))
    down = run_playbook(runner, str(playbook), inventory, env={"ANSIBLE_HOST_KEY_CHECKING": "False"})
    assert down.returncode == 0, down.stdout[-6000:] + down.stderr[-3000:]

    for host in fleet.hosts:
        data_home = fleet.data_home(host.name)
        assert not os.path.exists(os.path.join(data_home, "namespaces", "default")), host.name
        with open(os.path.join(data_home, ".skupper-double", "calls.log")) as handle:
            commands = [json.loads(line)["argv"] for line in handle]
        assert ["system", "stop", "--namespace", "default"] in commands, "%s: the CLI removed the namespace" % host
        backup, = os.listdir(os.path.join(data_home, "backups"))
        assert input_tree(os.path.join(data_home, "backups", backup)) == before[host.name], \
            "%s: every input file in the backup, byte for byte" % host.name
        assert "is backed up to /var/lib/skupper/backups/%s" % backup in down.stdout, host.name
