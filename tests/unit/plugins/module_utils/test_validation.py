"""Validators: what Skupper and Kubernetes accept, and the messages for what they do not."""

import pytest

from ansible_collections.skupperlabs.network.plugins.module_utils import validation


@pytest.mark.parametrize("value", ["a", "backend", "hello-world-west", "a1", "1a", "x" * 63])
def test_valid_names(value):
    assert validation.resource_name(value) is None
    assert validation.namespace(value) is None


@pytest.mark.parametrize("value", ["", "Backend", "back_end", "-a", "a-", "a.b", "x" * 64, None, 5])
def test_invalid_names(value):
    assert "RFC 1123 label" in validation.resource_name(value)
    assert "not a valid namespace" in validation.namespace(value)


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
