"""The status doubles behave as Skupper's controllers do.

* tests/support/skupper_status.py: Skupper's status rules as pure functions.
* The status controller of tests/support/kube_api_double.py, driven through the
  real ``kubernetes`` client.
* tests/support/system_controller.py: ``skupper system start/reload/stop`` and
  the system controller on a data home in a temporary folder.
"""

import os
import re
import time

import pytest
import yaml

pytest.importorskip("kubernetes")
from kubernetes import client, config  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from tests.support import skupper_status, system_controller  # noqa: E402
from tests.support.kube_api_double import KubeApiDouble  # noqa: E402
from tests.support.system_controller import SystemSiteError  # noqa: E402

GROUP, VERSION = "skupper.io", "v2alpha1"
API_VERSION = GROUP + "/" + VERSION
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# ---- helpers ----------------------------------------------------------------

def resource(kind, name, spec, namespace=None, **meta):
    metadata = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata.update(meta)
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def listener(name, key="backend", host="backend", port=8080, namespace=None):
    return resource("Listener", name, {"routingKey": key, "host": host, "port": port}, namespace)


def connector(name, key="backend", host="10.0.0.1", port=8080, namespace=None):
    return resource("Connector", name, {"routingKey": key, "host": host, "port": port}, namespace)


def priority_mkl(name, keys, host="db", port=5432, namespace=None):
    return resource("MultiKeyListener", name,
                    {"host": host, "port": port, "strategy": {"priority": {"routingKeys": list(keys)}}}, namespace)


def weighted_mkl(name, weights, host="db", port=5432, namespace=None):
    return resource("MultiKeyListener", name,
                    {"host": host, "port": port, "strategy": {"weighted": {"routingKeys": dict(weights)}}}, namespace)


def site(name="site", namespace=None, **spec):
    return resource("Site", name, spec, namespace)


def condition(status, ctype):
    for item in (status or {}).get("conditions") or []:
        if item["type"] == ctype:
            return item
    return None


class Cluster:
    """The double with its controller on, seen through the real kubernetes client."""

    PLURALS = {"Listener": "listeners", "MultiKeyListener": "multikeylisteners", "Connector": "connectors",
               "Site": "sites"}

    def __init__(self, double, api):
        self.double = double
        self.api = api

    def create(self, namespace, obj):
        self.double.create_namespace(namespace)
        return self.api.create_namespaced_custom_object(GROUP, VERSION, namespace, self.PLURALS[obj["kind"]], obj)

    def delete(self, namespace, kind, name):
        self.api.delete_namespaced_custom_object(GROUP, VERSION, namespace, self.PLURALS[kind], name)

    def patch(self, namespace, kind, name, body):
        return self.api.patch_namespaced_custom_object(GROUP, VERSION, namespace, self.PLURALS[kind], name, body)

    def status(self, namespace, kind, name):
        return self.api.get_namespaced_custom_object(GROUP, VERSION, namespace, self.PLURALS[kind],
                                                     name).get("status")


@pytest.fixture
def cluster(kube_api, tmp_path):
    kube_api.controller_enabled = True
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    api_client = config.new_client_from_config(config_file=kubeconfig)
    try:
        yield Cluster(kube_api, client.CustomObjectsApi(api_client))
    finally:
        api_client.close()


def wait_for(predicate, timeout=5.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# ---- skupper_status: the rules as pure functions ------------------------------

def test_listener_status_shapes():
    pending = skupper_status.listener_status(listener("a"), False, now="2025-01-01T00:00:00Z")
    assert (pending["status"], pending["message"]) == ("Pending", "No matching connectors")
    assert "hasMatchingConnector" not in pending  # Go omitempty: false is not written
    assert [c["type"] for c in pending["conditions"]] == ["Configured", "Ready", "Matched"]
    assert condition(pending, "Configured") == {
        "type": "Configured", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z",
        "reason": "Ready", "message": "OK"}
    assert condition(pending, "Matched")["reason"] == "Pending"
    assert condition(pending, "Ready")["status"] == "False"

    obj = listener("a")
    obj["metadata"]["generation"] = 3
    obj["status"] = pending
    ready = skupper_status.listener_status(obj, True, now="2025-01-02T00:00:00Z")
    assert (ready["status"], ready["message"], ready["hasMatchingConnector"]) == ("Ready", "OK", True)
    assert all(c["observedGeneration"] == 3 for c in ready["conditions"])
    # lastTransitionTime moves only for conditions whose status changed
    assert condition(ready, "Configured")["lastTransitionTime"] == "2025-01-01T00:00:00Z"
    assert condition(ready, "Matched")["lastTransitionTime"] == "2025-01-02T00:00:00Z"

    broken = skupper_status.listener_status(listener("a"), True, error="boom")
    assert (broken["status"], broken["message"]) == ("Error", "boom")
    assert condition(broken, "Ready")["reason"] == "Error"


def test_multikeylistener_operational_follows_skupper():
    mkl = priority_mkl("m", ["k1", "k2", "k3"])
    fresh = skupper_status.multikeylistener_status(mkl, set())
    # Skupper sets Operational only when hasDestination changes: never had one, no condition
    assert condition(fresh, "Operational") is None
    assert (fresh["status"], fresh["message"]) == ("Pending", "Not Operational")
    assert fresh["strategy"] == {"priority": {"routingKeysReachable": []}}
    assert condition(fresh, "Ready") is None

    mkl["status"] = skupper_status.multikeylistener_status(mkl, {"k3", "k1"})
    assert mkl["status"]["strategy"]["priority"]["routingKeysReachable"] == ["k1", "k3"]
    assert (mkl["status"]["status"], mkl["status"]["hasDestination"]) == ("Ready", True)

    lost = skupper_status.multikeylistener_status(mkl, set())
    assert (lost["status"], lost["message"]) == ("Pending", "No matching connectors")
    assert condition(lost, "Operational")["status"] == "False"
    assert "hasDestination" not in lost


def test_connector_counts_multikeylistener_keys_as_listeners():
    statuses = skupper_status.site_statuses(
        connectors=[connector("c1", key="k2"), connector("c2", key="other")],
        multikeylisteners=[weighted_mkl("m", {"k1": 1, "k2": 3})], sites=[site()])
    assert statuses["connectors"]["c1"]["hasMatchingListener"] is True
    assert statuses["connectors"]["c1"]["status"] == "Ready"
    assert (statuses["connectors"]["c2"]["status"], statuses["connectors"]["c2"]["message"]) == (
        "Pending", "No matching listeners")
    assert statuses["multikeylisteners"]["m"]["strategy"] == {"weighted": {"routingKeysReachable": {"k2": 3}}}


def test_site_status_resolution_and_second_site():
    statuses = skupper_status.site_statuses(sites=[
        dict(site("b", linkAccess="default"), metadata={"name": "b", "creationTimestamp": "2025-01-01T00:00:02Z"}),
        dict(site("a"), metadata={"name": "a", "creationTimestamp": "2025-01-01T00:00:01Z"})])
    first, second = statuses["sites"]["a"], statuses["sites"]["b"]
    assert (first["status"], first["message"], first["defaultIssuer"]) == ("Ready", "OK", "skupper-site-ca")
    assert {c["type"] for c in first["conditions"]} == {"Configured", "Ready", "Running"}
    assert second["status"] == "Error" and "(a)" in second["message"]


# ---- the controller of the Kubernetes API double -------------------------------

def test_controller_is_off_by_default(kube_api):
    kube_api.put_object("sites", "ns", site())
    kube_api.put_object("listeners", "ns", listener("a"))
    assert kube_api.get_object("listeners", "ns", "a").get("status") is None
    assert KubeApiDouble().controller_enabled is False
    assert KubeApiDouble(controller=True).controller_enabled is True


def test_listener_matches_a_connector_in_another_namespace(cluster):
    cluster.create("west", site("west"))
    cluster.create("east", site("east"))
    created = cluster.create("west", listener("backend"))
    assert created["metadata"]["generation"] == 1

    status = cluster.status("west", "Listener", "backend")
    assert (status["status"], status["message"]) == ("Pending", "No matching connectors")
    assert "hasMatchingConnector" not in status
    for item in status["conditions"]:
        assert RFC3339.match(item["lastTransitionTime"]) and item["observedGeneration"] == 1
    assert condition(status, "Configured")["status"] == "True"
    assert condition(status, "Matched")["message"] == "No matching connectors"

    cluster.create("east", connector("backend"))
    status = cluster.status("west", "Listener", "backend")
    assert (status["status"], status["message"], status["hasMatchingConnector"]) == ("Ready", "OK", True)
    assert condition(status, "Ready")["status"] == "True"
    connector_status = cluster.status("east", "Connector", "backend")
    assert (connector_status["status"], connector_status["hasMatchingListener"]) == ("Ready", True)
    site_status = cluster.status("east", "Site", "east")
    assert site_status["status"] == "Ready" and site_status["sitesInNetwork"] == 2

    cluster.patch("west", "Listener", "backend", {"spec": {"port": 9090}})
    status = cluster.status("west", "Listener", "backend")
    assert {item["observedGeneration"] for item in status["conditions"]} == {2}

    cluster.delete("east", "Connector", "backend")
    status = cluster.status("west", "Listener", "backend")
    assert (status["status"], status["message"]) == ("Pending", "No matching connectors")
    assert "hasMatchingConnector" not in status


def test_bindings_need_a_site_in_their_namespace(cluster):
    cluster.create("lonely", listener("a"))
    cluster.create("east", site("east"))
    cluster.create("east", connector("backend"))
    status = cluster.status("lonely", "Listener", "a")
    assert (status["status"], status["message"]) == ("Error", "No active site in namespace")
    assert condition(status, "Configured")["reason"] == "Error"

    cluster.create("lonely", site("lonely"))
    assert cluster.status("lonely", "Listener", "a")["status"] == "Ready"

    cluster.double.controller_require_site = False
    cluster.create("nosite", listener("b"))
    assert cluster.status("nosite", "Listener", "b")["status"] == "Ready"


def test_weighted_multikeylistener_reachable_keys_follow_connectors(cluster):
    cluster.create("west", site("west"))
    cluster.create("east", site("east"))
    cluster.create("west", weighted_mkl("db", {"db-a": 1, "db-b": 3}))
    status = cluster.status("west", "MultiKeyListener", "db")
    assert (status["status"], status["message"]) == ("Pending", "Not Operational")
    assert "hasDestination" not in status

    cluster.create("east", connector("db-b", key="db-b", port=5432))
    status = cluster.status("west", "MultiKeyListener", "db")
    assert status["strategy"] == {"weighted": {"routingKeysReachable": {"db-b": 3}}}
    assert (status["status"], status["hasDestination"]) == ("Ready", True)
    assert condition(status, "Operational")["status"] == "True"
    assert condition(status, "Ready") is None

    cluster.create("west", connector("db-a", key="db-a", port=5432))
    status = cluster.status("west", "MultiKeyListener", "db")
    assert status["strategy"]["weighted"]["routingKeysReachable"] == {"db-a": 1, "db-b": 3}

    cluster.delete("east", "Connector", "db-b")
    cluster.delete("west", "Connector", "db-a")
    status = cluster.status("west", "MultiKeyListener", "db")
    assert (status["status"], status["message"]) == ("Pending", "No matching connectors")
    assert status["strategy"]["weighted"]["routingKeysReachable"] == {}


def test_priority_multikeylistener_keeps_priority_order(cluster):
    cluster.create("west", site("west"))
    cluster.create("west", priority_mkl("db", ["primary", "secondary", "tertiary"]))
    for key in ("tertiary", "primary"):
        cluster.create("west", connector(key, key=key, port=5432))
    status = cluster.status("west", "MultiKeyListener", "db")
    assert status["strategy"] == {"priority": {"routingKeysReachable": ["primary", "tertiary"]}}


def test_host_port_collision_puts_the_later_one_in_error(cluster):
    cluster.create("west", site("west"))
    cluster.create("west", listener("a-first", key="k1", host="shared", port=8080))
    cluster.create("west", listener("b-second", key="k2", host="shared", port=8080))
    cluster.create("west", priority_mkl("c-mkl", ["k3"], host="shared", port=8080))
    cluster.create("west", listener("d-other-port", key="k4", host="shared", port=8081))

    assert cluster.status("west", "Listener", "a-first")["status"] == "Pending"
    second = cluster.status("west", "Listener", "b-second")
    assert second["status"] == "Error"
    assert second["message"] == "Listener a-first with host shared and port 8080 already exists in namespace"
    assert condition(second, "Configured")["status"] == "False"
    # internal/kube/site/site.go: CheckMultiKeyListener has no host/port check (the kube double follows it)
    assert cluster.status("west", "MultiKeyListener", "c-mkl")["status"] == "Pending"
    assert cluster.status("west", "Listener", "d-other-port")["status"] == "Pending"

    cluster.delete("west", "Listener", "a-first")
    assert cluster.status("west", "Listener", "b-second")["status"] == "Pending"


def test_foreign_service_on_the_listener_host(cluster):
    cluster.create("west", site("west"))
    cluster.double.put_object("services", "west", {"apiVersion": "v1", "kind": "Service",
                                                   "metadata": {"name": "backend"}, "spec": {}})
    cluster.create("west", listener("a"))
    status = cluster.status("west", "Listener", "a")
    assert (status["status"], status["message"]) == ("Error", "Service backend already exists in namespace")


def test_controller_error_forces_an_error_until_cleared(cluster):
    cluster.create("west", site("west"))
    cluster.create("west", listener("a"))
    cluster.double.controller_error("listeners", "west", "a", "router exploded")
    status = cluster.status("west", "Listener", "a")
    assert (status["status"], status["message"]) == ("Error", "router exploded")
    cluster.double.controller_error("listeners", "west", "a", None)
    assert cluster.status("west", "Listener", "a")["status"] == "Pending"
    with pytest.raises(ValueError):
        cluster.double.controller_error("links", "west", "a", "x")


def test_no_write_when_nothing_changed(cluster):
    cluster.create("west", site("west"))
    cluster.create("west", listener("a"))
    version = cluster.double.resource_version
    assert cluster.double.run_controller() == 0
    assert cluster.double.resource_version == version


def test_delay_runs_later_and_coalesces_a_burst(cluster):
    cluster.create("west", site("west"))  # no delay yet: settled before the clock starts
    cluster.double.controller_delay = 1.0
    runs = cluster.double.controller_runs
    started = time.monotonic()
    for index in range(5):
        cluster.create("west", listener("l%d" % index, host="h%d" % index))
    assert cluster.status("west", "Listener", "l0") is None
    assert time.monotonic() - started < 1.0, "the burst took too long for the check above to mean anything"
    status = wait_for(lambda: cluster.status("west", "Listener", "l4"), timeout=5)
    assert status and status["status"] == "Pending"
    assert time.monotonic() - started >= 0.9
    assert cluster.double.wait_controller_idle(5)
    assert cluster.double.controller_runs - runs == 1


def test_stop_cancels_a_pending_run():
    double = KubeApiDouble(controller=True).start()
    double.controller_delay = 0.3
    double.put_object("sites", "west", site("west"))
    double.stop()
    time.sleep(0.6)
    assert double.controller_runs == 0
    assert double.get_object("sites", "west", "west").get("status") is None
    assert double.wait_controller_idle(0.1)


def test_deleting_a_namespace_takes_its_connectors_out_of_the_network(cluster):
    cluster.create("west", site("west"))
    cluster.create("west", listener("a"))
    cluster.create("east", site("east"))
    cluster.create("east", connector("backend"))
    assert cluster.status("west", "Listener", "a")["status"] == "Ready"
    client.CoreV1Api(cluster.api.api_client).delete_namespace("east")
    assert cluster.status("west", "Listener", "a")["status"] == "Pending"
    with pytest.raises(ApiException):
        cluster.status("east", "Site", "east")


# ---- system_controller: a system site's data home -------------------------------

def write_input(data_home, obj, namespace="default", file_name=None):
    directory = system_controller.input_dir(data_home, namespace)
    os.makedirs(directory, exist_ok=True)
    obj = dict(obj)
    obj["metadata"] = dict(obj["metadata"], namespace=namespace)
    path = os.path.join(directory, file_name or "%s-%s.yaml" % (obj["kind"], obj["metadata"]["name"]))
    with open(path, "w") as handle:
        yaml.safe_dump(obj, handle)
    return path


def runtime(data_home, kind, name, namespace="default"):
    return system_controller.read_runtime(data_home, namespace, kind, name)


def test_start_lays_out_the_site_and_refuses_a_second_start(tmp_path):
    home = tmp_path / "data"
    write_input(home, site("here"))
    write_input(home, listener("web", host="0.0.0.0"))
    written = system_controller.start_site(home, platform="linux")
    ns_home = system_controller.namespace_home(home)
    for folder in ("runtime/resources", "runtime/router", "runtime/certs", "runtime/links", "internal/scripts"):
        assert os.path.isdir(os.path.join(ns_home, folder)), folder
    assert os.path.isfile(os.path.join(ns_home, "runtime/router/skrouterd.json"))
    with open(os.path.join(ns_home, "internal/platform.yaml")) as handle:
        assert yaml.safe_load(handle) == {"platform": "linux"}
    assert sorted(os.path.basename(p) for p in written) == ["Listener-web.yaml", "Site-here.yaml"]
    assert runtime(home, "Site", "here")["status"]["status"] == "Ready"
    running = runtime(home, "Listener", "web")
    assert running["spec"] == {"routingKey": "backend", "host": "0.0.0.0", "port": 8080}
    assert (running["status"]["status"], running["status"]["message"]) == ("Pending", "No matching connectors")
    assert all("observedGeneration" not in c for c in running["status"]["conditions"])

    with pytest.raises(SystemSiteError, match="already initialized"):
        system_controller.start_site(home)


def test_start_needs_a_site_and_reload_of_a_new_namespace_starts_it(tmp_path):
    home = tmp_path / "data"
    write_input(home, listener("web"))
    with pytest.raises(SystemSiteError, match="no valid site definition"):
        system_controller.start_site(home)
    assert not os.path.exists(os.path.join(system_controller.namespace_home(home), "runtime"))
    write_input(home, site("here"))
    system_controller.reload_site(home, platform="linux")  # bootstrap.go: rendered as a start
    assert runtime(home, "Site", "here")["status"]["status"] == "Ready"


def test_reload_follows_input_and_loads_every_yaml_file(tmp_path):
    home = tmp_path / "data"
    write_input(home, site("here"))
    write_input(home, listener("web"))
    write_input(home, connector("backend"))
    system_controller.start_site(home)
    assert runtime(home, "Listener", "web")["status"]["status"] == "Ready"  # own connector

    os.unlink(os.path.join(system_controller.input_dir(home), "Connector-backend.yaml"))
    write_input(home, listener("any-name", host="other"), file_name="listener-any-name.yaml")
    write_input(home, listener("ignored", host="other2"), file_name="Listener-ignored.txt")
    system_controller.reload_site(home)
    assert runtime(home, "Connector", "backend") is None
    assert runtime(home, "Listener", "any-name") is not None  # site_state_loader.go: every *.yaml
    assert runtime(home, "Listener", "ignored") is None
    status = runtime(home, "Listener", "web")["status"]
    assert status["status"] == "Pending"
    leftovers = [e for e in os.listdir(system_controller.runtime_dir(home)) if e.startswith(".")]
    assert leftovers == []


def test_network_keys_join_several_sites(tmp_path):
    west, east = tmp_path / "west", tmp_path / "east"
    write_input(west, site("west"))
    write_input(west, listener("web"))
    write_input(west, weighted_mkl("db", {"db-a": 2, "db-b": 1}, host="127.0.0.1"))
    write_input(east, site("east"), namespace="prod")
    write_input(east, connector("backend"), namespace="prod")
    write_input(east, connector("db-b", key="db-b"), namespace="prod")
    system_controller.start_site(west)
    assert system_controller.network_keys([(west, "default"), (east, "prod")]) == set()  # east not started
    system_controller.start_site(east, "prod")
    assert system_controller.network_keys([(west, "default"), (east, "prod")]) == {"backend", "db-b"}

    system_controller.reload_network([(west, "default"), (east, "prod")])
    web = runtime(west, "Listener", "web")["status"]
    assert (web["status"], web["hasMatchingConnector"]) == ("Ready", True)
    db = runtime(west, "MultiKeyListener", "db")["status"]
    assert db["strategy"] == {"weighted": {"routingKeysReachable": {"db-b": 1}}} and db["hasDestination"] is True
    assert runtime(east, "Connector", "db-b", "prod")["status"]["hasMatchingListener"] is True


def test_reload_refuses_what_skupper_validator_refuses(tmp_path):
    home = tmp_path / "data"
    write_input(home, site("here"))
    write_input(home, listener("a-first", key="k1", host="127.0.0.1", port=9000))
    system_controller.start_site(home)
    before = sorted(os.listdir(system_controller.runtime_dir(home)))

    write_input(home, listener("b-second", key="k2", host="127.0.0.1", port=9000))
    with pytest.raises(SystemSiteError, match=r'port 9000 is already mapped for host "127.0.0.1" '
                                              r'\(listener: "b-second"\)'):
        system_controller.reload_site(home)
    assert sorted(os.listdir(system_controller.runtime_dir(home))) == before

    os.unlink(os.path.join(system_controller.input_dir(home), "Listener-b-second.yaml"))
    write_input(home, priority_mkl("m", ["k1"], host="127.0.0.1", port=9000))
    with pytest.raises(SystemSiteError, match=r"\(multikeylistener: \"m\"\)"):
        system_controller.reload_site(home)

    write_input(home, priority_mkl("m", ["k1"], host="127.0.0.1", port=9001))
    system_controller.reload_site(home)
    write_input(home, weighted_mkl("m", {"k1": 1}, host="127.0.0.1", port=9001))
    with pytest.raises(SystemSiteError, match="^invalid multikeylistener: m - strategy cannot be changed$"):
        system_controller.reload_site(home)
    write_input(home, priority_mkl("m", ["k1"], host="127.0.0.1", port=9001))
    write_input(home, weighted_mkl("w", {"k1": 0}, host="127.0.0.1", port=9002))
    with pytest.raises(SystemSiteError, match="weight value must be positive"):
        system_controller.reload_site(home)
    write_input(home, listener("bad-host", host="Not_A_Host"))
    with pytest.raises(SystemSiteError, match="invalid listener host: Not_A_Host"):
        system_controller.reload_site(home)


def test_without_the_system_controller_the_render_time_status_stays(tmp_path):
    home = tmp_path / "data"
    write_input(home, site("here"))
    write_input(home, listener("web"))
    write_input(home, connector("backend"))
    system_controller.start_site(home, controller_running=False)
    status = runtime(home, "Listener", "web")["status"]
    assert [c["type"] for c in status["conditions"]] == ["Configured", "Ready"]
    assert (status["status"], status["message"]) == ("Pending", "Not Matched")
    assert "hasMatchingConnector" not in status
    assert runtime(home, "Site", "here")["status"]["status"] == "Ready"  # fs_config_renderer.go SetRunning
    with pytest.raises(ValueError):
        system_controller.reload_site(home, network_connector_keys={"backend"}, controller_running=False)


def test_stop_removes_the_whole_namespace_home(tmp_path):
    home = tmp_path / "data"
    write_input(home, site("here"), namespace="blue")
    system_controller.start_site(home, "blue", platform="docker")
    assert system_controller.is_started(home, "blue")
    assert system_controller.stop_site(home, "blue") is True
    assert not os.path.exists(system_controller.namespace_home(home, "blue"))  # teardown.go: input/ too
    assert system_controller.stop_site(home, "blue") is False
