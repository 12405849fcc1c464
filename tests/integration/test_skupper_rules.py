"""Right about the real Skupper: the rules of issue 8, through real ansible-playbook runs.

Each test names the Skupper source file its rule comes from. Tests taking ``site`` run on
both back ends; those that need the API double's controller, request log or an older CRD
are skipped against a real cluster.
"""

import os

import pytest
import yaml

from tests.integration.test_status import RunningSite
from tests.support import system_controller
from tests.support.kube_api_double import KubeApiDouble
from tests.support.playbook import merged


LISTENER = "skupperlabs.network.listener"
CONNECTOR = "skupperlabs.network.connector"
SITE = "skupperlabs.network.site"
MKL = "skupperlabs.network.multikeylistener"
LISTENER_INFO = "skupperlabs.network.listener_info"
SITE_INFO = "skupperlabs.network.site_info"

BACKEND = {"name": "backend", "routing_key": "backend", "host": "backend", "port": 8080}
PRIORITY = {"name": "mkl", "host": "mkl", "port": 9095,
            "strategy": {"priority": {"routing_keys": ["east", "west"]}}}
WEIGHTED = merged(PRIORITY, strategy={"weighted": {"routing_keys": {"east": 1, "west": 3}}})


def task(site, module, **options):
    args = dict(site.args)
    args.update(options)
    return {module: args}


def double_of(site):
    if site.double is None:
        pytest.skip("needs the API test double (request log, controller or CRD versions)")
    return site.double


@pytest.fixture
def running(site, runner):
    if site.platform == "kubernetes" and site.double is None:
        pytest.skip("a real Skupper controller needs real pods behind connectors")
    controller = RunningSite(site).start(runner)
    yield controller
    controller.stop()


# -- 2. false, empty and default values: Skupper writes with omitempty ----------------------

def test_spelled_out_false_and_empty_values_wait_ready_and_rerun_unchanged(running, runner):
    """types.go marshals with omitempty: ``exposePodsByName: false`` and ``settings: {}`` are not in what
    Skupper writes back, so neither wait nor info may see a difference (it used to say "reload pending")."""
    listener = merged(BACKEND, expose_pods_by_name=False, settings={}, type="tcp")
    connector = dict(name="backend", routing_key="backend", port=8080, include_not_ready_pods=False,
                     settings={}, **running.workload())
    made = runner.run(running.task(CONNECTOR, **connector), running.task(LISTENER, **listener)).results
    assert all(result["changed"] for result in made), made
    waited = runner.run(running.task(LISTENER, wait=True, wait_timeout=20, **listener))[0]
    assert waited["failed"] is False, waited.get("msg")
    assert waited["changed"] is False
    assert waited["resource"]["status"]["status"] == "Ready"
    running.settle()
    entry, = runner.run(running.task(LISTENER_INFO, name="backend"))[0]["listeners"]
    assert entry["status"] == "Ready", entry["message"]
    assert "reload pending" not in entry["message"]


def test_site_with_false_and_empty_values_is_unchanged_on_rerun(site, runner):
    west = dict(name="west", ha=False, edge=False, settings={}, link_access="default")
    first = runner.run(task(site, SITE, **west))[0]
    assert first["changed"] is True, first.get("msg")
    before = site.snapshot()
    for same in (west, dict(name="west", link_access="default")):
        again = runner.run(task(site, SITE, **same))[0]
        assert again["changed"] is False, (same, again.get("diff"))
    assert site.snapshot() == before


# -- 4. a multi-key listener's strategy type on a system site ---------------------------

def test_strategy_type_change_on_a_running_system_site_is_refused_with_the_way_out(system_site, runner):
    """site_state_validator.go compares the strategy with the RUNNING state at reload, so delete and write
    (recreate) would leave a site that refuses every reload: the module refuses and says what to do."""
    runner.run(task(system_site, SITE, name="west"), task(system_site, MKL, **PRIORITY))
    system_controller.start_site(system_site.data_home, system_site.namespace, platform="linux")
    before = system_site.snapshot()
    for recreate in (False, True):
        result = runner.run(task(system_site, MKL, recreate=recreate, **WEIGHTED))[0]
        assert result["failed"] is True
        assert "the running site uses priority" in result["msg"]
        assert "state: absent" in result["msg"] and "skupper system reload" in result["msg"]
    assert system_site.snapshot() == before, "nothing written"

    # The way out the message gives works, step by step, against the validator double.
    assert runner.run(task(system_site, MKL, name="mkl", state="absent"))[0]["changed"] is True
    system_controller.reload_site(system_site.data_home, system_site.namespace)
    created = runner.run(task(system_site, MKL, **WEIGHTED))[0]
    assert created["changed"] is True and created["action"] == "create", created.get("msg")
    system_controller.reload_site(system_site.data_home, system_site.namespace)
    running = system_controller.read_runtime(system_site.data_home, system_site.namespace, "MultiKeyListener", "mkl")
    assert running["spec"]["strategy"] == {"weighted": {"routingKeys": {"east": 1, "west": 3}}}


def test_strategy_type_change_before_the_first_start_is_a_plain_update(system_site, runner):
    """Nothing runs yet, so nothing to compare with: Skupper's validator would accept the new type."""
    runner.run(task(system_site, MKL, **PRIORITY))
    result = runner.run(task(system_site, MKL, **WEIGHTED))[0]
    assert result["changed"] is True and result["action"] == "update", result.get("msg")


# -- 5. fields: the missing ones, the ones the module does not model, the pruned ones ------

def test_connector_and_site_fields_round_trip(site, runner):
    connector = {"name": "db", "routing_key": "db", "port": 5432, "tls_credentials": "db-tls",
                 "use_client_cert": True, "verify_hostname": True}
    if site.platform == "kubernetes":
        connector.update(selector="app=db", expose_pods_by_name=True)
    else:
        connector.update(host="10.0.0.5")
    made = runner.run(task(site, CONNECTOR, **connector), task(site, SITE, name="west", default_issuer="my-ca"))
    assert [r["changed"] for r in made.results] == [True, True], made.results
    spec = site.read("Connector", "db")["spec"]
    assert spec["useClientCert"] is True and spec["verifyHostname"] is True
    assert spec.get("exposePodsByName") is (True if site.platform == "kubernetes" else None)
    assert site.read("Site", "west")["spec"]["defaultIssuer"] == "my-ca"
    again = runner.run(task(site, CONNECTOR, **connector), task(site, SITE, name="west", default_issuer="my-ca"))
    assert [r["changed"] for r in again.results] == [False, False]


def test_fields_the_module_does_not_model_are_kept_and_named(system_site, runner):
    """A field a newer Skupper (or a hand) put in the spec survives an update, and a warning names it."""
    runner.run(task(system_site, LISTENER, **BACKEND))
    path = system_site.path("Listener", "backend")
    with open(path) as handle:
        obj = yaml.safe_load(handle)
    obj["spec"]["futureField"] = {"mode": "fast"}
    with open(path, "w") as handle:
        yaml.safe_dump(obj, handle)
    unchanged = runner.run(task(system_site, LISTENER, **BACKEND))[0]
    assert unchanged["changed"] is False
    updated = runner.run(task(system_site, LISTENER, **merged(BACKEND, port=9090)), diff=True)[0]
    assert updated["changed"] is True
    spec = system_site.read("Listener", "backend")["spec"]
    assert spec["futureField"] == {"mode": "fast"} and spec["port"] == 9090
    assert any("futureField" in warning for warning in updated.get("warnings", [])), updated.get("warnings")
    assert updated["diff"]["after"]["spec"]["futureField"] == {"mode": "fast"}

    # A running Skupper that does not know the field drops it from its runtime file (its Go structs
    # have no place for it): that is no pending reload, so a wait ends.
    system_site.write_runtime("Listener", "backend", {
        "apiVersion": "skupper.io/v2alpha1", "kind": "Listener",
        "metadata": {"name": "backend", "namespace": "default"},
        "spec": {"routingKey": "backend", "host": "backend", "port": 9090},
        "status": {"status": "Ready", "message": "OK"}})
    waited = runner.run(task(system_site, LISTENER, wait=True, wait_timeout=20, **merged(BACKEND, port=9090)))[0]
    assert waited["failed"] is False, waited.get("msg")
    assert waited["resource"]["status"]["status"] == "Ready"


def test_a_field_an_older_crd_prunes_is_named_and_not_a_change_every_run(runner, tmp_path):
    """Skupper 2.1's Listener CRD has no ``observer`` (added in 2.2.0): the API server prunes it."""
    double = KubeApiDouble(skupper_version="2.1.1").start()
    try:
        double.create_namespace("west")
        kubeconfig = double.write_kubeconfig(str(tmp_path / "kubeconfig"), namespace="west")
        args = dict(kubeconfig=kubeconfig, namespace="west", observer="none", **BACKEND)
        first = runner.run({LISTENER: args})[0]
        assert first["changed"] is True and first["action"] == "create", first.get("msg")
        assert "observer" not in double.get_object("listeners", "west", "backend")["spec"]
        assert any("observer" in warning and "CRD" in warning for warning in first.get("warnings", [])), first
        version = double.resource_version
        again = runner.run({LISTENER: args})[0]
        assert again["changed"] is False, again
        assert any("observer" in warning for warning in again.get("warnings", []))
        assert double.resource_version == version, "nothing stored"
    finally:
        double.stop()


# -- 6. Kubernetes: the controller refuses a second listener on one host and port ----------

def test_kubernetes_host_port_clash_is_refused_before_any_write(kube_site, runner):
    """internal/kube/site/site.go (CheckListener): listeners with one host share a Service, and a second
    listener on the same host and port gets an Error status. The module refuses to write it."""
    runner.run(task(kube_site, LISTENER, **BACKEND))
    before = kube_site.snapshot()
    clash = runner.run(task(kube_site, LISTENER, **merged(BACKEND, name="other", routing_key="other")))[0]
    assert clash["failed"] is True
    assert "Listener backend already uses host backend and port 8080" in clash["msg"]
    assert kube_site.snapshot() == before
    other_port = runner.run(task(kube_site, LISTENER, **merged(BACKEND, name="other", port=8081)))[0]
    assert other_port["changed"] is True, "same host, other port: one Service with two ports"
    moved = runner.run(task(kube_site, LISTENER, **merged(BACKEND, name="other", port=8080)))[0]
    assert moved["failed"] is True and "already uses host backend and port 8080" in moved["msg"]


def test_kubernetes_host_port_check_costs_a_list_only_when_host_or_port_moves(kube_site, runner):
    double = double_of(kube_site)
    double.reset_calls()
    runner.run(task(kube_site, LISTENER, **BACKEND))
    assert [c.method for c in double.calls(plural="listeners")] == ["GET", "GET", "POST"]
    assert double.calls(plural="listeners")[1].name is None, "the second read is the namespace's LIST"
    double.reset_calls()
    runner.run(task(kube_site, LISTENER, **BACKEND))
    assert [c.method for c in double.calls(plural="listeners")] == ["GET"], "unchanged: one GET, no write"
    double.reset_calls()
    runner.run(task(kube_site, LISTENER, **merged(BACKEND, routing_key="renamed")))
    assert [c.method for c in double.calls(plural="listeners")] == ["GET", "PUT"], "host and port stay"


def test_wait_ends_at_once_on_an_error_status_with_its_message(kube_site, runner):
    """A listener written past the module (by hand, another tool) on a taken host and port: the
    controller's Error ends a wait at once instead of spinning until the timeout."""
    double_of(kube_site)  # the controller that sets the Error is the double's
    controller = RunningSite(kube_site).start(runner)
    runner.run(controller.task(LISTENER, **BACKEND))
    kube_site.put("Listener", "other", {"routingKey": "other", "host": "backend", "port": 8080})
    controller.settle()
    result = runner.run(controller.task(LISTENER, wait=True, wait_timeout=300,
                                        **merged(BACKEND, name="other", routing_key="other")))[0]
    assert result["failed"] is True
    assert "reports an error" in result["msg"] and "timed out" not in result["msg"]
    assert "Listener backend with host backend and port 8080 already exists in namespace" in result["msg"]


def test_wait_ends_at_once_on_an_error_status_on_a_system_site(system_site, runner):
    runner.run(task(system_site, LISTENER, **BACKEND))
    running = {"apiVersion": "skupper.io/v2alpha1", "kind": "Listener",
               "metadata": {"name": "backend", "namespace": "default"},
               "spec": {"routingKey": "backend", "host": "backend", "port": 8080},
               "status": {"status": "Error", "message": "bind: address already in use"}}
    system_site.write_runtime("Listener", "backend", running)
    result = runner.run(task(system_site, LISTENER, wait=True, wait_timeout=300, **BACKEND))[0]
    assert result["failed"] is True and "timed out" not in result["msg"]
    assert "bind: address already in use" in result["msg"]


# -- 8. names and selectors as each platform takes them ----------------------------------

def test_kubernetes_takes_dns_subdomain_names(kube_site, runner):
    """The Skupper CRDs take any DNS subdomain; objects named so must stay manageable."""
    long_name = "a" * 70 + ".b"
    results = runner.run(task(kube_site, LISTENER, **merged(BACKEND, name="db.primary")),
                         task(kube_site, LISTENER, **merged(BACKEND, name=long_name, port=8081)),
                         task(kube_site, LISTENER, **merged(BACKEND, name="db.primary"))).results
    assert [r["changed"] for r in results] == [True, True, False], results
    assert kube_site.read("Listener", long_name)["spec"]["port"] == 8081


def test_system_sites_refuse_dotted_names_before_writing(system_site, runner):
    """internal/nonkube/common/site_state_validator.go ValidateName: no dots on a system site."""
    result = runner.run(task(system_site, LISTENER, **merged(BACKEND, name="db.primary")))[0]
    assert result["failed"] is True and "not a valid name on a system site" in result["msg"]
    assert not os.path.exists(system_site.resources_dir())


def test_kubernetes_connector_takes_a_set_based_selector(kube_site, runner):
    """Skupper passes the selector to the Kubernetes API as it is, so set-based terms are valid."""
    connector = {"name": "db", "routing_key": "db", "port": 5432, "selector": "app in (db,db-replica),tier!=test"}
    result = runner.run(task(kube_site, CONNECTOR, **connector))[0]
    assert result["changed"] is True, result.get("msg")
    assert kube_site.read("Connector", "db")["spec"]["selector"] == "app in (db,db-replica),tier!=test"


# -- 7. runtime files rewritten in place ---------------------------------------------------

def test_info_and_wait_ride_out_runtime_files_skupper_rewrites_in_place(system_site, runner):
    """pkg/nonkube/api/site_state.go writes runtime files with os.Create (truncate, then write). The
    system-site double rewrites them that way, pausing while a file is empty and again while half
    written, over and over; info and wait must read through it, never fail on a torn file."""
    import threading

    connector = {"name": "backend", "routing_key": "backend", "port": 8080, "host": "127.0.0.1"}
    runner.run(task(system_site, SITE, name="west"), task(system_site, CONNECTOR, **connector),
               task(system_site, LISTENER, **BACKEND))
    system_controller.start_site(system_site.data_home, system_site.namespace, platform="linux")
    stop = threading.Event()
    rewrites = []

    def keep_rewriting():
        while not stop.is_set():
            system_controller.reload_site(system_site.data_home, system_site.namespace, racy_pause=0.15)
            rewrites.append(1)

    thread = threading.Thread(target=keep_rewriting, daemon=True)
    thread.start()
    try:
        results = runner.run(*([task(system_site, LISTENER_INFO, name="backend")] * 4
                               + [task(system_site, LISTENER, wait=True, wait_timeout=30, **BACKEND)])).results
    finally:
        stop.set()
        thread.join()
    assert rewrites, "the double rewrote the runtime files while the tasks read them"
    for info in results[:4]:
        assert info["failed"] is False, info.get("msg")
        entry, = info["listeners"]
        assert entry["status"] in ("Ready", "Pending"), entry
    assert results[4]["failed"] is False, results[4].get("msg")
    assert results[4]["resource"]["status"]["status"] == "Ready"
