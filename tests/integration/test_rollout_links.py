"""playbooks/rollout.yml links the sites of one inventory: Kubernetes sites on the API test double
(tests/support/kube_api_double.py, its controller on) and Linux system sites run by the Skupper CLI test
double (tests/bin/skupper), all hosts with a local connection.

The doubles share a TEST-ONLY network registry (SKUPPER_DOUBLE_NETWORK_DIR): a Link whose endpoint is a site
recorded there turns Operational where a controller sets link status (Kubernetes; the linux platform has
no system controller, so its Links keep their render-time status, Pending "Not Operational", as in Skupper).
"""

import base64
import json
import os
import sys

import pytest
import yaml

from tests.support.kube_api_double import KubeApiDouble
from tests.support.playbook import ROOT, run_playbook

# The extra suite (./scripts/test --extra, run by .ci/run after the default suite): several minutes of
# whole-site roll-outs, kept out of the default run so that it stays under 15 minutes.
pytestmark = pytest.mark.extra

pytest.importorskip("kubernetes")

CLI = os.path.join(ROOT, "tests", "bin", "skupper")


class Cluster:
    """A Kubernetes API double with its controller, one namespace per site, and the grant server's codes."""

    def __init__(self, tmp_path, name, registry):
        self.double = KubeApiDouble(controller=True, network_dir=str(registry)).start()
        self.name = name
        self.kubeconfig = str(tmp_path / ("kubeconfig-%s" % name))
        self.double.write_kubeconfig(self.kubeconfig)
        self.codes = []
        self.redemptions = 0
        server = self.double.grant_server
        answer = server.answer

        def recording(method, raw_path, headers, body):
            # The body of a redemption is the token's code (claim_redeemer.go): kept for the grep.
            self.redemptions += 1
            if body:
                self.codes.append(body.decode() if isinstance(body, bytes) else body)
            return answer(method, raw_path, headers, body)

        server.answer = recording

    def site(self, namespace, **extra):
        self.double.create_namespace(namespace)
        host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                "skupper_site_platform": "kubernetes", "skupper_site_name": namespace,
                "skupper_site_namespace": namespace, "skupper_site_kubeconfig": self.kubeconfig,
                "skupper_site_install_controller": False, "skupper_site_wait_timeout": 30,
                "skupper_network_exclusive": True}
        host.update(extra)
        return host

    def grant_writes(self):
        return [r for r in self.double.calls(plural="accessgrants") if r.is_write and not r.subresource]

    def secrets(self):
        return self.double.list_objects("secrets")

    def stop(self):
        self.double.stop()


def system_host(tmp_path, name, registry, **extra):
    """A Linux system site of the CLI double, with a data home of its own."""
    if os.getuid() == 0:  # Skupper keeps root's sites in /var/lib/skupper: the double's TEST-ONLY root moves it
        root = tmp_path / ("root-" + name)
        data_home = root / "var" / "lib" / "skupper"
        environment = {"SKUPPER_DOUBLE_ROOT": str(root)}
    else:
        data_home = tmp_path / ("data-" + name) / "skupper"
        environment = {}
    environment["SKUPPER_DOUBLE_NETWORK_DIR"] = str(registry)
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "skupper_site_platform": "linux", "skupper_site_name": name, "skupper_site_namespace": "default",
            "skupper_site_data_home": str(data_home), "skupper_site_cli_path": CLI,
            "skupper_site_cli_environment": environment, "skupper_site_required_commands": ["python3"],
            "skupper_site_systemd": False, "skupper_network_exclusive": True}
    host.update(extra)
    return host


def namespace_home(host):
    return os.path.join(host["skupper_site_data_home"], "namespaces", host["skupper_site_namespace"])


def write_inventory(path, sites, others=None):
    data = {"all": {"children": {"skupper_sites": {"hosts": sites}}}}
    if others:
        data["all"]["children"]["elsewhere"] = {"hosts": others}
    path.write_text(yaml.safe_dump(data))
    return path


def rollout(runner, inventory, report, registry, *args):
    return run_playbook(runner, "playbooks/rollout.yml", inventory, "-e", "skupper_rollout_report=%s" % report,
                        *args, env={"SKUPPER_DOUBLE_NETWORK_DIR": str(registry)})


def recap(stdout):
    lines = stdout[stdout.index("PLAY RECAP"):].splitlines()[1:]
    return dict((line.split()[0], dict(item.split("=") for item in line.split()[2:])) for line in lines if line.strip())


def links_of(report, site):
    return dict((link["to"], link) for link in report["links"] if link["from"] == site)


def input_documents(host):
    folder = os.path.join(namespace_home(host), "input", "resources")
    documents = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as handle:
            documents.extend(doc for doc in yaml.safe_load_all(handle) if doc)
    return documents


def secret_texts(values):
    """Each credential value as the output could show it: base64, and every line of its decoded text."""
    found = set()
    for value in values:
        if not value:
            continue
        found.add(value)
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except ValueError:
            decoded = value
        if "-----BEGIN" in decoded:  # the body lines of a PEM block (connect.json holds no credential)
            found.update(line for line in decoded.splitlines() if len(line) >= 16 and "-----" not in line)
    return found


def private_key_texts(key):
    """The lines of a private key in the PEM forms a tool would print it (PKCS#8 and the traditional one)."""
    from cryptography.hazmat.primitives import serialization

    found = set()
    for form in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        pem = key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption()).decode()
        found.update(line for line in pem.splitlines() if len(line) >= 16 and "-----" not in line)
    return found


def files_named(folder, names):
    found = []
    for here, _dirs, files in os.walk(folder):
        for name in files:
            if name in names:
                with open(os.path.join(here, name)) as handle:
                    found.append(handle.read())
    return found


@pytest.fixture
def registry(tmp_path):
    folder = tmp_path / "network"
    folder.mkdir()
    return folder


@pytest.fixture
def cluster(tmp_path, registry):
    made = Cluster(tmp_path, "hub", registry)
    yield made
    made.stop()


def test_rollout_links_kubernetes_and_system_sites_and_reruns_without_a_grant(runner, tmp_path, registry, cluster):
    sites = {
        # The hub accepts links; a second namespace of the same cluster and two system sites join it.
        "hub": cluster.site("hub", skupper_site_link_access="default",
                            skupper_network_listeners=[{"name": "web", "routing_key": "web", "host": "web",
                                                        "port": 8080}],
                            skupper_network_connectors=[{"name": "db", "routing_key": "db", "host": "postgres",
                                                         "port": 5432}]),
        "spoke": cluster.site("spoke", skupper_network_links=[{"site": "hub", "cost": 2}],
                              skupper_network_listeners=[{"name": "db", "routing_key": "db", "host": "db",
                                                          "port": 5432}]),
        "sys-a": system_host(tmp_path, "sys-a", registry, skupper_site_link_access="default",
                             skupper_network_links=[{"site": "hub"}],
                             skupper_network_connectors=[{"name": "web", "routing_key": "web", "host": "127.0.0.1",
                                                          "port": 8080}]),
        "sys-b": system_host(tmp_path, "sys-b", registry,
                             skupper_network_links=[{"site": "hub"}, {"site": "sys-a", "cost": 5}],
                             skupper_network_listeners=[{"name": "db", "routing_key": "db", "host": "127.0.0.1",
                                                         "port": 15432}],
                             skupper_network_connectors=[{"name": "metrics", "routing_key": "metrics",
                                                          "host": "127.0.0.1", "port": 9100}]),
        # Planted: a site with no link, whose routing key has a connector on sys-b only.
        "planted": system_host(tmp_path, "planted", registry,
                               skupper_network_listeners=[{"name": "metrics", "routing_key": "metrics",
                                                           "host": "127.0.0.1", "port": 19100}]),
    }
    inventory = write_inventory(tmp_path / "inventory.yml", sites)
    report_path = tmp_path / "report.json"

    first = rollout(runner, inventory, report_path, registry, "-vvv")
    assert first.returncode == 0, first.stdout[-8000:] + first.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["failed_hosts"] == []

    # Kubernetes joining Kubernetes: the AccessToken redeemed by the controller, its Link Ready.
    spoke = links_of(report, "spoke/spoke")
    assert list(spoke) == ["hub/hub"]
    assert (spoke["hub/hub"]["name"], spoke["hub/hub"]["cost"], spoke["hub/hub"]["status"]) == ("hub", 2, "Ready")
    link = cluster.double.get_object("links", "spoke", "hub")
    assert link["spec"]["cost"] == 2
    # System sites joining the hub: the module redeemed the token; the Secret and Link are in input/resources.
    for name in ("sys-a", "sys-b"):
        documents = input_documents(sites[name])
        links = dict((doc["metadata"]["name"], doc) for doc in documents if doc["kind"] == "Link")
        assert "hub" in links, name
        assert {endpoint["host"] for endpoint in links["hub"]["spec"]["endpoints"]} == {
            cluster.double.link_host("hub")}
        assert not [doc for doc in documents if doc["kind"] == "AccessToken"], "never the AccessToken (skupper#2112)"
        reported = links_of(report, "%s/default" % name)["hub/hub"]
        assert reported["status"] == "Pending" and reported["message"] == "Not Operational", reported
    # sys-b joining sys-a: sys-a's static link for 127.0.0.1, renamed after sys-a's site.
    b_links = dict((doc["metadata"]["name"], doc) for doc in input_documents(sites["sys-b"]) if doc["kind"] == "Link")
    assert b_links["sys-a"]["spec"]["cost"] == 5
    static_link = os.path.join(namespace_home(sites["sys-a"]), "runtime", "links", "link-sys-a-127.0.0.1.yaml")
    with open(static_link) as handle:
        original = [doc for doc in yaml.safe_load_all(handle) if doc and doc["kind"] == "Link"][0]
    assert b_links["sys-a"]["spec"]["endpoints"] == original["spec"]["endpoints"]
    assert links_of(report, "sys-b/default")["sys-a/default"]["status"] == "Pending"
    # One grant per link, redeemed once, then removed from the hub.
    assert cluster.redemptions == 3, "sys-a and sys-b redeem themselves, the spoke's controller once"
    assert cluster.double.redemption_attempts == 1
    assert cluster.double.list_objects("accessgrants") == []

    # Networks and reachability: planted is alone, so its routing key is unreachable.
    assert report["networks"] == [["hub/hub", "spoke/spoke", "sys-a/default", "sys-b/default"], ["planted/default"]]
    assert report["routing_keys"]["web"]["reachable"] is True
    assert report["routing_keys"]["db"]["reachable"] is True
    assert report["routing_keys"]["metrics"]["reachable"] is False
    assert report["unreachable_routing_keys"] == ["metrics"]
    observed = dict(((item["site"], item["kind"]), item) for item in report["routing_keys"]["db"]["observed"])
    assert observed[("spoke/spoke", "listener")]["status"] == "Ready", observed

    # No credential in the whole -vvv output: token codes, CA keys, Secret data of every site.
    credentials = set(cluster.codes)
    for authority in (cluster.double.grant_server.site_ca, cluster.double.grant_server.ca):
        credentials |= private_key_texts(authority.key)
    for secret in cluster.secrets():
        credentials |= secret_texts((secret.get("data") or {}).values())
    for host in sites.values():
        if host["skupper_site_platform"] == "kubernetes":
            continue
        for document in input_documents(host):
            if document["kind"] == "Secret":
                credentials |= secret_texts((document.get("data") or {}).values())
        for text in files_named(namespace_home(host), {"tls.key", "ca.key"}):
            credentials |= secret_texts([base64.b64encode(text.encode()).decode()])
    assert len(cluster.codes) == 3 and all(len(code) >= 16 for code in cluster.codes)
    assert len(credentials) > 20
    output = first.stdout + first.stderr
    leaked = sorted(value[:12] + "..." for value in credentials if value in output)
    assert leaked == [], "credentials in the -vvv output"

    # A re-run: no grant written, nothing redeemed, nothing changed.
    grant_writes = len(cluster.grant_writes())
    again = rollout(runner, inventory, report_path, registry)
    assert again.returncode == 0, again.stdout[-8000:]
    counts = recap(again.stdout)
    assert {host: values["changed"] for host, values in counts.items()} == dict.fromkeys(list(sites) + ["localhost"],
                                                                                         "0")
    assert len(cluster.grant_writes()) == grant_writes, "no grant issued or removed"
    assert cluster.redemptions == 3 and cluster.double.redemption_attempts == 1
    assert json.loads(report_path.read_text())["links"] == report["links"]


def test_a_peer_that_is_down_or_refuses_fails_only_its_link(runner, tmp_path, registry, cluster):
    refuser = Cluster(tmp_path, "refuser", registry)
    refuser.double.grant_server.answer_with(403, "Redemption of access token refused")
    gone = KubeApiDouble().start()  # a cluster whose API server is down by the time the sites link
    gone.create_namespace("gone")
    gone_kubeconfig = gone.write_kubeconfig(tmp_path / "kubeconfig-gone", namespace="gone")
    gone.stop()
    try:
        joiner = system_host(tmp_path, "joiner", registry, skupper_network_links=[
            {"site": "hub"}, {"site": "refuser"}, {"site": "dead"}, {"site": "closed"}, {"site": "nowhere"},
            {"site": "idle"}])
        sites = {
            "hub": cluster.site("hub", skupper_site_link_access="default"),
            "refuser": refuser.site("refuser", skupper_site_link_access="default"),
            "closed": system_host(tmp_path, "closed", registry),
            "idle": system_host(tmp_path, "idle", registry, skupper_site_link_access="default",
                                skupper_site_run=False),
            "joiner": joiner,
        }
        others = {"dead": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                           "skupper_site_platform": "kubernetes", "skupper_site_namespace": "gone",
                           "skupper_site_kubeconfig": str(gone_kubeconfig)}}
        # A link this collection made earlier and that the inventory no longer declares (exclusive prunes it).
        resources = os.path.join(namespace_home(joiner), "input", "resources")
        os.makedirs(resources)
        managed = {"app.kubernetes.io/managed-by": "skupperlabs.network"}
        with open(os.path.join(resources, "Link-old.yaml"), "w") as handle:
            yaml.safe_dump({"apiVersion": "skupper.io/v2alpha1", "kind": "Link",
                            "metadata": {"name": "old", "labels": managed},
                            "spec": {"endpoints": [{"name": "inter-router", "host": "10.9.9.9", "port": "55671"}],
                                     "tlsCredentials": "old"}}, handle)
        with open(os.path.join(resources, "Secret-old.yaml"), "w") as handle:
            yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "old", "labels": managed},
                            "data": {"ca.crt": "", "tls.crt": "", "tls.key": ""}}, handle)
        inventory = write_inventory(tmp_path / "inventory.yml", sites, others)
        report_path = tmp_path / "report.json"

        process = rollout(runner, inventory, report_path, registry)
        assert process.returncode == 0, process.stdout[-8000:] + process.stderr[-3000:]
        counts = recap(process.stdout)
        assert counts["joiner"]["failed"] == "0" and counts["joiner"]["unreachable"] == "0", counts
        report = json.loads(report_path.read_text())
        assert report["failed_hosts"] == []
        links = links_of(report, "joiner/default")
        assert sorted(links) == ["closed/default", "dead/gone", "hub/hub", "idle/default", "nowhere/default",
                                 "refuser/refuser"]
        assert links["hub/hub"]["status"] == "Pending" and links["hub/hub"]["message"] == "Not Operational"
        assert links["refuser/refuser"]["status"] == "Failed"
        assert "refuser" in links["refuser/refuser"]["message"]
        assert "Redemption of access token refused" in links["refuser/refuser"]["message"]
        assert links["dead/gone"]["status"] == "Failed" and "peer dead" in links["dead/gone"]["message"]
        assert links["closed/default"]["status"] == "Failed"
        assert "closed" in links["closed/default"]["message"] and "link access" in links["closed/default"]["message"]
        assert links["nowhere/default"]["status"] == "Failed"
        assert "not in the inventory" in links["nowhere/default"]["message"]
        assert links["idle/default"]["status"] == "Pending"
        assert "not started" in links["idle/default"]["message"]

        names = sorted(doc["metadata"]["name"] for doc in input_documents(joiner) if doc["kind"] == "Link")
        assert names == ["hub"], "only the link that was made; the undeclared managed one removed"
        assert "Secret-old.yaml" not in os.listdir(resources)
        assert refuser.redemptions >= 1 and cluster.redemptions == 1
    finally:
        refuser.stop()
