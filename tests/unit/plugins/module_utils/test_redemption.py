"""Redeeming an access token as a system site does (claim_redeemer.go), against the grant server
test double (tests/support/grant_server.py) over real HTTPS."""

import base64
import inspect
import json
import ssl
import time

import pytest
import yaml

pytest.importorskip("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from ansible_collections.skupperlabs.network.plugins.module_utils import redemption  # noqa: E402
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import SkupperError  # noqa: E402
from tests.support.grant_server import CertificateAuthority, GrantServer, HangingServer, unused_port  # noqa: E402

CODE = "Zq7CodeThatMustNeverLeak9"


@pytest.fixture(scope="module")
def server():
    with GrantServer() as double:
        yield double


@pytest.fixture
def grant(server):
    return server.add_grant("west-grant", code=CODE)


def redeem_error(token, subject="east", **kwargs):
    with pytest.raises(SkupperError) as info:
        redemption.redeem(token, subject, **kwargs)
    return info.value


def assert_no_secret(exc, *secrets):
    """The code (and any other secret) appears nowhere a user or a log could see it."""
    texts = [str(exc), repr(exc), exc.msg, json.dumps(exc.details, default=str), str(exc.exception or "")]
    for secret in (CODE,) + secrets:
        for text in texts:
            assert secret not in text


def decode(secret, key):
    return base64.b64decode(secret["data"][key]).decode("ascii")


# -- success -----------------------------------------------------------------------------------------------

def test_redeem_returns_the_secret_and_link_named_after_the_token(server, grant):
    result = redemption.redeem(grant.token("to-west"), "east")
    assert result["link_names"] == ["to-west"]
    secret, (link,) = result["secret"], result["links"]
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "to-west"
    assert secret["type"] == "kubernetes.io/tls"
    assert link["kind"] == "Link" and link["metadata"]["name"] == "to-west"
    assert link["spec"]["tlsCredentials"] == "to-west"
    assert {(e["name"], e["port"]) for e in link["spec"]["endpoints"]} == {("inter-router", "55671"), ("edge", "45671")}
    # The client certificate is for the subject we sent, signed by the site CA given as ca.crt.
    cert = x509.load_pem_x509_certificate(decode(secret, "tls.crt").encode())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "east"
    assert decode(secret, "ca.crt") == server.site_ca.pem
    assert "BEGIN RSA PRIVATE KEY" in decode(secret, "tls.key")
    assert grant.redemptions == 1


def test_the_request_is_skuppers_post_of_the_code_with_name_and_subject(server, grant):
    before = len(server.requests)
    redemption.redeem(grant.token("to-west"), "east-site")
    (request,) = server.requests[before:]
    assert request.method == "POST" and request.path == "/" + grant.uid
    assert request.body == CODE.encode() and request.body_length == len(CODE)
    assert request.header("name") == "to-west" and request.header("subject") == "east-site"
    assert CODE not in repr(request)


def test_token_as_yaml_text_as_skupper_token_issue_writes_it(server, grant):
    text = grant.token_yaml("from-yaml")
    assert redemption.redeem(text, "east")["link_names"] == ["from-yaml"]


def test_link_cost_is_set_on_each_link(server):
    token = server.add_grant("g", code=CODE).token("costly")
    token["spec"]["linkCost"] = 7
    assert [link["spec"]["cost"] for link in redemption.redeem(token, "east")["links"]] == [7]
    token = server.add_grant("g2", code=CODE).token("costly2")
    assert [link["spec"]["cost"] for link in redemption.redeem(token, "east", link_cost=3)["links"]] == [3]


def test_several_router_groups_give_numbered_links(server):
    with GrantServer(endpoints=[
            {"name": "inter-router", "host": "a.example", "port": "55671", "group": "skupper-router"},
            {"name": "inter-router", "host": "b.example", "port": "55671", "group": "skupper-router-2"}]) as ha:
        result = redemption.redeem(ha.add_grant("g", code=CODE).token("to-ha"), "east")
    assert result["link_names"] == ["to-ha-1", "to-ha-2"]
    assert {link["spec"]["tlsCredentials"] for link in result["links"]} == {"to-ha"}


def test_the_url_may_name_the_host_the_certificate_names(server, grant):
    token = grant.token("by-name")
    token["spec"]["url"] = grant.url.replace("127.0.0.1", "localhost")
    assert redemption.redeem(token, "east")["link_names"] == ["by-name"]


def test_the_timeout_is_skuppers_ten_seconds():
    assert redemption.DEFAULT_TIMEOUT == 10
    assert inspect.signature(redemption.redeem).parameters["timeout"].default == 10


# -- refusals (grants.go) ----------------------------------------------------------------------------------

def test_wrong_code_is_refused_with_the_servers_reason(server, grant):
    token = grant.token("to-west")
    token["spec"]["code"] = "not-the-code"
    exc = redeem_error(token)
    assert "HTTP 403" in exc.msg and "Redemption of access token refused" in exc.msg
    assert grant.url in exc.msg and exc.details["status"] == 403
    assert "not-the-code" not in exc.msg
    assert_no_secret(exc, "not-the-code")
    assert grant.redemptions == 0


def test_used_up_token_is_refused(server):
    grant = server.add_grant("once", code=CODE, redemptions_allowed=1)
    redemption.redeem(grant.token(), "east")
    exc = redeem_error(grant.token())
    assert "HTTP 404" in exc.msg and "No such access granted" in exc.msg and "already redeemed" in exc.msg
    assert_no_secret(exc)


def test_expired_grant_is_refused(server):
    grant = server.add_grant("old", code=CODE, expiration_time="2020-01-01T00:00:00Z")
    exc = redeem_error(grant.token())
    assert "HTTP 404" in exc.msg and "No such claim" in exc.msg and "expired" in exc.msg
    assert_no_secret(exc)


def test_unknown_grant_is_refused(server):
    grant = server.add_grant("gone", code=CODE)
    server.remove_grant(grant)
    exc = redeem_error(grant.token())
    assert "No such claim" in exc.msg and "does not exist" in exc.msg
    assert_no_secret(exc)


def test_a_5xx_answer_is_reported_with_its_text(server, grant):
    server.edge = True
    try:
        exc = redeem_error(grant.token())
    finally:
        server.edge = False
    assert "HTTP 500" in exc.msg and "Edge sites cannot accept incoming links" in exc.msg


def test_a_server_echoing_the_code_or_a_key_does_not_leak_them(server, grant):
    key = CertificateAuthority("leak").issue("x")[0]
    server.answer_with(500, "bad code %s here %s" % (CODE, key))
    try:
        exc = redeem_error(grant.token())
    finally:
        server.answer_with(None, None)
    assert "HTTP 500" in exc.msg and "bad code ******** here" in exc.msg
    assert_no_secret(exc, "BEGIN CERTIFICATE")


# -- transport: TLS, redirects, time -----------------------------------------------------------------------

def test_a_server_not_signed_by_the_tokens_ca_is_refused_before_sending(server, grant):
    token = grant.token()
    token["spec"]["ca"] = CertificateAuthority("someone-else").pem
    before = len(server.requests)
    exc = redeem_error(token)
    assert "certificate" in exc.msg and exc.details["reason"] == "tls"
    assert server.requests[before:] == [] and grant.redemptions == 0
    assert_no_secret(exc)


def test_a_certificate_for_another_host_is_refused():
    with GrantServer(certificate_hosts=["grants.elsewhere.example"]) as other:
        grant = other.add_grant("g", code=CODE)
        exc = redeem_error(grant.token())
        assert "certificate" in exc.msg and other.requests == []
    assert_no_secret(exc)


def test_a_tls_1_2_only_server_is_refused():
    with GrantServer(tls_versions=(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)) as old:
        grant = old.add_grant("g", code=CODE)
        exc = redeem_error(grant.token())
        assert "TLS" in exc.msg and "TLS 1.3" in exc.msg and old.requests == []
    assert_no_secret(exc)


def test_a_redirect_is_not_followed(server, grant):
    with GrantServer() as redirecting:
        redirecting.redirect_to(grant.url)
        token = grant.token()
        token["spec"]["ca"], token["spec"]["url"] = redirecting.ca.pem, "https://%s/x" % redirecting.address
        before = len(server.requests)
        exc = redeem_error(token)
        assert "HTTP 307" in exc.msg and "redirect" in exc.msg and "not follow" in exc.msg
        assert len(redirecting.requests) == 1
    assert server.requests[before:] == [] and grant.redemptions == 0
    assert_no_secret(exc)


@pytest.mark.parametrize("tls", [False, True], ids=["no-tls-handshake", "no-http-answer"])
def test_a_hanging_server_times_out_within_the_limit(tls):
    with HangingServer(tls=tls) as hanging:
        token = {"metadata": {"name": "h"}, "spec": {"url": hanging.url(), "code": CODE, "ca": hanging.ca.pem}}
        start = time.monotonic()
        exc = redeem_error(token, timeout=1.0)
        elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 2.5
    assert "no answer within 1 seconds" in exc.msg and exc.details["reason"] == "timeout"
    assert_no_secret(exc)


def test_an_unreachable_server_is_reported(grant):
    token = grant.token()
    token["spec"]["url"] = "https://127.0.0.1:%d/%s" % (unused_port(), grant.uid)
    exc = redeem_error(token)
    assert "could not connect to the server" in exc.msg and exc.details["reason"] == "unreachable"
    assert_no_secret(exc)


# -- the answer --------------------------------------------------------------------------------------------

def test_an_answer_that_is_not_skuppers_is_refused_without_quoting_it(server, grant):
    server.answer_with(200, "apiVersion: v1\nkind: Secret\ndata: {tls.key: %s\n" % CODE)
    try:
        exc = redeem_error(grant.token())
    finally:
        server.answer_with(None, None)
    assert "not what Skupper sends" in exc.msg and "nothing was written" in exc.msg
    assert_no_secret(exc)


def test_an_answer_without_a_link_is_refused(server, grant):
    # tokens.go: only inter-router and edge endpoints make Links; a site with neither sends a Secret alone.
    server.endpoints = [{"name": "claims", "host": "127.0.0.1", "port": "8081", "group": "x"}]
    try:
        exc = redeem_error(grant.token("lonely"))
    finally:
        server.endpoints = None
    assert "holds no Link" in exc.msg


@pytest.mark.parametrize("change, message", [
    (lambda docs: docs[0].update(kind="ConfigMap"), "first document must be a v1 Secret"),
    (lambda docs: docs[0]["metadata"].update(name="other"), "the Secret is named 'other'"),
    (lambda docs: docs[0]["data"].pop("tls.key"), "tls.key is missing"),
    (lambda docs: docs[1]["metadata"].update(name="other"), "a Link is named 'other'"),
    (lambda docs: docs[1]["spec"].update(tlsCredentials="x"), "does not use the Secret"),
    (lambda docs: docs[1]["spec"].update(endpoints=[]), "no endpoints"),
    (lambda docs: docs[1].update(kind="Listener"), "not a skupper.io/v2alpha1 Link"),
])
def test_an_answer_with_wrong_objects_is_refused(server, change, message):
    grant = server.add_grant("g", code=CODE)
    docs = list(yaml.safe_load_all(server.generate("default", "n", "s")))
    change(docs)
    server.answer_with(200, yaml.safe_dump_all(docs).rstrip("\n"))
    try:
        exc = redeem_error(grant.token("n"))
    finally:
        server.answer_with(None, None)
    assert message in exc.msg
    for doc in docs[:1]:
        for value in (doc.get("data") or {}).values():
            assert value not in exc.msg


# -- the token ---------------------------------------------------------------------------------------------

def test_parse_token_reads_the_object_and_its_text(grant):
    expected = {"name": "west-grant", "url": grant.url, "code": CODE, "ca": grant.ca, "link_cost": None}
    assert redemption.parse_token(grant.token()) == expected
    assert redemption.parse_token(grant.token_yaml()) == expected
    assert redemption.parse_token(json.dumps(grant.token())) == expected
    assert redemption.parse_token(grant.token(), name="mine")["name"] == "mine"
    assert redemption.parse_token(name="x", url=grant.url, code=CODE, ca=grant.ca)["name"] == "x"


@pytest.mark.parametrize("edit, message", [
    (lambda t: t["spec"].pop("url"), "has no url"),
    (lambda t: t["spec"].pop("code"), "has no code"),
    (lambda t: t["spec"].update(ca=""), "has no ca"),
    (lambda t: t.pop("spec"), "has no spec"),
    (lambda t: t["spec"].update(url=t["spec"]["url"].replace("https", "http")), "must use https"),
    (lambda t: t["spec"].update(url="https:///nohost"), "has no host"),
    (lambda t: t["spec"].update(ca="not a certificate"), "not a PEM certificate"),
    (lambda t: t["spec"].update(ca="-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
     "cannot be read as a PEM certificate"),
    (lambda t: t["metadata"].pop("name"), "has no name"),
    (lambda t: t["metadata"].update(name="Bad_Name"), "not a valid name"),
    (lambda t: t.update(kind="AccessGrant"), "not AccessToken"),
    (lambda t: t["spec"].update(linkCost=-1), "linkCost"),
])
def test_a_bad_token_is_refused_and_nothing_is_sent(server, grant, edit, message):
    token = grant.token()
    edit(token)
    before = len(server.requests)
    with pytest.raises(SkupperError) as info:
        redemption.parse_token(token)
    assert message in info.value.msg and "nothing was sent" in info.value.msg
    exc = redeem_error(token)
    assert message in exc.msg
    assert server.requests[before:] == [] and grant.redemptions == 0
    assert_no_secret(exc)


def test_token_text_that_is_not_yaml_does_not_quote_the_code():
    with pytest.raises(SkupperError) as info:
        redemption.parse_token("spec:\n  code: %s\n  url: [unclosed\n" % CODE)
    assert "not valid YAML (line" in info.value.msg
    assert_no_secret(info.value)
    with pytest.raises(SkupperError) as info:
        redemption.parse_token("a: 1\n---\nb: 2\n")
    assert "exactly one YAML document" in info.value.msg


def test_a_bad_subject_is_refused_before_sending(server, grant):
    before = len(server.requests)
    for subject in ("", "two\nlines", None):
        with pytest.raises(SkupperError) as info:
            redemption.redeem(grant.token(), subject)
        assert "subject" in info.value.msg and "nothing was sent" in info.value.msg
    assert server.requests[before:] == []
