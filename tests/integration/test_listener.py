"""The listener module through real ansible-playbook runs, on Kubernetes and on a system site.

Every test runs against both back ends (``site`` fixture); Kubernetes tests use the
API test double, or a real cluster when SKUPPERLABS_TEST_KUBECONFIG is set, in which
case the tests that need the double's request log or fault switches are skipped.
"""

import os
import threading
import time

import pytest

from tests.support.sites import MANAGED
from tests.support.playbook import merged

LISTENER = "skupperlabs.network.listener"
SEED = {"name": "backend", "routing_key": "backend", "host": "backend", "port": 8080}


def listener(site, **options):
    args = dict(site.args)
    args.update(options)
    return {LISTENER: args}


def needs_double(site):
    if site.double is None:
        pytest.skip("needs the API test double (request log or fault switches)")
    return site.double


def skupper_calls(double):
    return [(c.method, c.query.get("dryRun")) for c in double.calls(plural="listeners")]


# -- the life of one listener ---------------------------------------------------

def test_create_then_rerun_is_unchanged(site, runner):
    first = runner.run(listener(site, **SEED))[0]
    assert first["changed"] is True and first["action"] == "create"
    stored = site.read("Listener", "backend")
    assert stored["spec"] == {"routingKey": "backend", "host": "backend", "port": 8080}
    assert stored["metadata"]["labels"] == MANAGED
    assert first["resource"]["spec"] == stored["spec"]
    if site.platform != "kubernetes":
        assert first["path"] == site.path("Listener", "backend")

    before = site.snapshot()
    if site.double:
        site.double.reset_calls()
    again = runner.run(listener(site, **SEED))[0]
    assert again["changed"] is False and again["action"] == "none"
    if site.double:
        assert skupper_calls(site.double) == [("GET", None)]
    assert site.snapshot() == before


def test_update_uses_one_get_and_one_put_with_resource_version(site, runner):
    runner.run(listener(site, **SEED))
    old = site.read("Listener", "backend")
    if site.double:
        site.double.reset_calls()
    # A new routing key: host and port stay, so no LIST for the host/port rule.
    result = runner.run(listener(site, **merged(SEED, routing_key="backend-v2")))[0]
    calls = site.double.calls(plural="listeners") if site.double else None
    assert result["changed"] is True and result["action"] == "update"
    new = site.read("Listener", "backend")
    assert new["spec"]["routingKey"] == "backend-v2"
    if site.platform == "kubernetes":
        assert new["metadata"]["uid"] == old["metadata"]["uid"], "updated in place, not recreated"
    if site.double:
        assert [c.method for c in calls] == ["GET", "PUT"]
        assert calls[1].body["metadata"]["resourceVersion"] == old["metadata"]["resourceVersion"]


def test_optional_fields_left_out_are_removed(site, runner):
    full = merged(SEED, tls_credentials="backend-tls", observer="http1", settings={"a": "1", "b": 2},
                  labels={"team": "payments"}, annotations={"owner": "ops"})
    created = runner.run(listener(site, **full))[0]
    assert created["changed"]
    spec = site.read("Listener", "backend")["spec"]
    assert spec["tlsCredentials"] == "backend-tls"
    assert spec["settings"] == {"a": "1", "b": "2"}
    assert spec["observer"] == "http1"

    trimmed = runner.run(listener(site, **SEED))[0]
    assert trimmed["changed"] is True
    stored = site.read("Listener", "backend")
    assert stored["spec"] == {"routingKey": "backend", "host": "backend", "port": 8080}
    # Labels and annotations not given are left alone.
    assert stored["metadata"]["labels"]["team"] == "payments"
    assert stored["metadata"]["annotations"]["owner"] == "ops"
    assert runner.run(listener(site, **SEED))[0]["changed"] is False


def test_labels_set_on_an_existing_listener_are_a_change(site, runner):
    runner.run(listener(site, **SEED))
    result = runner.run(listener(site, labels={"tier": "web"}, **SEED))[0]
    assert result["changed"] is True
    assert site.read("Listener", "backend")["metadata"]["labels"]["tier"] == "web"


def test_check_mode_writes_nothing_and_tells_the_truth(site, runner):
    before = site.snapshot()
    run = runner.run(listener(site, **SEED), check=True, diff=True)[0]
    assert run["changed"] is True and run["action"] == "create"
    assert run["diff"]["before"] == {}
    assert run["diff"]["after"]["spec"]["port"] == 8080
    assert site.read("Listener", "backend") is None
    assert site.snapshot() == before

    runner.run(listener(site, **SEED))
    before = site.snapshot()
    if site.double:
        site.double.reset_calls()
    update = runner.run(listener(site, **merged(SEED, tls_credentials="backend-tls")), check=True)[0]
    calls = skupper_calls(site.double) if site.double else None
    assert update["changed"] is True and update["action"] == "update"
    assert update["resource"]["spec"]["tlsCredentials"] == "backend-tls"
    assert "tlsCredentials" not in site.read("Listener", "backend")["spec"]
    if site.double:
        # The server validates the change as a dry run and stores nothing.
        assert calls == [("GET", None), ("PUT", "All")]
    assert site.snapshot() == before

    same = runner.run(listener(site, **SEED), check=True)[0]
    assert same["changed"] is False

    delete = runner.run(listener(site, name="backend", state="absent"), check=True)[0]
    assert delete["changed"] is True and delete["action"] == "delete"
    assert site.read("Listener", "backend") is not None
    assert site.snapshot() == before


def test_diff_shows_create_update_and_delete(site, runner):
    create, update, delete = runner.run(
        listener(site, **SEED),
        listener(site, **merged(SEED, port=8081)),
        listener(site, name="backend", state="absent"),
        diff=True).results
    assert create["diff"]["before"] == {}
    assert create["diff"]["after"]["spec"] == {"routingKey": "backend", "host": "backend", "port": 8080}
    assert update["diff"]["before"]["spec"]["port"] == 8080
    assert update["diff"]["after"]["spec"]["port"] == 8081
    assert "resourceVersion" not in update["diff"]["after"]["metadata"]
    assert delete["diff"]["before"]["spec"]["port"] == 8081
    assert delete["diff"]["after"] == {}


def test_state_absent_twice(site, runner):
    runner.run(listener(site, **SEED))
    first, second = runner.run(listener(site, name="backend", state="absent"),
                               listener(site, name="backend", state="absent")).results
    assert first["changed"] is True and first["action"] == "delete"
    assert second["changed"] is False
    assert site.read("Listener", "backend") is None
    if site.platform != "kubernetes":
        assert not os.path.exists(site.path("Listener", "backend"))


# -- many listeners at once -------------------------------------------------------

ITEMS = [
    {"name": "backend", "routing_key": "backend", "host": "backend", "port": 8080},
    {"name": "database", "routing_key": "db.primary", "host": "database", "port": 5432},
    {"name": "cache", "routing_key": "cache", "host": "cache", "port": 6379},
]


def test_bulk_and_exclusive_prune_only_managed_listeners(site, runner):
    site.put("Listener", "handmade", {"routingKey": "handmade", "host": "handmade", "port": 7000})
    created = runner.run(listener(site, listeners=ITEMS))[0]
    assert created["changed"] is True
    assert [r["action"] for r in created["results"]] == ["create", "create", "create"]
    assert site.names("Listener") == ["backend", "cache", "database", "handmade"]

    if site.double:
        site.double.reset_calls()
    again = runner.run(listener(site, listeners=ITEMS))[0]
    assert again["changed"] is False
    if site.double:
        # One LIST for the whole namespace, however many items.
        assert skupper_calls(site.double) == [("GET", None)]
        assert site.double.calls(plural="listeners")[0].path.endswith("/listeners")

    pruned = runner.run(listener(site, listeners=ITEMS[:2], exclusive=True), diff=True)[0]
    assert pruned["changed"] is True
    assert [r["action"] for r in pruned["results"]] == ["none", "none"]
    assert [p["name"] for p in pruned["pruned"]] == ["cache"]
    assert site.names("Listener") == ["backend", "database", "handmade"]
    assert runner.run(listener(site, listeners=ITEMS[:2], exclusive=True))[0]["changed"] is False


def test_bulk_item_state_and_update(site, runner):
    runner.run(listener(site, listeners=ITEMS))
    items = [merged(ITEMS[0], port=18080), merged(ITEMS[1], state="absent"), ITEMS[2]]
    result = runner.run(listener(site, listeners=items))[0]
    assert [r["action"] for r in result["results"]] == ["update", "delete", "none"]
    assert site.read("Listener", "backend")["spec"]["port"] == 18080
    assert site.names("Listener") == ["backend", "cache"]


# -- bad input: a clear message and nothing written -----------------------------

BAD_INPUTS = [
    ("name", merged(SEED, name="Backend_1"), "name: 'Backend_1' is not a valid name"),
    ("namespace", merged(SEED, namespace="Bad.NS"), "namespace: 'Bad.NS' is not a valid namespace"),
    ("routing key", merged(SEED, routing_key="-backend"), "routing_key: '-backend' is not a valid routing key"),
    ("port zero", merged(SEED, port=0), "port: 0 is not a valid port"),
    ("port too high", merged(SEED, port=70000), "port: 70000 is not a valid port"),
    ("missing routing key", {"name": "backend", "host": "backend", "port": 8080},
     "routing_key: required with state present"),
    ("settings value", merged(SEED, settings={"a": ["x"]}), "settings: value of 'a'"),
]


def test_bad_input_fails_before_any_write(site, runner):
    """Every bad input of SPEC "Errors" in one playbook: each task fails on its own, nothing is written."""
    before = site.snapshot()
    results = runner.run(*[listener(site, **options) for _label, options, _message in BAD_INPUTS]).results
    for (label, _options, message), result in zip(BAD_INPUTS, results):
        assert result["failed"] is True, label
        assert message in result["msg"], (label, result["msg"])
        assert "nothing was written" in result["msg"], label
    assert site.snapshot() == before


def test_bad_host_names_the_platform_rule(site, runner):
    bad = "Backend_1" if site.platform == "kubernetes" else "back end!"
    rule = "RFC 1035 label" if site.platform == "kubernetes" else "IP address or a host name"
    before = site.snapshot()
    result = runner.run(listener(site, **merged(SEED, host=bad)))[0]
    assert result["failed"] and "host: " in result["msg"] and rule in result["msg"]
    assert site.snapshot() == before


def test_bulk_with_one_bad_item_writes_nothing(site, runner):
    items = [ITEMS[0], merged(ITEMS[1], port=0), merged(ITEMS[2], name="Bad_Name")]
    before = site.snapshot()
    result = runner.run(listener(site, listeners=items))[0]
    assert result["failed"] is True
    assert "listeners[1].port" in result["msg"] and "listeners[2].name" in result["msg"]
    assert site.read("Listener", "backend") is None
    assert site.snapshot() == before


def test_exclusive_needs_the_list(site, runner):
    result = runner.run(listener(site, exclusive=True, **SEED))[0]
    assert result["failed"] and "exclusive" in result["msg"]
    assert site.read("Listener", "backend") is None


# -- waiting ---------------------------------------------------------------------

def _ready_later(site, delay):
    """Play Skupper's part: report the listener Ready a moment after it is written."""
    status = {"status": "Ready", "message": "OK", "hasMatchingConnector": True,
              "conditions": [{"type": t, "status": "True", "reason": "Ready", "message": "OK",
                              "lastTransitionTime": "2026-01-01T00:00:00Z"}
                             for t in ("Configured", "Matched", "Ready")]}

    def act():
        deadline = time.time() + 30
        while time.time() < deadline:
            stored = site.read("Listener", "backend")
            if stored:
                time.sleep(delay)
                if site.platform == "kubernetes":
                    site.double.set_status("listeners", site.namespace, "backend", status)
                else:
                    site.write_runtime("Listener", "backend", merged(stored, status=status))
                return
            time.sleep(0.1)

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread


def test_wait_until_ready(site, runner):
    if site.platform == "kubernetes":
        needs_double(site)
    thread = _ready_later(site, 1.0)
    result = runner.run(listener(site, wait=True, wait_for="ready", wait_timeout=30, **SEED))[0]
    thread.join()
    assert result["failed"] is False, result.get("msg")
    assert result["resource"]["status"]["status"] == "Ready"


def test_wait_timeout_reports_the_last_status(site, runner):
    started = time.time()
    result = runner.run(listener(site, wait=True, wait_for="ready", wait_timeout=2, **SEED))[0]
    assert result["failed"] is True
    assert "timed out after 2s waiting for Listener" in result["msg"]
    if site.double:
        assert "no status reported yet" in result["msg"]
    elif site.platform != "kubernetes":
        assert "site not initialized" in result["msg"]
    assert time.time() - started < 30
    # The listener was written; only the wait failed.
    assert site.read("Listener", "backend") is not None
