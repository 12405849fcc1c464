"""The connector and site modules on both back ends, through ansible-playbook."""

import pytest

from tests.support.playbook import merged

CONNECTOR = "skupperlabs.network.connector"
SITE = "skupperlabs.network.site"


def task(module, site, **options):
    args = dict(site.args)
    args.update(options)
    return {module: args}


def target(site):
    """How a connector reaches its workload on each platform."""
    return {"selector": "app=backend"} if site.platform == "kubernetes" else {"host": "127.0.0.1"}


def test_connector_lifecycle(site, runner):
    seed = dict(name="backend", routing_key="backend", port=8080, **target(site))
    created, again, changed = runner.run(
        task(CONNECTOR, site, **seed),
        task(CONNECTOR, site, **seed),
        task(CONNECTOR, site, **merged(seed, include_not_ready_pods=True)), diff=True).results
    assert created["changed"] is True and again["changed"] is False
    assert changed["changed"] is True
    assert changed["diff"]["after"]["spec"]["includeNotReadyPods"] is True
    stored = site.read("Connector", "backend")
    assert stored["spec"]["routingKey"] == "backend" and stored["spec"]["port"] == 8080
    removed = runner.run(task(CONNECTOR, site, **seed))[0]
    assert removed["changed"] is True and "includeNotReadyPods" not in site.read("Connector", "backend")["spec"]


def test_connector_bulk_exclusive(site, runner):
    items = [dict(name="a", routing_key="a", port=1, **target(site)),
             dict(name="b", routing_key="b", port=2, **target(site))]
    runner.run(task(CONNECTOR, site, connectors=items))
    result = runner.run(task(CONNECTOR, site, connectors=items[:1], exclusive=True))[0]
    assert [p["name"] for p in result["pruned"]] == ["b"]
    assert site.names("Connector") == ["a"]


TARGET_ERRORS = [
    ({"host": "10.0.0.1", "selector": "app=x"}, "set either host or selector, not both"),
    ({}, "host/selector: set host"),
    ({"host": "not a host"}, "host: 'not a host' is not a valid host"),
    ({"selector": "app in (a b"}, "is not a label selector"),
]


def test_connector_target_rules(site, runner):
    before = site.snapshot()
    tasks = [task(CONNECTOR, site, name="c", routing_key="c", port=1, **options) for options, _message in TARGET_ERRORS]
    for (_options, message), result in zip(TARGET_ERRORS, runner.run(*tasks).results):
        assert result["failed"] is True and message in result["msg"], result["msg"]
    assert site.snapshot() == before


def test_selector_is_refused_on_system_sites(system_site, runner):
    result = runner.run(task(CONNECTOR, system_site, name="c", routing_key="c", port=1, selector="app=x"))[0]
    assert result["failed"] and "pod selectors exist on Kubernetes only" in result["msg"]
    assert system_site.names("Connector") == []


def test_site_lifecycle_and_one_per_namespace(site, runner):
    created, again, updated = runner.run(
        task(SITE, site, name="west", link_access="default"),
        task(SITE, site, name="west", link_access="default"),
        task(SITE, site, name="west", link_access="default", ha=True)).results
    assert created["changed"] and not again["changed"] and updated["changed"]
    assert site.read("Site", "west")["spec"] == {"linkAccess": "default", "ha": True}

    before = site.snapshot()
    second = runner.run(task(SITE, site, name="east"))[0]
    assert second["failed"] is True
    assert "already has the Site west" in second["msg"]
    assert site.snapshot() == before

    gone = runner.run(task(SITE, site, name="west", state="absent"), task(SITE, site, name="east")).results
    assert gone[0]["changed"] and gone[1]["changed"]
    assert site.names("Site") == ["east"]


def test_site_requires_a_name(site, runner):
    result = runner.run(task(SITE, site, link_access="default"))[0]
    assert result["failed"] and "name" in result["msg"]


def test_site_costs_one_request_when_unchanged(kube_site, runner):
    if kube_site.double is None:
        pytest.skip("counts requests in the API double's log")
    runner.run(task(SITE, kube_site, name="west"))
    kube_site.double.reset_calls()
    assert runner.run(task(SITE, kube_site, name="west"))[0]["changed"] is False
    assert [call.method for call in kube_site.double.calls(plural="sites")] == ["GET"]
    assert kube_site.double.calls(plural="sites")[0].name is None, "one LIST answers both questions"
