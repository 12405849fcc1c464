"""The fleet report filters: what playbooks/rollout.yml tells about routing keys, links, networks and failed hosts."""

import json
import os
import subprocess

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.skupperlabs.network.plugins.filter.fleet_report import (
    declared_routing_keys, fleet_report, fleet_report_table)
from tests.support.playbook import COLLECTIONS, ansible_playbook

GRANT_CODE = "Xq7LmN2pR9sT4vW8yZ1bC3dF"  # 24 alphanumerics, as Skupper's RandomId(24) makes them
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


def host(name, listeners=(), connectors=(), namespace="default", links=None, observed=None):
    facts = {"inventory_hostname": name, "skupper_network_site": "%s/%s" % (name, namespace),
             "skupper_network_listener_keys": list(listeners), "skupper_network_connector_keys": list(connectors)}
    if links is not None:
        facts["skupper_network_links_result"] = links
    if observed is not None:
        facts["skupper_network_observed"] = observed
    return facts


def link(peer, status="Ready", message="OK", cost=1, name=None, namespace="default"):
    return {"name": name or peer, "peer": peer, "to": "%s/%s" % (peer, namespace), "cost": cost,
            "status": status, "message": message}


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
    backend = report["routing_keys"]["backend"]
    assert (backend["listeners"], backend["connectors"]) == (["h1/default", "cluster/west"], ["h2/default"])
    assert report["listeners_without_connector"] == ["db"]
    assert report["connectors_without_listener"] == ["metrics"]
    assert report["failed_hosts"] == ["h3"]
    assert report["errors"] == {"h3": "did not finish the rollout"}
    assert report["sites"] == ["cluster/west", "h1/default", "h2/default"]


def test_a_recorded_error_makes_the_host_failed_even_with_facts():
    broken = dict(host("h9", listeners=["x"], links=[link("h1")],
                       observed={"listeners": [{"name": "x", "routing_keys": ["x"], "status": "Ready"}]}),
                  skupper_rollout_error="Start the site: exit 1")
    report = fleet_report([broken, host("h1", connectors=["x"])])
    assert report["failed_hosts"] == ["h9"] and report["errors"]["h9"] == "Start the site: exit 1"
    assert report["routing_keys"]["x"]["listeners"] == [] and report["routing_keys"]["x"]["observed"] == []
    assert report["links"] == [] and report["networks"] == [["h1/default"]]


# ---- networks -------------------------------------------------------------------------------------

def test_a_chain_of_links_is_one_network_and_an_unlinked_site_a_network_of_its_own():
    report = fleet_report([host("a", links=[link("b")]), host("c", links=[link("b", status="Pending")]),
                           host("b"), host("d"), host("e", links=[])])
    assert report["networks"] == [["a/default", "b/default", "c/default"], ["d/default"], ["e/default"]]


def test_links_go_both_ways_whoever_declares_them():
    # c declares the link to b and b the one to a: a and c still meet through b.
    report = fleet_report([host("a"), host("b", links=[link("a")]), host("c", links=[link("b", status="Error")])])
    assert report["networks"] == [["a/default", "b/default", "c/default"]]


def test_two_islands():
    report = fleet_report([host("a", links=[link("b")]), host("b"), host("c"), host("d", links=[link("c")])])
    assert report["networks"] == [["a/default", "b/default"], ["c/default", "d/default"]]


def test_a_failed_link_splits_a_network():
    report = fleet_report([host("a", links=[link("b")]), host("b"),
                           host("c", links=[link("b", status="Failed", message="peer b: grant refused")])])
    assert report["networks"] == [["a/default", "b/default"], ["c/default"]]
    assert [(item["from"], item["status"]) for item in report["links"]] == [("a/default", "Ready"),
                                                                            ("c/default", "Failed")]


def test_failed_hosts_are_in_no_network_and_a_link_to_one_joins_nothing():
    # b failed after its site was up: c's link to it may even be Ready, b is still in no network.
    report = fleet_report([host("a", links=[link("b", status="Failed", message="peer b is down")]),
                           dict(host("b"), skupper_rollout_error="Start the site: exit 1"),
                           host("c", links=[link("b")]), {"inventory_hostname": "z"}])
    assert report["networks"] == [["a/default"], ["c/default"]]
    assert report["failed_hosts"] == ["b", "z"]
    shown = [(item["from"], item["to"], item["status"], item["message"]) for item in report["links"]]
    assert shown == [("a/default", "b/default", "Failed", "peer b is down"), ("c/default", "b/default", "Ready", "OK")]


def test_links_are_listed_sorted_with_the_declared_fields():
    report = fleet_report([host("b", links=[link("a", name="to-a-2", cost=5), link("a", name="to-a-1")]),
                           host("a", links=[link("b", namespace="east", status="Pending",
                                                 message="site not initialized")]),
                           host("b", namespace="east")])
    assert report["links"] == [
        {"from": "a/default", "to": "b/east", "name": "b", "cost": 1, "status": "Pending",
         "message": "site not initialized"},
        {"from": "b/default", "to": "a/default", "name": "to-a-1", "cost": 1, "status": "Ready", "message": "OK"},
        {"from": "b/default", "to": "a/default", "name": "to-a-2", "cost": 5, "status": "Ready", "message": "OK"},
    ]


# ---- reachable ------------------------------------------------------------------------------------

@pytest.mark.parametrize("status, reachable", [(None, False), ("Ready", True), ("Pending", True),
                                               ("Error", True), ("Failed", False)])
def test_a_key_is_reachable_exactly_when_its_listener_and_connector_sites_are_linked(status, reachable):
    links = [link("east", status=status)] if status else []
    report = fleet_report([host("west", listeners=["backend"], links=links), host("east", connectors=["backend"])])
    assert report["routing_keys"]["backend"]["reachable"] is reachable
    assert report["unreachable_routing_keys"] == ([] if reachable else ["backend"])


def test_reachable_through_a_chain_and_not_across_islands():
    report = fleet_report([
        host("a", listeners=["far", "across"], links=[link("b")]), host("b", links=[link("c")]),
        host("c", connectors=["far"]), host("d", connectors=["across"], links=[link("e")]), host("e"),
    ])
    assert report["routing_keys"]["far"]["reachable"] is True
    assert report["routing_keys"]["across"]["reachable"] is False
    assert report["unreachable_routing_keys"] == ["across"]


def test_a_key_needs_both_ends_and_one_site_with_both_is_reachable():
    report = fleet_report([host("solo", listeners=["local", "dangling"], connectors=["local"]),
                           host("other", connectors=["lonely"])])
    keys = report["routing_keys"]
    assert (keys["local"]["reachable"], keys["dangling"]["reachable"], keys["lonely"]["reachable"]) == (
        True, False, False)
    assert report["unreachable_routing_keys"] == ["dangling", "lonely"]


def test_one_linked_pair_among_several_sites_is_enough():
    report = fleet_report([host("a", listeners=["k"]), host("b", listeners=["k"], links=[link("c")]),
                           host("c", connectors=["k"]), host("d", connectors=["k"])])
    assert report["routing_keys"]["k"]["reachable"] is True


# ---- observed -------------------------------------------------------------------------------------

def test_observed_entries_sit_beside_the_declared_sites():
    west = host("west", listeners=["backend"], observed={
        "listeners": [{"name": "backend", "routing_keys": ["backend"], "status": "Pending",
                       "message": "No matching connectors", "resource": {"spec": {"tlsCredentials": "x"}}}],
        "multikeylisteners": [{"name": "mk", "routing_keys": ["backend", "spare", "backend"], "status": "Ready",
                               "message": "OK"}],
    })
    east = host("east", connectors=["backend"], observed={
        "connectors": [{"name": "backend", "routing_keys": ["backend"], "status": "Ready", "message": "OK"}],
        "listeners": [{"name": "undeclared", "routing_keys": ["nobody-declared"], "status": "Ready"}],
    })
    report = fleet_report([west, east, host("quiet")])
    assert report["routing_keys"]["backend"]["observed"] == [
        {"site": "east/default", "kind": "connector", "name": "backend", "status": "Ready", "message": "OK"},
        {"site": "west/default", "kind": "listener", "name": "backend", "status": "Pending",
         "message": "No matching connectors"},
        {"site": "west/default", "kind": "multikeylistener", "name": "mk", "status": "Ready", "message": "OK"},
    ]
    # Keys are what was declared; a key only observed makes no entry of its own.
    assert sorted(report["routing_keys"]) == ["backend"]


def test_no_observed_facts_means_an_empty_list():
    report = fleet_report([host("west", listeners=["k"], connectors=["k"])])
    assert report["routing_keys"]["k"]["observed"] == []


# ---- links down -----------------------------------------------------------------------------------

def test_a_site_whose_links_are_all_down_is_named_with_the_reason():
    report = fleet_report([
        host("west", links=[link("east", status="Pending", message="site not initialized")]),
        host("east", links=[link("hub", status="Failed", message="peer hub: no static link found")]),
        host("hub"),
        host("good", links=[link("hub2", status="Error", message="Not Operational"), link("hub2", name="b")]),
        host("hub2"), host("alone"),
    ])
    assert report["sites_with_links_down"] == {
        "east/default": "2 links, none Ready: east/default -> hub/default Failed (peer hub: no static link found); "
                        "west/default -> east/default Pending (site not initialized)",
        # The peer of a link counts it as its own: hub has no link that works either.
        "hub/default": "1 link, not Ready: east/default -> hub/default Failed (peer hub: no static link found)",
        "west/default": "1 link, not Ready: west/default -> east/default Pending (site not initialized)",
    }


def test_the_peer_of_a_down_link_counts_it_too():
    report = fleet_report([host("a", links=[link("b", status="Error", message="")]), host("b")])
    assert report["sites_with_links_down"] == {"a/default": "1 link, not Ready: a/default -> b/default Error",
                                               "b/default": "1 link, not Ready: a/default -> b/default Error"}


# ---- credentials ----------------------------------------------------------------------------------

def test_nothing_that_looks_like_a_credential_reaches_the_report_or_the_table():
    leaky = dict(link("east", status="Failed",
                      message="peer east refused code %s\n%s" % (GRANT_CODE, PEM)), code=GRANT_CODE, ca=PEM)
    west = host("west", listeners=["k"], links=[leaky], observed={
        "listeners": [{"name": "k", "routing_keys": ["k"], "status": "Error", "message": "bad key " + PEM,
                       "tls_credentials": GRANT_CODE}]})
    report = fleet_report([west, host("east", connectors=["k"]),
                           dict(host("x"), skupper_rollout_error="Redeem: code %s refused" % GRANT_CODE)])
    text = json.dumps(report) + "\n".join(fleet_report_table(report))
    for secret in (GRANT_CODE, "BEGIN PRIVATE KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"):
        assert secret not in text
    assert report["links"][0]["message"] == "peer east refused code ******** <PEM data removed>"
    assert set(report["links"][0]) == {"from", "to", "name", "cost", "status", "message"}
    assert report["errors"]["x"] == "Redeem: code ******** refused"


@pytest.mark.parametrize("code", ["k3j9x0q2m5n8p1r4t7v6w0z2", "QwErTyUiOpAsDfGhJkLzXcVb", "7H3K9Q2M5N8P1R4T7V6W0Z2A"])
def test_random_looking_codes_of_any_mix_are_removed(code):
    report = fleet_report([host("a", links=[link("b", status="Failed", message="refused %s." % code)])])
    assert report["links"][0]["message"] == "refused ********."


def test_ordinary_messages_are_kept_as_they_are():
    message = "peer hub-1 (hub-1/skupper-system): No such claim at https://10.0.0.5:8081/0f3c2a1e-33ab"
    report = fleet_report([host("a", links=[link("hub-1", status="Failed", message=message)])])
    assert report["links"][0]["message"] == message


# ---- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("facts, error", [
    ({"skupper_network_links_result": [{"status": "Ready"}]},
     "skupper_network_links_result[0] of west has no to"),
    ({"skupper_network_links_result": [{"to": "east/default", "status": ""}]},
     "skupper_network_links_result[0] of west has no status"),
    ({"skupper_network_links_result": "east"}, "skupper_network_links_result of west must be a list"),
    ({"skupper_network_links_result": ["east"]}, "skupper_network_links_result[0] of west must be a mapping"),
    ({"skupper_network_observed": ["x"]}, "skupper_network_observed of west must be a mapping"),
    ({"skupper_network_observed": {"listeners": [{"name": "x", "routing_keys": "k"}]}},
     "skupper_network_observed.listeners[0].routing_keys of west must be a list"),
])
def test_malformed_facts_are_a_clear_error(facts, error):
    with pytest.raises(AnsibleFilterError) as raised:
        fleet_report([dict(host("west"), **facts)])
    assert error in str(raised.value)


def test_the_input_must_be_hostvars():
    with pytest.raises(AnsibleFilterError, match="must be a list"):
        fleet_report({"west": {}})
    with pytest.raises(AnsibleFilterError, match="takes hostvars"):
        fleet_report(["west"])


# ---- the table ------------------------------------------------------------------------------------

def test_table_marks_problems():
    lines = fleet_report_table(fleet_report([host("h1", listeners=["db"]), host("h2", connectors=["m"]),
                                             {"inventory_hostname": "down"}]))
    assert lines[0].split() == ["ROUTING", "KEY", "LISTENERS", "CONNECTORS", "REACHABLE"]
    assert lines[1].split()[:4] == ["db", "h1/default", "-", "no"] and lines[1].endswith("no connector anywhere")
    assert lines[2].split()[:4] == ["m", "-", "h2/default", "no"] and lines[2].endswith("no listener anywhere")
    assert lines[-2] == "failed hosts: down"
    assert lines[-1] == "  down: did not finish the rollout"


def test_table_of_a_linked_fleet():
    report = fleet_report([
        host("west", listeners=["backend", "db"], links=[link("east")], observed={
            "listeners": [{"name": "db", "routing_keys": ["db"], "status": "Pending", "message": "No matching"}]}),
        host("east", connectors=["backend"]),
        host("lone", connectors=["db"], links=[link("gone", status="Failed", message="peer gone is down")]),
        {"inventory_hostname": "gone", "skupper_rollout_error": "Install the site: exit 2"},
    ])
    assert fleet_report_table(report) == [
        "ROUTING KEY  LISTENERS     CONNECTORS    REACHABLE",
        "backend      west/default  east/default  yes",
        "db           west/default  lone/default  no         listener and connector sites not linked; "
        "1 observed not Ready",
        "",
        "FROM          TO            STATUS  MESSAGE",
        "lone/default  gone/default  Failed  peer gone is down",
        "west/default  east/default  Ready   OK",
        "",
        "network 1: east/default, west/default",
        "network 2: lone/default",
        "sites with links down: lone/default",
        "  lone/default: 1 link, not Ready: lone/default -> gone/default Failed (peer gone is down)",
        "failed hosts: gone",
        "  gone: Install the site: exit 2",
    ]


def test_table_without_links_has_no_links_table():
    lines = fleet_report_table(fleet_report([host("a", listeners=["k"], connectors=["k"])]))
    assert lines == ["ROUTING KEY  LISTENERS  CONNECTORS  REACHABLE", "k            a/default  a/default   yes",
                     "", "network 1: a/default"]


def test_table_of_a_report_from_before_links():
    old = {"routing_keys": {"k": {"listeners": ["a/default"], "connectors": ["b/default"]}},
           "failed_hosts": [], "errors": {}}
    assert fleet_report_table(old) == ["ROUTING KEY  LISTENERS  CONNECTORS  REACHABLE",
                                       "k            a/default  b/default   -"]


# ---- through ansible-playbook, as playbooks/rollout.yml calls it -------------------------------------

REPORT_PLAY = [{
    "hosts": "localhost", "connection": "local", "gather_facts": False,
    "tasks": [
        {"name": "Build the fleet report", "ansible.builtin.set_fact": {
            "report": "{{ groups['skupper_sites'] | map('extract', hostvars) | skupperlabs.network.fleet_report }}"}},
        {"name": "Write the report", "ansible.builtin.copy": {
            "content": "{{ {'report': report, 'table': report | skupperlabs.network.fleet_report_table} | to_json }}",
            "dest": "{{ out }}"}},
    ],
}]


def run_report(tmp_path, site_vars):
    inventory = {"skupper_sites": {"hosts": site_vars}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(yaml.safe_dump(REPORT_PLAY))
    out = tmp_path / "report.json"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_HOME=str(tmp_path / "home"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    process = subprocess.run([ansible_playbook(), "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml"),
                              "-e", "out=%s" % out], env=env, capture_output=True, text=True, timeout=120,
                             check=False)
    return process, out


def test_the_filters_read_real_hostvars(tmp_path):
    process, out = run_report(tmp_path, {
        "west": {"skupper_network_site": "west/default", "skupper_network_listener_keys": ["backend"],
                 "skupper_network_links_result": [{"name": "east", "peer": "east", "to": "east/default", "cost": 1,
                                                   "status": "Ready", "message": "OK"}]},
        "east": {"skupper_network_site": "east/default", "skupper_network_connector_keys": ["backend"]},
        "down": {},
    })
    assert process.returncode == 0, process.stdout + process.stderr
    written = json.loads(out.read_text())
    assert written["report"]["networks"] == [["east/default", "west/default"]]
    assert written["report"]["unreachable_routing_keys"] == [] and written["report"]["failed_hosts"] == ["down"]
    assert "network 1: east/default, west/default" in written["table"]


def test_malformed_facts_fail_the_report_and_nothing_is_written(tmp_path):
    process, out = run_report(tmp_path, {
        "west": {"skupper_network_site": "west/default", "skupper_network_links_result": [{"status": "Ready"}]},
    })
    assert process.returncode != 0
    assert "skupper_network_links_result[0] of west has no to" in process.stdout + process.stderr
    assert not out.exists()
