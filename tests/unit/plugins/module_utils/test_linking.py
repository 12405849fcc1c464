"""Linking, pure parts: link definitions, the link fields' checks, credentials hidden, grant tokens."""

import base64

import pytest
import yaml

from ansible_collections.skupperlabs.network.plugins.module_utils import engine, kinds, linking, validation
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import SkupperError

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "link-west"},
          "data": {"tls.key": base64.b64encode(b"-----BEGIN KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n").decode()}}
LINK = {"apiVersion": "skupper.io/v2alpha1", "kind": "Link", "metadata": {"name": "link-west"},
        "spec": {"endpoints": [{"name": "inter-router", "host": "10.0.0.5", "port": "55671"}],
                 "tlsCredentials": "link-west", "cost": 1}}


def text(*docs):
    return "".join("---\n" + yaml.safe_dump(doc) for doc in docs)


def test_a_static_link_file_is_a_secret_then_a_link():
    link, secret = linking.parse_definition(text(SECRET, LINK))
    assert link["metadata"]["name"] == "link-west" and secret["metadata"]["name"] == "link-west"
    # The same from objects, in either order.
    assert linking.parse_definition([LINK, SECRET]) == (LINK, SECRET)


def test_a_definition_without_its_secret_names_one_that_exists():
    link, secret = linking.parse_definition(text(LINK))
    assert secret is None and link["spec"]["tlsCredentials"] == "link-west"


@pytest.mark.parametrize("docs, message", [
    ([SECRET], "holds 0 Links"),
    ([SECRET, LINK, dict(LINK, metadata={"name": "b"})], "holds 2 Links"),
    ([SECRET, dict(SECRET, metadata={"name": "x"}), LINK], "holds 2 Secrets"),
    ([dict(SECRET, metadata={"name": "other"}), LINK], "is not the name of the Secret"),
    ([{"apiVersion": "v1", "kind": "ConfigMap"}, LINK], "document 1 is v1 ConfigMap"),
    ([dict(SECRET, data=None), LINK], "the Secret has no data"),
])
def test_definitions_refused(docs, message):
    with pytest.raises(SkupperError) as error:
        linking.parse_definition(text(*docs))
    assert message in error.value.msg


def test_a_yaml_error_does_not_quote_the_text():
    with pytest.raises(SkupperError) as error:
        linking.parse_definition("data:\n  tls.key: c2VjcmV0\n  : [")
    assert "c2VjcmV0" not in error.value.msg and "line" in error.value.msg


def test_secret_data_is_hidden_in_views_and_results():
    stored = dict(SECRET, type="kubernetes.io/tls")
    shown = engine.view(stored, kinds.SECRET)
    assert shown["data"] == {"tls.key": "(hidden)"} and shown["type"] == "kubernetes.io/tls"
    assert "spec" not in shown
    grant = {"metadata": {"name": "g"}, "spec": {"code": "abc"}, "status": {"code": "abc", "url": "https://x/1"}}
    hidden = engine.hidden(kinds.ACCESS_GRANT, grant)
    assert hidden["spec"]["code"] == hidden["status"]["code"] == "(hidden)"
    assert hidden["status"]["url"] == "https://x/1" and grant["status"]["code"] == "abc"


def test_a_grant_gives_a_token_only_once_issued():
    grant = {"metadata": {"name": "east"}, "status": {"url": "https://10.0.0.1:9090/u", "code": "c", "ca": "pem"}}
    assert linking.grant_token(grant) == {
        "apiVersion": "skupper.io/v2alpha1", "kind": "AccessToken", "metadata": {"name": "east"},
        "spec": {"url": "https://10.0.0.1:9090/u", "code": "c", "ca": "pem"}}
    assert linking.grant_token({"metadata": {"name": "east"}, "status": {"url": "https://x"}}) is None


def endpoints(value):
    return kinds.LINK.field_by_key("endpoints").to_api(value, None)


def test_endpoint_ports_are_stored_as_strings_as_skupper_has_them():
    error, value = endpoints([{"name": "edge", "host": "hub.example.com", "port": 45671, "group": None}])
    assert error is None and value == [{"name": "edge", "host": "hub.example.com", "port": "45671"}]


@pytest.mark.parametrize("value, message", [
    ([], "at least one endpoint"),
    ([{"host": "h", "port": "x"}], "[0].port: 'x' is not a port number"),
    ([{"host": "h", "port": 0}], "[0].port: 0 is not a valid port"),
    ([{"host": "bad host", "port": 1}], "[0].host: 'bad host' is not an IP address"),
    ([{"port": 1}], "[0].host: required"),
    ([{"host": "h", "port": 1, "weight": 2}], "[0]: unknown key weight"),
])
def test_bad_endpoints(value, message):
    error, _value = endpoints(value)
    assert message in error


@pytest.mark.parametrize("value", ["15m", "1h30m", "90s", "1.5h", "300ms", "0"])
def test_durations_skupper_reads(value):
    assert validation.go_duration(value) is None


@pytest.mark.parametrize("value", ["", "15", "soon", "15 m", "15m\n", 15])
def test_durations_skupper_cannot_read(value):
    assert "not a duration Skupper can read" in validation.go_duration(value)


def test_a_negative_window_is_refused_as_expired_at_once():
    """Go's ParseDuration reads "-5m"; the grant would be expired as soon as it is processed."""
    assert "is negative" in validation.go_duration("-5m")


@pytest.mark.parametrize("value, ok", [("https://10.0.0.1:9090/abc", True), ("https://grants.example.com", True),
                                       ("http://10.0.0.1/abc", False), ("https://", False),
                                       ("https://a b/", False), ("https://x/y\n", False)])
def test_token_urls_are_https(value, ok):
    assert (validation.token_url(value) is None) is ok
