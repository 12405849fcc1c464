"""Validators: what Skupper and Kubernetes accept, and the messages for what they do not."""

import pytest

from ansible_collections.skupperlabs.network.plugins.module_utils import validation


@pytest.mark.parametrize("value", ["a", "backend", "hello-world-west", "a1", "1a", "x" * 63])
def test_valid_names(value):
    assert validation.kubernetes_name(value) is None
    assert validation.system_name(value) is None
    assert validation.namespace(value) is None


@pytest.mark.parametrize("value", ["", "Backend", "back_end", "-a", "a-", "a..b", ".a", None, 5])
def test_names_refused_everywhere(value):
    assert "DNS subdomain" in validation.kubernetes_name(value)
    assert "not a valid name on a system site" in validation.system_name(value)
    assert validation.resource_name(value) is not None


@pytest.mark.parametrize("value", ["db.primary", "a.b.c", "x" * 64 + ".y", ("x" * 63 + ".") * 3 + "x" * 61])
def test_kubernetes_takes_dns_subdomains(value):
    """The Skupper CRDs take any DNS subdomain (the API server's rule): dots and up to 253 characters."""
    assert validation.kubernetes_name(value) is None
    assert validation.resource_name(value) is None


def test_system_sites_take_long_names_but_no_dots():
    """ValidateName (internal/nonkube/common/site_state_validator.go): the label pattern, no length cap."""
    assert validation.system_name("x" * 300) is None
    assert "at most 253" in validation.kubernetes_name("x" * 254)
    assert "no dots" in validation.system_name("db.primary")


@pytest.mark.parametrize("value", ["", "Backend", "back_end", "-a", "a-", "a.b", "x" * 64, None, 5])
def test_invalid_namespaces(value):
    assert "not a valid namespace" in validation.namespace(value)


@pytest.mark.parametrize("text,labels,matches", [
    ("app in (a,b)", {"app": "a"}, True),
    ("app in (a,b)", {"app": "c"}, False),
    ("app in (a,b)", {}, False),
    ("app notin (a, b),tier", {"app": "c", "tier": "x"}, True),
    ("app notin (a,b)", {}, True),
    ("app notin (a,b)", {"app": "b"}, False),
    ("app=a,!tier", {"app": "a"}, True),
])
def test_set_based_selectors(text, labels, matches):
    """Connector selectors go to the Kubernetes API as they are, so set-based terms are selectors too."""
    assert validation.label_selector(text) is None
    assert validation.labels_match(labels, validation.parse_label_selector(text)) is matches


@pytest.mark.parametrize("text", ["app in (a,b", "app in a,b", "in (a)", "app=(a)", ""])
def test_bad_selectors(text):
    assert "is not a label selector" in validation.label_selector(text)


@pytest.mark.parametrize("value", ["backend", "db.primary", "east-backend-http", "a.b.c", "0"])
def test_valid_routing_keys(value):
    assert validation.routing_key(value) is None


@pytest.mark.parametrize("value", ["", "Backend", "-a", "a-", "a..b", ".a", "a.", "a_b", "a b", None])
def test_invalid_routing_keys(value):
    assert "not a valid routing key" in validation.routing_key(value)


@pytest.mark.parametrize("value,ok", [(1, True), (65535, True), (8080, True), (0, False), (65536, False),
                                      (-1, False), (True, False), ("80", False)])
def test_ports(value, ok):
    assert (validation.port(value) is None) is ok


@pytest.mark.parametrize("value,ok", [("backend", True), ("b-1", True), ("1backend", False), ("Backend", False),
                                      ("back.end", False), ("x" * 64, False)])
def test_kubernetes_hosts_are_service_names(value, ok):
    assert (validation.kubernetes_host(value) is None) is ok


@pytest.mark.parametrize("value,ok", [("0.0.0.0", True), ("10.1.2.3", True), ("::1", True), ("fe80::1", True),
                                      ("backend", True), ("db.example.com", True), ("1backend", True),
                                      ("Backend", False), ("back end", False), ("a..b", False), ("", False)])
def test_system_hosts_are_addresses_or_host_names(value, ok):
    assert (validation.system_host(value) is None) is ok


def test_string_map_turns_numbers_into_strings_and_refuses_the_rest():
    assert validation.string_map({"a": "x", "b": 2, "c": 1.5}) == (None, {"a": "x", "b": "2", "c": "1.5"})
    error, converted = validation.string_map({"a": True})
    assert converted is None and "value of 'a' is True" in error
    error, converted = validation.string_map(["a"])
    assert converted is None and "mapping" in error
