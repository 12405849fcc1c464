"""The test doubles link sites as Skupper does: static links of system sites, Link status, the TEST-ONLY
network registry shared by the system-site and Kubernetes doubles, and the Kubernetes double's grant server
address.

Each test names, in its docstring, the file of Skupper's source (github skupperproject/skupper, main
80b1ba6d, same in 2.2.1) the behaviour comes from. The doubles: tests/support/system_controller.py (called
directly, and through the CLI double tests/bin/skupper), tests/support/kube_api_double.py.
"""

import base64
import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

from tests.support import system_controller  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SKUPPER = ROOT / "tests" / "bin" / "skupper"
API = "skupper.io/v2alpha1"


def obj(kind, name, spec, api_version=API):
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}


def write_input(data_home, relative, objects, namespace="default"):
    path = Path(system_controller.input_dir(data_home, namespace)) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(objects) if isinstance(objects, list) else objects)
    return path


def runtime(data_home, kind, name, namespace="default"):
    return system_controller.read_runtime(data_home, namespace, kind, name)


def links_dir(data_home, namespace="default"):
    return Path(system_controller.namespace_home(data_home, namespace)) / "runtime" / "links"


def conditions(resource):
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in resource["status"]["conditions"]}


def load_cert(pem):
    return x509.load_pem_x509_certificate(pem.encode("ascii") if isinstance(pem, str) else pem)


def signed_by(cert, ca):
    ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                           cert.signature_hash_algorithm)
    return cert.issuer == ca.subject


def sans(cert):
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ([str(ip) for ip in names.get_values_for_type(x509.IPAddress)],
            list(names.get_values_for_type(x509.DNSName)))


def start_site(data_home, name, registry=None, link_access=True, extra=(), **kwargs):
    spec = {"linkAccess": "default"} if link_access else {}
    write_input(data_home, "site.yaml", [obj("Site", name, spec)] + list(extra))
    system_controller.start_site(data_home, registry=registry, **kwargs)


def copy_static_link(source_home, site_name, host, target_home, file_name="link.yaml"):
    text = (links_dir(source_home) / ("link-%s-%s.yaml" % (site_name, host))).read_text()
    return write_input(target_home, file_name, text)


@pytest.fixture
def registry(tmp_path):
    return str(tmp_path / "network")


# ---------------------------------------------------------------------------
# Static links
# ---------------------------------------------------------------------------

def test_static_links_of_a_site_with_link_access(tmp_path):
    """fs_config_renderer.go createTokens, pkg/nonkube/api/token.go CreateTokens/Marshal,
    site_state_renderer_common.go EnableLinkAccess, utils/access.go GetSansByDefault, site_state.go
    CreateLinkAccessesCertificates, certs.go GenerateSecret: one file per host (127.0.0.1, the server
    certificate's IP SANs, then its DNS SANs), each a Secret then a Link named link-<site>."""
    home = tmp_path / "west"
    start_site(home, "west")
    home_ns = Path(system_controller.namespace_home(home))
    ca_pem = (home_ns / "runtime" / "issuers" / "skupper-site-ca" / "tls.crt").read_text()
    ca = load_cert(ca_pem)
    server = load_cert((home_ns / "runtime" / "certs" / "west" / "tls.crt").read_text())
    assert signed_by(server, ca)
    ips, names = sans(server)
    assert ips[:2] == ["0.0.0.0", "::"]
    assert socket.gethostname() in names and "0.0.0.0" in names  # certs.go: every host is also a DNS SAN
    assert all(not ipaddress.ip_address(ip).is_loopback for ip in ips)
    hosts = ["127.0.0.1"] + ips + [n for n in names if n not in ips and n != "127.0.0.1"]
    assert sorted(p.name for p in links_dir(home).iterdir()) == sorted("link-west-%s.yaml" % h for h in hosts)

    text = (links_dir(home) / ("link-west-%s.yaml" % socket.gethostname())).read_text()
    assert text.startswith("---\n") and text.count("---\n") == 2
    secret, link = list(yaml.safe_load_all(text))
    assert secret["kind"] == "Secret" and secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"] == {"creationTimestamp": None, "name": "link-west"}  # no namespace
    # fs_config_renderer.go connectJson: client certificates carry connect.json (skupper-local has a normal role)
    assert sorted(secret["data"]) == ["ca.crt", "connect.json", "tls.crt", "tls.key"]
    data = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert data["ca.crt"] == ca_pem
    client = load_cert(data["tls.crt"])
    assert signed_by(client, ca)
    assert client.subject.rfc4514_string() == "CN=client-west"
    assert data["tls.key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert link == {"apiVersion": API, "kind": "Link", "metadata": {"creationTimestamp": None, "name": "link-west"},
                    "spec": {"cost": 1, "tlsCredentials": "link-west", "endpoints": [
                        {"host": socket.gethostname(), "name": "inter-router", "port": "55671"},
                        {"host": socket.gethostname(), "name": "edge", "port": "45671"}]},
                    "status": {}}
    assert "port: '55671'" in text  # strings, as Skupper writes them

    access = runtime(home, "RouterAccess", "west")
    assert access["spec"]["roles"] == [{"name": "inter-router", "port": 55671}, {"name": "edge", "port": 45671}]
    assert access["spec"]["tlsCredentials"] == "west"
    assert access["spec"]["subjectAlternativeNames"][:3] == ["0.0.0.0", "::", socket.gethostname()]
    assert conditions(access)["Resolved"] == ("True", "Ready", "OK")
    assert access["status"]["endpoints"] == runtime(home, "Site", "west")["status"]["endpoints"]
    assert [(e["name"], e["port"]) for e in access["status"]["endpoints"]] == [
        ("west-inter-router", "55671"), ("west-edge", "45671")]


def test_site_ca_kept_by_a_reload_and_made_again_after_stop(tmp_path):
    """fs_config_renderer.go CleanupNamespaceForReload (runtime/issuers is not removed; writeSecretFilesIgnore
    keeps an existing CA), bootstrap/teardown.go (stop removes the namespace home)."""
    home = tmp_path / "west"
    start_site(home, "west")
    ca_file = Path(system_controller.namespace_home(home)) / "runtime" / "issuers" / "skupper-site-ca" / "tls.crt"
    first = ca_file.read_text()
    system_controller.reload_site(home)
    assert ca_file.read_text() == first
    link_ca = yaml.safe_load_all((links_dir(home) / "link-west-127.0.0.1.yaml").read_text())
    assert base64.b64decode(next(link_ca)["data"]["ca.crt"]).decode() == first
    system_controller.stop_site(home)
    start_site(home, "west")
    assert ca_file.read_text() != first


def test_no_link_access_writes_no_static_link_and_no_router_access(tmp_path):
    """site_state_renderer (linux/compat): EnableLinkAccess only when linkAccess is set and not "none";
    createTokens skips RouterAccesses without an inter-router or edge role."""
    for spec in ({}, {"linkAccess": "none"}):
        home = tmp_path / ("site-%d" % len(spec))
        write_input(home, "site.yaml", [obj("Site", "west", spec)])
        system_controller.start_site(home)
        assert list(links_dir(home).iterdir()) == []
        assert runtime(home, "RouterAccess", "west") is None
        assert "endpoints" not in runtime(home, "Site", "west")["status"]


def test_declared_router_access_bind_host_and_sans(tmp_path):
    """token.go CreateTokens: hosts start with bindHost; site_state.go CreateLinkAccessesCertificates: the
    server certificate holds subjectAlternativeNames plus bindHost; only the roles with a port get an
    endpoint; fs_config_renderer.go Render: the Site endpoint's host is the bindHost."""
    home = tmp_path / "west"
    access = obj("RouterAccess", "ra", {"roles": [{"name": "inter-router", "port": 12000}],
                                        "bindHost": "10.9.8.7", "subjectAlternativeNames": ["ra.example.test"]})
    start_site(home, "west", link_access=False, extra=[access])
    assert sorted(p.name for p in links_dir(home).iterdir()) == ["link-ra-10.9.8.7.yaml",
                                                                 "link-ra-ra.example.test.yaml"]
    _secret, link = yaml.safe_load_all((links_dir(home) / "link-ra-ra.example.test.yaml").read_text())
    assert link["metadata"]["name"] == "link-ra"
    assert link["spec"]["endpoints"] == [{"host": "ra.example.test", "name": "inter-router", "port": "12000"}]
    running = runtime(home, "RouterAccess", "ra")
    assert running["spec"]["tlsCredentials"] == "ra"  # defaulted to the access name
    assert running["status"]["endpoints"] == [{"group": "skupper-router", "host": "10.9.8.7",
                                               "name": "ra-inter-router", "port": "12000"}]


def test_ports_of_a_second_site_of_the_same_host(tmp_path, registry):
    """utils/access.go AllocateRouterAccessPorts (TcpPortNextFree from 55671 and 45671): the ports another
    started site's router binds are taken; a reload's own router is stopped first, so it keeps its ports.
    Without the registry every site gets 55671/45671."""
    west, east = tmp_path / "west", tmp_path / "east"
    start_site(west, "west", registry)
    start_site(east, "east", registry)

    def ports(home, name):
        roles = runtime(home, "RouterAccess", name)["spec"]["roles"]
        site_ports = [e["port"] for e in runtime(home, "Site", name)["status"]["endpoints"]]
        _secret, link = yaml.safe_load_all((links_dir(home) / ("link-%s-127.0.0.1.yaml" % name)).read_text())
        assert [str(r["port"]) for r in roles] == site_ports == [e["port"] for e in link["spec"]["endpoints"]]
        return [r["port"] for r in roles]

    assert ports(west, "west") == [55671, 45671]
    assert ports(east, "east") == [55672, 45672]
    system_controller.reload_site(west, registry=registry)
    assert ports(west, "west") == [55671, 45671]
    system_controller.stop_site(west, registry=registry)
    system_controller.reload_site(east, registry=registry)
    assert ports(east, "east") == [55671, 45671]

    alone = tmp_path / "alone"
    start_site(alone, "alone")
    assert ports(alone, "alone") == [55671, 45671]


# ---------------------------------------------------------------------------
# Link status on system sites, the registry and routing across links
# ---------------------------------------------------------------------------

def test_link_status_at_render_and_from_the_system_controller(tmp_path, registry):
    """site_state.go linkMap (SetConfigured at render), UpdateStatus (SetOperational with the remote site,
    SetOperational(false, "", "") for a link the network does not report), types.go operationalState."""
    west, east = tmp_path / "west", tmp_path / "east"
    start_site(east, "east", registry)
    start_site(west, "west", registry, link_access=False)
    copy_static_link(east, "east", "127.0.0.1", west)

    system_controller.reload_site(west, controller_running=False, registry=registry)
    link = runtime(west, "Link", "link-east")
    assert conditions(link) == {"Configured": ("True", "Ready", "OK"),
                                "Ready": ("False", "Pending", "Not Operational")}
    assert (link["status"]["status"], link["status"]["message"]) == ("Pending", "Not Operational")

    system_controller.reload_site(west, registry=registry)
    link = runtime(west, "Link", "link-east")
    assert conditions(link)["Operational"] == ("True", "Ready", "OK")
    assert link["status"]["status"] == "Ready"
    assert link["status"]["remoteSiteName"] == "east"
    assert link["status"]["remoteSiteId"] == runtime(east, "Site", "east")["metadata"]["uid"]

    system_controller.stop_site(east, registry=registry)
    assert [r["site_name"] for r in system_controller.read_network(registry)] == ["west"]
    system_controller.reload_site(west, registry=registry)
    link = runtime(west, "Link", "link-east")
    assert conditions(link)["Operational"] == ("False", "Pending", "Not operational")
    assert (link["status"]["status"], link["status"]["message"]) == ("Pending", "Not operational")
    assert "remoteSiteName" not in link["status"]

    # no registry: the controller knows no peer, the link is not operational
    system_controller.reload_site(west, registry=None)
    assert runtime(west, "Link", "link-east")["status"]["message"] == "Not operational"


def test_a_static_link_of_a_restarted_peer_does_not_come_up(tmp_path, registry):
    """The router's TLS: the link's Secret must hold the CA the peer signs its link access with; a stop and
    start make a new site CA (teardown.go removes runtime/issuers)."""
    west, east = tmp_path / "west", tmp_path / "east"
    start_site(east, "east", registry)
    start_site(west, "west", registry, link_access=False)
    copy_static_link(east, "east", "127.0.0.1", west)
    system_controller.reload_site(west, registry=registry)
    assert runtime(west, "Link", "link-east")["status"]["status"] == "Ready"
    system_controller.stop_site(east, registry=registry)
    start_site(east, "east", registry)
    system_controller.reload_site(west, registry=registry)
    assert runtime(west, "Link", "link-east")["status"]["message"] == "Not operational"


def test_link_validator_still_needs_the_secret(tmp_path, registry):
    """site_state_validator.go: a Link without its Secret fails the reload, nothing changes."""
    west, east = tmp_path / "west", tmp_path / "east"
    start_site(east, "east", registry)
    start_site(west, "west", registry, link_access=False)
    _secret, link = yaml.safe_load_all((links_dir(east) / "link-east-127.0.0.1.yaml").read_text())
    write_input(west, "link-only.yaml", [link])
    before = sorted(os.listdir(system_controller.runtime_dir(west)))
    with pytest.raises(system_controller.SystemSiteError, match="no secrets found"):
        system_controller.reload_site(west, registry=registry)
    assert sorted(os.listdir(system_controller.runtime_dir(west))) == before


def test_routing_keys_match_across_operational_links_only(tmp_path, registry):
    """controller/network_status_handler.go, site_state.go UpdateStatus, network.go HasMatchingPair: a
    listener is matched by a connector anywhere in the network the links make (links route both ways).
    The double has no daemon: a peer's status is refreshed at its own next reload."""
    west, east, far = tmp_path / "west", tmp_path / "east", tmp_path / "far"
    listener = obj("Listener", "backend", {"routingKey": "backend", "host": "0.0.0.0", "port": 8080})
    connector = obj("Connector", "backend", {"routingKey": "backend", "host": "127.0.0.1", "port": 9090})
    far_connector = obj("Connector", "far", {"routingKey": "far", "host": "127.0.0.1", "port": 9091})
    start_site(east, "east", registry, extra=[connector])
    start_site(far, "far", registry, link_access=False, extra=[far_connector])
    start_site(west, "west", registry, link_access=False, extra=[listener])
    assert runtime(west, "Listener", "backend")["status"]["message"] == "No matching connectors"

    copy_static_link(east, "east", "127.0.0.1", west)
    system_controller.reload_site(west, registry=registry)
    assert runtime(west, "Listener", "backend")["status"]["status"] == "Ready"
    # east has not reloaded since west linked to it: its connector still reads the old status
    assert runtime(east, "Connector", "backend")["status"]["message"] == "No matching listeners"
    system_controller.reload_site(east, registry=registry)
    assert runtime(east, "Connector", "backend")["status"]["status"] == "Ready"
    # far is not linked: west's listener keys never reach it
    assert runtime(far, "Connector", "far")["status"]["message"] == "No matching listeners"


def test_a_loopback_endpoint_reaches_only_sites_of_the_same_host(tmp_path):
    """internal/site/link.go Apply: an interior site dials the inter-router endpoint, an edge site the edge
    endpoint; 127.0.0.1 on another host (another network namespace of the fleet) is that host itself."""
    peer = {"key": "peer", "hostname": "other", "site_name": "east", "site_id": "e1",
            "endpoints": [{"role": "inter-router", "host": "127.0.0.1", "port": "55671"},
                          {"role": "inter-router", "host": "10.1.2.3", "port": "55671"},
                          {"role": "edge", "host": "10.1.2.3", "port": "45671"}]}

    def link(host, port="55671", role="inter-router"):
        return {"name": "l", "endpoints": [{"name": role, "host": host, "port": port}]}

    me = {"key": "me", "hostname": "mine"}
    assert system_controller.link_peer(me, link("127.0.0.1"), [me, peer]) is None
    assert system_controller.link_peer(dict(me, hostname="other"), link("127.0.0.1"), [me, peer]) is peer
    assert system_controller.link_peer(me, link("10.1.2.3"), [me, peer]) is peer
    assert system_controller.link_peer(me, link("10.1.2.3", "55672"), [me, peer]) is None
    assert system_controller.link_peer(me, link("10.1.2.3", "45671", "edge"), [me, peer]) is None  # interior
    assert system_controller.link_peer(dict(me, edge=True), link("10.1.2.3", "45671", "edge"), [me, peer]) is peer


def test_cli_double_writes_static_links_and_the_registry_record(tmp_path):
    """The CLI double (tests/bin/skupper) on system_controller: start writes runtime/links and the record,
    stop removes both (teardown.go); no private key is printed."""
    network = tmp_path / "network"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8",
           "SKUPPER_DOUBLE_ROOT": str(tmp_path / "root"), "SKUPPER_PLATFORM": "podman",
           "SKUPPER_DOUBLE_NETWORK_DIR": str(network)}
    data_home = (tmp_path / "root" / "var" / "lib" / "skupper" if os.getuid() == 0
                 else tmp_path / "home" / ".local" / "share" / "skupper")

    def cli(*args):
        result = subprocess.run([sys.executable, str(SKUPPER)] + list(args), capture_output=True, text=True,
                                env=env, timeout=60, check=False)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "PRIVATE KEY" not in result.stdout + result.stderr
        return result

    write_input(data_home, "site.yaml", [obj("Site", "west", {"linkAccess": "default"})])
    cli("system", "start")
    assert (links_dir(data_home) / "link-west-127.0.0.1.yaml").is_file()
    (record,) = system_controller.read_network(str(network))
    assert (record["site_name"], record["namespace"], record["hostname"]) == ("west", "default",
                                                                              socket.gethostname())
    assert {"role": "inter-router", "host": "127.0.0.1", "port": "55671", "router_access": "west"} in \
        record["endpoints"]
    cli("system", "stop")
    assert system_controller.read_network(str(network)) == []


# ---------------------------------------------------------------------------
# Kubernetes double
# ---------------------------------------------------------------------------

kubernetes = pytest.importorskip("kubernetes")
from tests.support.kube_api_double import KubeApiDouble  # noqa: E402


def kube_link(name, host, port="55671", secret=None):
    spec = {"endpoints": [{"name": "inter-router", "host": host, "port": port},
                          {"name": "edge", "host": host, "port": "45671"}]}
    if secret:
        spec["tlsCredentials"] = secret
    return {"apiVersion": API, "kind": "Link", "metadata": {"name": name, "namespace": "spoke"}, "spec": spec}


def site_obj(namespace, name, **spec):
    return {"apiVersion": API, "kind": "Site", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_kube_link_to_a_site_of_the_double_turns_ready_and_unknown_stays_pending():
    """internal/kube/site/site.go NetworkStatusUpdated: the Operational condition is set only from the
    router's link records (network.go: a record only once the link has a peer), so a link to an unknown
    endpoint keeps Pending "Not Operational" (never Error); set_link_operational still overrides."""
    with KubeApiDouble(controller=True) as double:
        for namespace in ("hub", "spoke"):
            double.create_namespace(namespace)
        double.put_object("sites", "hub", site_obj("hub", "hub", linkAccess="default"))
        double.put_object("sites", "spoke", site_obj("spoke", "spoke"))
        double.put_object("links", "spoke", kube_link("to-hub", double.link_host("hub")))
        double.put_object("links", "spoke", kube_link("nowhere", "unknown.example.test"))
        double.put_object("links", "spoke", kube_link("wrong-port", double.link_host("hub"), port="1"))
        double.run_controller()
        ready = double.get_object("links", "spoke", "to-hub")["status"]
        assert (ready["status"], ready["remoteSiteName"]) == ("Ready", "hub")
        assert ready["remoteSiteId"] == double.get_object("sites", "hub", "hub")["metadata"]["uid"]
        for name in ("nowhere", "wrong-port"):
            status = double.get_object("links", "spoke", name)["status"]
            assert (status["status"], status["message"]) == ("Pending", "Not Operational")
            assert "Operational" not in {c["type"] for c in status["conditions"]}
        double.set_link_operational("spoke", "to-hub", operational=False, remote_site_name="hub")
        assert double.get_object("links", "spoke", "to-hub")["status"]["message"] == "Not operational"
        double.set_link_operational("spoke", "to-hub", operational=None)
        double.delete_object("sites", "hub", "hub")
        double.run_controller()  # the peer went away after the link was up: the link goes down
        assert double.get_object("links", "spoke", "to-hub")["status"]["message"] == "Not operational"


def test_registry_links_kubernetes_and_system_sites_both_ways(tmp_path, registry, monkeypatch):
    """The TEST-ONLY registry shared by both doubles: a system site's Link to the hub's endpoint (its Secret
    signed by the grant server's site CA, as a redeemed token's is) comes up and carries the hub's
    connector keys; a kube Link made from the system site's static link comes up too."""
    monkeypatch.setenv(system_controller.NETWORK_ENV, registry)
    with KubeApiDouble(controller=True) as double:
        double.create_namespace("hub")
        double.put_object("sites", "hub", site_obj("hub", "hub", linkAccess="default"))
        double.put_object("connectors", "hub", {
            "apiVersion": API, "kind": "Connector", "metadata": {"name": "db", "namespace": "hub"},
            "spec": {"routingKey": "db", "host": "db", "port": 5432}})
        double.put_object("listeners", "hub", {
            "apiVersion": API, "kind": "Listener", "metadata": {"name": "web", "namespace": "hub"},
            "spec": {"routingKey": "web", "host": "web", "port": 8080}})
        site_ca = double.grant_server.site_ca
        double.run_controller()
        assert double.get_object("listeners", "hub", "web")["status"]["message"] == "No matching connectors"

        west = tmp_path / "west"
        cert, key = site_ca.issue("west", key=None)
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "to-hub"}, "type": "kubernetes.io/tls",
                  "data": {"ca.crt": base64.b64encode(site_ca.pem.encode()).decode(),
                           "tls.crt": base64.b64encode(cert.encode()).decode(), "tls.key": ""}}
        link = obj("Link", "to-hub", {"tlsCredentials": "to-hub", "endpoints": [
            {"name": "inter-router", "host": double.link_host("hub"), "port": "55671"}]})
        web = obj("Connector", "web", {"routingKey": "web", "host": "127.0.0.1", "port": 8080})
        db = obj("Listener", "db", {"routingKey": "db", "host": "0.0.0.0", "port": 5432})
        start_site(west, "west", extra=[secret, link, web, db])
        assert runtime(west, "Link", "to-hub")["status"]["remoteSiteName"] == "hub"
        assert runtime(west, "Listener", "db")["status"]["status"] == "Ready"
        double.run_controller()
        assert double.get_object("listeners", "hub", "web")["status"]["status"] == "Ready"

        # the other way: a kube Link and Secret from west's static link (its host name endpoint)
        double.create_namespace("spoke")
        double.put_object("sites", "spoke", site_obj("spoke", "spoke"))
        start_site(tmp_path / "east", "east")
        text = (links_dir(tmp_path / "east") / ("link-east-%s.yaml" % socket.gethostname())).read_text()
        static_secret, static_link = yaml.safe_load_all(text)
        double.put_object("secrets", "spoke", dict(static_secret, metadata={"name": "link-east",
                                                                            "namespace": "spoke"}))
        double.put_object("links", "spoke", dict(static_link, metadata={"name": "link-east", "namespace": "spoke"}))
        double.run_controller()
        assert double.get_object("links", "spoke", "link-east")["status"]["remoteSiteName"] == "east"
        # a loopback endpoint is the pod itself, never the system site
        double.put_object("links", "spoke", kube_link("loopback", "127.0.0.1", secret="link-east"))
        double.run_controller()
        assert double.get_object("links", "spoke", "loopback")["status"]["message"] == "Not Operational"
        keys = {r["key"] for r in system_controller.read_network(registry)}
        assert any(key.startswith("kubernetes_") for key in keys)
    assert not any(r["key"].startswith("kubernetes_") for r in system_controller.read_network(registry))


def test_grant_server_on_another_address_is_named_in_the_grant_url():
    """grants.go claimUrl names the address the grant server serves on; the double binds where it is told
    (here 127.0.0.2: another address of the loopback net; a fleet test gives its bridge address)."""
    with KubeApiDouble(controller=True, grant_server_host="127.0.0.2") as double:
        double.create_namespace("hub")
        double.put_object("sites", "hub", site_obj("hub", "hub", linkAccess="default"))
        double.put_object("accessgrants", "hub", {"apiVersion": API, "kind": "AccessGrant",
                                                  "metadata": {"name": "g", "namespace": "hub"}, "spec": {}})
        double.run_controller()
        status = double.get_object("accessgrants", "hub", "g")["status"]
        assert status["url"].startswith("https://127.0.0.2:%d/" % double.grant_server.port)
        context = ssl.create_default_context(cadata=status["ca"])
        with socket.create_connection(("127.0.0.2", double.grant_server.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.2") as tls:
                assert tls.version() == "TLSv1.3"
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", double.grant_server.port), timeout=2).close()
        expiry = datetime.datetime.strptime(status["expirationTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        assert expiry > datetime.datetime.now(datetime.timezone.utc)


def grant_and_token(hub, spoke, grant_name, token_name, **grant_spec):
    hub.put_object("accessgrants", "hub", {"apiVersion": API, "kind": "AccessGrant",
                                           "metadata": {"name": grant_name, "namespace": "hub"}, "spec": grant_spec})
    hub.run_controller()
    status = hub.get_object("accessgrants", "hub", grant_name)["status"]
    spoke.put_object("accesstokens", "spoke", {
        "apiVersion": API, "kind": "AccessToken", "metadata": {"name": token_name, "namespace": "spoke"},
        "spec": {"url": status["url"], "code": status["code"], "ca": status["ca"]}})
    spoke.run_controller()
    return status, spoke.get_object("accesstokens", "spoke", token_name)


def test_redeemed_grant_link_comes_up_across_two_clusters_through_the_registry(registry):
    """grants.go (the answer's Link on the hub's link endpoints, its Secret signed by the hub's site CA),
    redeem.go, site.go NetworkStatusUpdated: with the shared registry the spoke's Link reaches the hub;
    without it the two doubles do not know each other and the Link stays Pending."""
    for shared in (None, registry):
        with KubeApiDouble(controller=True, network_dir=shared) as hub, \
                KubeApiDouble(controller=True, network_dir=shared) as spoke:
            hub.create_namespace("hub")
            hub.put_object("sites", "hub", site_obj("hub", "hub", linkAccess="default"))
            spoke.create_namespace("spoke")
            spoke.put_object("sites", "spoke", site_obj("spoke", "spoke"))
            _status, token = grant_and_token(hub, spoke, "g", "to-hub")
            assert token["status"]["redeemed"] is True
            hub.run_controller()  # the hub's record (with its site CA) is written at its controller run
            spoke.run_controller()
            link = spoke.get_object("links", "spoke", "to-hub")["status"]
            if shared:
                assert (link["status"], link["remoteSiteName"]) == ("Ready", "hub")
            else:
                assert (link["status"], link["message"]) == ("Pending", "Not Operational")


def test_expiration_window_and_redemptions_allowed_are_counted_over_time():
    """grants.go checkGrant (expirationTime = now + expirationWindow) and checkAndUpdateAccessToken (expired:
    404 "No such claim"; used up: 404 "No such access granted"; only the right code counts)."""
    with KubeApiDouble(controller=True) as hub, KubeApiDouble(controller=True) as spoke:
        hub.create_namespace("hub")
        hub.put_object("sites", "hub", site_obj("hub", "hub", linkAccess="default"))
        spoke.create_namespace("spoke")
        spoke.put_object("sites", "spoke", site_obj("spoke", "spoke"))
        status, first = grant_and_token(hub, spoke, "short", "first", expirationWindow="2s")
        assert first["status"]["redeemed"] is True
        expiry = datetime.datetime.strptime(status["expirationTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        left = (expiry - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        assert 0 < left <= 3  # now + 2s, to the second
        time.sleep(left + 1.1)
        spoke.put_object("accesstokens", "spoke", {
            "apiVersion": API, "kind": "AccessToken", "metadata": {"name": "late", "namespace": "spoke"},
            "spec": {"url": status["url"], "code": status["code"], "ca": status["ca"]}})
        spoke.run_controller()
        late = spoke.get_object("accesstokens", "spoke", "late")["status"]
        assert late["message"] == "Controller got failed response: 404 (Not Found) No such claim"
        assert hub.get_object("accessgrants", "hub", "short")["status"]["redemptions"] == 1
        assert sorted(o["metadata"]["name"] for o in spoke.list_objects("links", "spoke")) == ["first"]
