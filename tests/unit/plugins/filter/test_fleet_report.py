"""The fleet report filters: what playbooks/rollout.yml tells about routing keys and failed hosts."""

from ansible_collections.skupperlabs.network.plugins.filter.fleet_report import (
    declared_routing_keys, fleet_report, fleet_report_table)


def host(name, listeners=(), connectors=(), namespace="default"):
    return {"inventory_hostname": name, "skupper_network_site": "%s/%s" % (name, namespace),
            "skupper_network_listener_keys": list(listeners), "skupper_network_connector_keys": list(connectors)}


def test_declared_keys_of_listeners_strategies_and_connectors():
    items = [
        {"name": "a", "routing_key": "backend"},
        {"name": "b", "routing_key": "gone", "state": "absent"},
        {"name": "m", "strategy": {"priority": {"routing_keys": ["east", "backend"]}, "weighted": None}},
        {"name": "w", "strategy": {"weighted": {"routing_keys": {"west": 1}}}},
    ]
    assert declared_routing_keys(items) == ["backend", "east", "west"]
    assert declared_routing_keys(None) == []


def test_report_names_dangling_keys_and_failed_hosts():
    hosts = [
        host("h1", listeners=["backend", "db"]),
        host("h2", connectors=["backend", "metrics"]),
        {"inventory_hostname": "h3"},
        host("cluster", listeners=["backend"], namespace="west"),
    ]
    report = fleet_report(hosts)
    assert report["routing_keys"]["backend"] == {"listeners": ["h1/default", "cluster/west"],
                                                 "connectors": ["h2/default"]}
    assert report["listeners_without_connector"] == ["db"]
    assert report["connectors_without_listener"] == ["metrics"]
    assert report["failed_hosts"] == ["h3"]
    assert report["errors"] == {"h3": "did not finish the rollout"}
    assert report["sites"] == ["cluster/west", "h1/default", "h2/default"]


def test_table_marks_problems():
    lines = fleet_report_table(fleet_report([host("h1", listeners=["db"]), host("h2", connectors=["m"]),
                                             {"inventory_hostname": "down"}]))
    assert lines[0].split() == ["ROUTING", "KEY", "LISTENERS", "CONNECTORS"]
    assert lines[1].startswith("db") and lines[1].endswith("no connector anywhere")
    assert lines[2].startswith("m ") and lines[2].endswith("no listener anywhere")
    assert lines[-2] == "failed hosts: down"
    assert lines[-1] == "  down: did not finish the rollout"


def test_a_recorded_error_makes_the_host_failed_even_with_facts():
    broken = dict(host("h9", listeners=["x"]), skupper_rollout_error="Start the site: exit 1")
    report = fleet_report([broken])
    assert report["failed_hosts"] == ["h9"] and report["errors"]["h9"] == "Start the site: exit 1"
    assert report["routing_keys"] == {}
