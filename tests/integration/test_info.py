"""The *_info modules: flat entries, filters, status on both back ends, and never a write."""

import os

import pytest

from tests.support.playbook import merged

LISTENER_INFO = "skupperlabs.network.listener_info"
MKL_INFO = "skupperlabs.network.multikeylistener_info"

READY = {"status": "Ready", "message": "OK", "hasMatchingConnector": True,
         "conditions": [{"type": t, "status": "True", "reason": "Ready", "message": "OK",
                         "lastTransitionTime": "2026-01-01T00:00:00Z"} for t in ("Configured", "Matched", "Ready")]}


def info(module, site, **options):
    args = dict(site.args)
    args.update(options)
    return {module: args}


def seed_listeners(site):
    site.put("Listener", "backend", {"routingKey": "backend", "host": "backend", "port": 8080},
             labels={"tier": "web"})
    site.put("Listener", "database", {"routingKey": "db.primary", "host": "database", "port": 5432,
                                      "settings": {"a": "1"}}, labels={"tier": "data"})
    site.put("Listener", "cache", {"routingKey": "backend", "host": "cache", "port": 6379})


def report(site, name, obj, status):
    """Play the running site: the status Skupper would write for this resource."""
    if site.platform == "kubernetes":
        site.double.set_status("listeners" if obj["kind"] == "Listener" else "multikeylisteners",
                               site.namespace, name, status)
    else:
        site.write_runtime(obj["kind"], name, merged(obj, status=status))


def test_all_listeners_as_flat_entries(site, runner):
    seed_listeners(site)
    before = site.snapshot()
    if site.double:
        site.double.reset_calls()
    result = runner.run(info(LISTENER_INFO, site), check=True)[0]
    calls = site.double.calls() if site.double else None
    assert result["changed"] is False
    names = [entry["name"] for entry in result["listeners"]]
    assert names == ["backend", "cache", "database"]
    database = result["listeners"][2]
    assert database["routing_key"] == "db.primary" and database["port"] == 5432
    assert database["settings"] == {"a": "1"} and database["labels"] == {"tier": "data"}
    assert database["namespace"] == site.namespace
    assert database["resource"]["spec"]["host"] == "database"
    assert database["has_matching_connector"] is False
    if site.double:
        assert [(c.method, c.name) for c in calls] == [("GET", None)]
    assert site.snapshot() == before


def test_filters(site, runner):
    seed_listeners(site)
    by_name, by_label, by_key, by_two, none = runner.run(
        info(LISTENER_INFO, site, name="database"),
        info(LISTENER_INFO, site, label_selectors=["tier=web"]),
        info(LISTENER_INFO, site, routing_key="backend"),
        info(LISTENER_INFO, site, label_selectors=["tier", "tier!=web"]),
        info(LISTENER_INFO, site, name="nothing")).results
    assert [e["name"] for e in by_name["listeners"]] == ["database"]
    assert [e["name"] for e in by_label["listeners"]] == ["backend"]
    assert [e["name"] for e in by_key["listeners"]] == ["backend", "cache"]
    assert [e["name"] for e in by_two["listeners"]] == ["database"]
    assert none["listeners"] == []


def test_bad_filters_are_refused(site, runner):
    bad_selector, bad_key = runner.run(info(LISTENER_INFO, site, label_selectors=["=web"]),
                                       info(LISTENER_INFO, site, routing_key="Not_A_Key")).results
    assert bad_selector["failed"] and "label_selectors[0]" in bad_selector["msg"]
    assert bad_key["failed"] and "routing_key" in bad_key["msg"]


def test_status_as_the_site_reports_it(site, runner):
    if site.platform == "kubernetes" and site.double is None:
        pytest.skip("a real cluster's controller reports status by itself; nothing to play here")
    seed_listeners(site)
    report(site, "backend", site.read("Listener", "backend"), READY)
    entries = runner.run(info(LISTENER_INFO, site))[0]["listeners"]
    backend, cache = entries[0], entries[1]
    assert backend["status"] == "Ready" and backend["message"] == "OK"
    assert backend["has_matching_connector"] is True
    assert [c["type"] for c in backend["conditions"]] == ["Configured", "Matched", "Ready"]
    assert cache["status"] == "Pending"


def test_matching_connector_count_of_the_seed_is_read_too(system_site, runner):
    seed_listeners(system_site)
    report(system_site, "backend", system_site.read("Listener", "backend"),
           {"status": "Ready", "message": "OK", "matchingConnectorCount": 2})
    backend = runner.run(info(LISTENER_INFO, system_site, name="backend"))[0]["listeners"][0]
    assert backend["has_matching_connector"] is True and backend["matching_connector_count"] == 2


def test_system_site_not_started(system_site, runner):
    seed_listeners(system_site)
    entry = runner.run(info(LISTENER_INFO, system_site, name="backend"))[0]["listeners"][0]
    assert entry["status"] == "Pending"
    assert entry["message"].startswith("site not initialized")


def test_system_site_reload_pending(system_site, runner):
    seed_listeners(system_site)
    running = system_site.read("Listener", "backend")
    report(system_site, "backend", running, READY)
    report(system_site, "cache", system_site.read("Listener", "cache"), READY)
    # The user changes the input; the running site has not reloaded yet.
    changed = merged(running, spec=merged(running["spec"], port=9999))
    system_site.put("Listener", "backend", changed["spec"], labels={"tier": "web"})
    entries = runner.run(info(LISTENER_INFO, system_site))[0]["listeners"]
    backend = entries[0]
    assert backend["status"] == "Pending" and "reload pending" in backend["message"]
    assert backend["port"] == 9999, "the spec comes from input/resources"
    assert entries[1]["status"] == "Ready"
    database = entries[2]
    assert database["status"] == "Pending" and "not been reloaded" in database["message"]
    assert os.path.exists(system_site.path("Listener", "backend"))


def test_multikeylistener_reachability(site, runner):
    if site.platform == "kubernetes" and site.double is None:
        pytest.skip("a real cluster's controller reports status by itself; nothing to play here")
    spec = {"host": "mkl", "port": 9092,
            "strategy": {"weighted": {"routingKeys": {"east-backend": 1, "west-backend": 3}}}}
    site.put("MultiKeyListener", "mkl", spec)
    report(site, "mkl", site.read("MultiKeyListener", "mkl"),
           {"status": "Ready", "message": "OK", "hasDestination": True,
            "strategy": {"weighted": {"routingKeysReachable": {"west-backend": 3}}},
            "conditions": [{"type": "Configured", "status": "True", "reason": "Ready", "message": "OK",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
    by_key, other_key = runner.run(info(MKL_INFO, site, routing_key="east-backend"),
                                   info(MKL_INFO, site, routing_key="backend")).results
    entry, = by_key["multikeylisteners"]
    assert entry["has_destination"] is True
    assert entry["routing_keys_reachable"] == {"west-backend": 3}
    assert entry["strategy"] == {"weighted": {"routing_keys": {"east-backend": 1, "west-backend": 3}}}
    assert other_key["multikeylisteners"] == []
