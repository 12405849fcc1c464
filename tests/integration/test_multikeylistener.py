"""The multikeylistener module through real ansible-playbook runs, on Kubernetes and on a system site."""

from tests.support.playbook import merged


MKL = "skupperlabs.network.multikeylistener"
WEIGHTED = {"name": "mkl-backend", "host": "mkl-backend", "port": 9092,
            "strategy": {"weighted": {"routing_keys": {"east-backend": 1, "west-backend": 1}}}}
PRIORITY = {"name": "mkl-backend-priority", "host": "mkl-backend-priority", "port": 9095,
            "strategy": {"priority": {"routing_keys": ["east-backend-http", "west-backend-http"]}}}


def mkl(site, **options):
    args = dict(site.args)
    args.update(options)
    return {MKL: args}


def with_strategy(base, strategy, **more):
    item = merged(base, strategy=strategy)
    item.update(more)
    return item


def test_seed_examples_applied_and_reapplied_unchanged(site, runner):
    first = runner.run(mkl(site, **WEIGHTED), mkl(site, **PRIORITY)).results
    assert [r["changed"] for r in first] == [True, True]
    assert site.read("MultiKeyListener", "mkl-backend")["spec"] == {
        "host": "mkl-backend", "port": 9092,
        "strategy": {"weighted": {"routingKeys": {"east-backend": 1, "west-backend": 1}}}}
    assert site.read("MultiKeyListener", "mkl-backend-priority")["spec"]["strategy"] == {
        "priority": {"routingKeys": ["east-backend-http", "west-backend-http"]}}

    before = site.snapshot()
    again = runner.run(mkl(site, **WEIGHTED), mkl(site, **PRIORITY)).results
    assert [r["changed"] for r in again] == [False, False]
    assert site.snapshot() == before


def test_weighted_keys_in_another_order_are_not_a_change(site, runner):
    runner.run(mkl(site, **WEIGHTED))
    reordered = with_strategy(WEIGHTED, {"weighted": {"routing_keys": {"west-backend": 1, "east-backend": 1}}})
    assert runner.run(mkl(site, **reordered))[0]["changed"] is False


def test_priority_order_and_weights_are_updates(site, runner):
    runner.run(mkl(site, **WEIGHTED), mkl(site, **PRIORITY))
    swapped = with_strategy(PRIORITY, {"priority": {"routing_keys": ["west-backend-http", "east-backend-http"]}})
    heavier = with_strategy(WEIGHTED, {"weighted": {"routing_keys": {"east-backend": 3, "west-backend": 1}}})
    order, weight = runner.run(mkl(site, **swapped), mkl(site, **heavier), diff=True).results
    assert order["changed"] is True and order["action"] == "update"
    assert order["diff"]["before"]["spec"]["strategy"]["priority"]["routingKeys"][0] == "east-backend-http"
    assert order["diff"]["after"]["spec"]["strategy"]["priority"]["routingKeys"][0] == "west-backend-http"
    assert weight["changed"] is True
    assert site.read("MultiKeyListener", "mkl-backend")["spec"]["strategy"]["weighted"]["routingKeys"] == {
        "east-backend": 3, "west-backend": 1}


def test_strategy_type_change_is_refused_without_recreate(kube_site, runner):
    """The CRD's CEL rule "strategy is immutable" holds for the stored object. (A system site checks
    the running site instead: tests/integration/test_skupper_rules.py.)"""
    site = kube_site
    runner.run(mkl(site, **PRIORITY))
    before = site.snapshot()
    switched = with_strategy(PRIORITY, {"weighted": {"routing_keys": {"east-backend-http": 1}}})
    result = runner.run(mkl(site, **switched))[0]
    assert result["failed"] is True
    assert "strategy type is immutable" in result["msg"]
    assert "recreate: true" in result["msg"]
    assert site.snapshot() == before


def test_recreate_switches_the_strategy_type(kube_site, runner):
    site = kube_site
    runner.run(mkl(site, **PRIORITY))
    old = site.read("MultiKeyListener", "mkl-backend-priority")
    switched = with_strategy(PRIORITY, {"weighted": {"routing_keys": {"east-backend-http": 2}}}, recreate=True)

    before = site.snapshot()
    checked = runner.run(mkl(site, **switched), check=True, diff=True)[0]
    assert checked["changed"] is True and checked["action"] == "recreate"
    assert "priority" in checked["diff"]["before"]["spec"]["strategy"]
    assert "weighted" in checked["diff"]["after"]["spec"]["strategy"]
    assert site.snapshot() == before, "check mode must not delete anything"

    done = runner.run(mkl(site, **switched), diff=True)[0]
    assert done["changed"] is True and done["action"] == "recreate"
    stored = site.read("MultiKeyListener", "mkl-backend-priority")
    assert stored["spec"]["strategy"] == {"weighted": {"routingKeys": {"east-backend-http": 2}}}
    assert stored["metadata"]["uid"] != old["metadata"]["uid"]
    assert runner.run(mkl(site, **switched))[0]["changed"] is False


def test_recreate_is_not_used_when_the_type_is_kept(site, runner):
    runner.run(mkl(site, **PRIORITY))
    result = runner.run(mkl(site, **merged(PRIORITY, port=9096, recreate=True)))[0]
    assert result["action"] == "update"


def test_bulk_exclusive_and_absent(site, runner):
    strategy = {"priority": {"routingKeys": ["x"]}}
    site.put("MultiKeyListener", "handmade", {"host": "handmade", "port": 9000, "strategy": strategy})
    created = runner.run(mkl(site, multikeylisteners=[WEIGHTED, PRIORITY]))[0]
    assert [r["action"] for r in created["results"]] == ["create", "create"]
    pruned = runner.run(mkl(site, multikeylisteners=[WEIGHTED], exclusive=True))[0]
    assert [p["name"] for p in pruned["pruned"]] == ["mkl-backend-priority"]
    assert site.names("MultiKeyListener") == ["handmade", "mkl-backend"]
    gone, again = runner.run(mkl(site, name="mkl-backend", state="absent"),
                             mkl(site, name="mkl-backend", state="absent")).results
    assert gone["changed"] is True and again["changed"] is False
    assert site.names("MultiKeyListener") == ["handmade"]


BAD_STRATEGIES = [
    ("both", {"priority": {"routing_keys": ["a"]}, "weighted": {"routing_keys": {"a": 1}}},
     "strategy: set exactly one of priority or weighted, not both"),
    ("neither", {}, "strategy: set exactly one of priority or weighted; neither is set"),
    ("empty list", {"priority": {"routing_keys": []}}, "strategy: priority.routing_keys: list at least one"),
    ("empty map", {"weighted": {"routing_keys": {}}}, "strategy: weighted.routing_keys: list at least one"),
    ("duplicate", {"priority": {"routing_keys": ["a", "b", "a"]}}, "'a' is listed twice"),
    ("invalid key", {"priority": {"routing_keys": ["a", "Not_Valid"]}}, "'Not_Valid' is not a valid routing key"),
    ("invalid weighted key", {"weighted": {"routing_keys": {"-a": 1}}}, "'-a' is not a valid routing key"),
    ("weight zero", {"weighted": {"routing_keys": {"a": 0}}}, "weight of 'a' is 0: weights must be integers"),
    ("weight negative", {"weighted": {"routing_keys": {"a": -2}}}, "weight of 'a' is -2"),
    ("weight fraction", {"weighted": {"routing_keys": {"a": 1.5}}}, "weight of 'a' is 1.5"),
    ("weight text", {"weighted": {"routing_keys": {"a": "heavy"}}}, "weight of 'a' is 'heavy'"),
    ("too many", {"priority": {"routing_keys": ["k%d" % i for i in range(257)]}},
     "257 routing keys given, at most 256"),
    ("too many weighted", {"weighted": {"routing_keys": dict(("k%d" % i, 1) for i in range(257))}},
     "257 routing keys given, at most 256"),
]


def test_invalid_strategies_fail_before_any_write(site, runner):
    """Each invalid strategy in its own task of one playbook: each fails with its reason, nothing is written."""
    before = site.snapshot()
    tasks = [mkl(site, **with_strategy(WEIGHTED, strategy)) for _label, strategy, _message in BAD_STRATEGIES]
    for (label, _strategy, message), result in zip(BAD_STRATEGIES, runner.run(*tasks).results):
        assert result["failed"] is True, label
        assert message in result["msg"], (label, result["msg"])
    assert site.snapshot() == before


def test_missing_strategy_and_bad_port(site, runner):
    result = runner.run(mkl(site, name="m", host="m", port=0))[0]
    assert result["failed"] and "port: 0 is not a valid port" in result["msg"]
    assert "strategy: required with state present" in result["msg"]


def test_256_keys_are_accepted(site, runner):
    keys = ["k%d" % i for i in range(256)]
    result = runner.run(mkl(site, **with_strategy(PRIORITY, {"priority": {"routing_keys": keys}})))[0]
    assert result["changed"] is True
    assert len(site.read("MultiKeyListener", "mkl-backend-priority")["spec"]["strategy"]["priority"]
               ["routingKeys"]) == 256


def test_system_site_host_port_covers_listeners_too(system_site, runner):
    system_site.put("Listener", "backend", {"routingKey": "backend", "host": "mkl-backend", "port": 9092})
    before = system_site.snapshot()
    result = runner.run(mkl(system_site, **WEIGHTED))[0]
    assert result["failed"] and "Listener backend already uses host mkl-backend and port 9092" in result["msg"]
    assert system_site.snapshot() == before
