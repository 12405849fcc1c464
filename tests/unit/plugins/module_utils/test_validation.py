"""Validators: what Skupper and Kubernetes accept, and the messages for what they do not."""

import pytest

from ansible_collections.skupperlabs.network.plugins.module_utils import validation
from ansible_collections.skupperlabs.network.plugins.module_utils.kubernetes_api import KubernetesBackend
from ansible_collections.skupperlabs.network.plugins.module_utils.system_site import SystemSiteBackend


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


# -- whole-string matches: Go's ^...$ match the whole text, Python's $ also before a final newline ------------

@pytest.mark.parametrize("check,value", [
    (validation.kubernetes_name, "backend\n"), (validation.system_name, "backend\n"),
    (validation.resource_name, "backend\n"), (validation.namespace, "relns\n"),
    (validation.routing_key, "backend\n"), (validation.kubernetes_host, "backend\n"),
    (validation.system_host, "backend\n"), (validation.system_host, "10.0.0.1\n"),
    (validation.secret_name, "creds\n"), (validation.endpoint_host, "example.com\n"),
    (validation.label_selector, "app=a\n,"), (validation.certificate_folder, "certs\n"),
])
def test_a_trailing_newline_is_refused(check, value):
    error = check(value)
    assert error is not None
    assert "\\n" in error, "the message shows the newline as \\n: %s" % error
    assert check(value.rstrip("\n").rstrip(",")) is None


def test_label_selector_terms_are_matched_whole():
    assert validation.parse_label_selector("app=a\nb") is None
    assert validation.parse_label_selector("app=a") == [("app", "=", "a")]


# -- system-site hosts: Skupper's hostname pattern within DNS lengths ---------------------------------------

@pytest.mark.parametrize("value", ["a" * 63, ".".join(["a" * 63] * 3) + "." + "a" * 61, "x.y", "10.0.0.1", "::1"])
def test_system_hosts_up_to_dns_lengths_are_accepted(value):
    assert validation.system_host(value) is None


@pytest.mark.parametrize("value,words", [
    ("a" * 64, "at most 63 characters"), ("x." + "a" * 64, "at most 63 characters"),
    (".".join(["a" * 63] * 4), "at most 253 characters"), ("a" * 300, "at most 253 characters"),
    ("fe80::1%eth0", "IP address or a host name"),
])
def test_system_hosts_beyond_dns_lengths_are_refused(value, words):
    assert words in validation.system_host(value)


# -- labels and annotations as the Kubernetes API validates them -------------------------------------------

@pytest.mark.parametrize("key", ["app", "App_1", "a.b-c", "example.com/team", "a/" + "x" * 63,
                                 "x" * 253 + "/y", "k8s.io/a.b_c-d", "Z"])
def test_qualified_names_accepted(key):
    assert validation.qualified_name(key) is None
    assert validation.labels({key: "v"}) == (None, {key: "v"})


@pytest.mark.parametrize("key,words", [
    ("", "empty name"), ("a/", "empty name"), ("/a", "empty prefix"), ("a/b/c", "more than one '/'"),
    ("x" * 64, "at most 63"), ("Example.com/a", "prefix"), ("x" * 254 + "/a", "prefix"),
    ("-a", "starting and ending"), ("a_", "starting and ending"), ("a b", "starting and ending"),
    ("app\n", "starting and ending"), ("a..b/c", "prefix"),
])
def test_qualified_names_refused(key, words):
    assert words in validation.qualified_name(key)
    error, converted = validation.labels({key: "v"})
    assert converted is None and words in error


@pytest.mark.parametrize("value", ["", "v", "V-1.a_b", "x" * 63, 5])
def test_label_values_accepted(value):
    assert validation.labels({"k": value}) == (None, {"k": str(value)})


@pytest.mark.parametrize("value,words", [("x" * 64, "64 characters"), ("-v", "starting and ending"),
                                         ("v-", "starting and ending"), ("a b", "starting and ending"),
                                         ("v\n", "starting and ending"), ("a/b", "starting and ending")])
def test_label_values_refused(value, words):
    error, converted = validation.labels({"k": value})
    assert converted is None and error.startswith("label 'k': its value") and words in error


def test_annotations_take_any_value_and_keys_in_lower_case():
    assert validation.annotations({"Example.COM/Note": "any text / with spaces\n"}) == (
        None, {"Example.COM/Note": "any text / with spaces\n"})
    error, converted = validation.annotations({"a b": "x"})
    assert converted is None and "key 'a b'" in error


def test_annotations_total_at_most_256_kib():
    assert validation.annotations({"a": "x" * (256 * 1024 - 1)})[0] is None
    error, converted = validation.annotations({"a": "x" * (256 * 1024)})
    assert converted is None and "262145 bytes, at most 262144" in error
    # Counted in bytes, as Go's len() counts them.
    error, _unused = validation.annotations({"a": "\u00e9" * (128 * 1024)})
    assert "at most 262144" in error


def test_metadata_must_be_a_mapping_of_strings():
    assert "mapping" in validation.labels(["a"])[0]
    assert "must be a string" in validation.annotations({"a": ["x"]})[0]


# -- tls_credentials: each back end's platform rule -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["../x", "a/b", "/etc/ssl", "Bad Name", ".hidden", "..", "x..y", "", "a\n", 5,
                                   "x" * 256])
def test_tls_credentials_on_a_system_site_are_one_folder_name(value):
    assert "not a valid TLS credentials name on a system site" in SystemSiteBackend.credentials_error(value)


@pytest.mark.parametrize("value", ["certs", "My_Certs", "site-server.v2", "a" * 255])
def test_tls_credentials_folder_names_accepted(value):
    assert SystemSiteBackend.credentials_error(value) is None


@pytest.mark.parametrize("value,ok", [("creds", True), ("a.b-c", True), ("x" * 253, True), ("x" * 254, False),
                                      ("My_Certs", False), ("../x", False), ("a/b", False), ("Bad Name", False)])
def test_tls_credentials_on_kubernetes_are_secret_names(value, ok):
    error = KubernetesBackend.credentials_error(value)
    assert (error is None) is ok
    if not ok:
        assert "Secret name" in error


# -- paths -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [["dh"], {"a": 1}, 5, "", "  ", "a\0b", None])
def test_path_must_be_one_string(value):
    assert validation.path_string(value) is not None


@pytest.mark.parametrize("value", ["/var/lib/skupper", "dh", "~/x", "a b"])
def test_paths_accepted(value):
    assert validation.path_string(value) is None


@pytest.mark.parametrize("value,ok", [(1, True), (600, True), (0, False), (-1, False), (True, False), ("5", False)])
def test_positive_int(value, ok):
    assert (validation.positive_int(value) is None) is ok
