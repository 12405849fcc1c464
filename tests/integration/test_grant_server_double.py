"""The grant server test double (tests/support/grant_server.py) answers as Skupper's grant server does.

Each test pins one behaviour to the Skupper source file named in its docstring
(github.com/skupperproject/skupper, main of 2026-07 and 2.0.0-2.2.1). The requests are made
with plain http.client and ssl, not with the collection's redemption code.
"""

import base64
import datetime
import http.client
import ipaddress
import re
import ssl

import pytest

pytest.importorskip("cryptography")
import yaml  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from tests.support.grant_server import GrantServer, parse_go_duration  # noqa: E402

CODE = "abcdefghijklmnopqrstuvwx"


@pytest.fixture(scope="module")
def server():
    with GrantServer() as double:
        yield double


@pytest.fixture(autouse=True)
def reset(server):
    yield
    server.site_defined, server.edge, server.issuer_present, server.endpoints = True, False, True, None
    server.redeem_by_key = False


def context(ca, maximum=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca)
    if maximum is not None:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = maximum
    return ctx


def post(server, path, body=CODE, method="POST", headers=None, ca=None, maximum=None):
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10,
                                       context=context(ca or server.ca.pem, maximum))
    try:
        conn.request(method, path, body=body.encode() if isinstance(body, str) else body,
                     headers=headers if headers is not None else {"name": "tok", "subject": "east"})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def redeem(server, grant, body=None, **kwargs):
    return post(server, "/" + grant.uid, body=grant.code if body is None else body, **kwargs)


def documents(payload):
    return list(yaml.safe_load_all(payload))


def test_tls_1_3_only_and_certificate_from_the_tokens_ca(server):
    """server.go + internal/utils/tlscfg/tls.go: TLS with MinVersion 1.3; the token's ca (the grant
    server's CA, skupper-grant-server-ca) signs the server certificate."""
    grant = server.add_grant("tls")
    with pytest.raises(ssl.SSLError):
        redeem(server, grant, ca=grant.ca, maximum=ssl.TLSVersion.TLSv1_2)
    status, ignored, ignored2 = redeem(server, grant, ca=grant.ca)
    assert status == 200
    ca = x509.load_pem_x509_certificate(grant.ca.encode())
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey) and ca.public_key().curve.name == "secp256r1"
    cert = x509.load_pem_x509_certificate(server.cert_pem.encode())
    assert cert.issuer == ca.subject
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)


def test_only_post(server):
    """grants.go ServeHTTP: any other method -> http.Error 405 "Only POST is supported", checked first."""
    grant = server.add_grant("method")
    for method in ("GET", "PUT", "DELETE"):
        status, headers, body = redeem(server, grant, method=method)
        assert (status, body) == (405, b"Only POST is supported\n")
        assert headers["content-type"] == "text/plain; charset=utf-8" and headers["x-content-type-options"] == "nosniff"
    status, ignored, ignored2 = post(server, "/no-such-grant", method="GET")
    assert status == 405
    assert grant.redemptions == 0


def test_unknown_grant(server):
    """grants.go checkAndUpdateAccessToken: no grant for the key -> 404 "No such claim"."""
    assert post(server, "/no-such-uid")[::2] == (404, b"No such claim\n")


def test_expired_grant(server):
    """grants.go checkAndUpdateAccessToken: expiration before now -> 404 "No such claim", before the
    redemption count and the code are looked at."""
    grant = server.add_grant("old", redemptions_allowed=1, expiration_time="2020-01-01T00:00:00Z")
    assert redeem(server, grant)[::2] == (404, b"No such claim\n")
    assert redeem(server, grant, body="wrong")[::2] == (404, b"No such claim\n")


def test_used_up_grant(server):
    """grants.go checkAndUpdateAccessToken: RedemptionsAllowed <= Redemptions -> 404 "No such access
    granted", before the code is compared."""
    grant = server.add_grant("twice", redemptions_allowed=2)
    assert [redeem(server, grant)[0] for ignored in range(2)] == [200, 200]
    assert redeem(server, grant)[::2] == (404, b"No such access granted\n")
    assert redeem(server, grant, body="wrong")[::2] == (404, b"No such access granted\n")
    assert grant.redemptions == 2


def test_wrong_code_is_refused_and_not_counted(server):
    """grants.go checkAndUpdateAccessToken: Status.Code != body -> 403 "Redemption of access token
    refused"; Redemptions grows only after the code matched. The whole body is the code, exactly."""
    grant = server.add_grant("code", code=CODE)
    for body in ("wrong", CODE + "\n", " " + CODE, ""):
        assert redeem(server, grant, body=body)[::2] == (403, b"Redemption of access token refused\n")
    assert grant.redemptions == 0
    assert redeem(server, grant)[0] == 200 and grant.redemptions == 1


def test_grant_defaults(server):
    """grants.go checkGrant: redemptionsAllowed 0 -> 1; no code -> utils.RandomId(24) (letters and
    digits, internal/utils/utils.go); no expirationWindow -> now + 10 minutes (not the CRD text's 15m);
    claimUrl: https://<base url>/<UID>."""
    grant = server.add_grant("defaults")
    assert grant.redemptions_allowed == 1
    assert re.fullmatch(r"[a-zA-Z0-9]{24}", grant.code)
    expires = datetime.datetime.fromisoformat(grant.expiration_time.replace("Z", "+00:00"))
    left = expires - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(minutes=9) < left <= datetime.timedelta(minutes=10)
    assert grant.url == "https://127.0.0.1:%d/%s" % (server.port, grant.uid)
    token = grant.token()
    assert token == {"apiVersion": "skupper.io/v2alpha1", "kind": "AccessToken", "metadata": {"name": "defaults"},
                     "spec": {"url": grant.url, "code": grant.code, "ca": server.ca.pem}}


def test_expiration_window_is_a_go_duration(server):
    """grants.go checkGrant: time.ParseDuration(expirationWindow); an invalid one leaves no expiration
    time, and checkAndUpdateAccessToken answers 500 "Corrupted claim" for it."""
    assert parse_go_duration("1h30m") == datetime.timedelta(hours=1, minutes=30)
    assert parse_go_duration("90s") == datetime.timedelta(seconds=90)
    assert parse_go_duration("1.5h") == datetime.timedelta(minutes=90)
    assert parse_go_duration("10") is None and parse_go_duration("1d") is None
    hour = server.add_grant("hour", expiration_window="1h")
    left = datetime.datetime.fromisoformat(hour.expiration_time.replace("Z", "+00:00")) - \
        datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(minutes=59) < left <= datetime.timedelta(hours=1)
    bad = server.add_grant("bad-window", expiration_window="a week")
    assert bad.expiration_time == ""
    assert redeem(server, bad)[::2] == (500, b"Corrupted claim\n")


def test_redeem_by_key(server):
    """grants.go keyFromUrl and get: with RedeemByKey (config.go --allow-redeem-by-key) the path
    /<namespace>/<name> finds the grant; without it, that path is an unknown key."""
    grant = server.add_grant("by-key", namespace="west")
    assert post(server, "/west/by-key", body=grant.code)[0] == 404
    server.redeem_by_key = True
    assert post(server, "/west/by-key", body=grant.code)[0] == 200
    assert redeem(server, server.add_grant("by-uid"))[0] == 200  # the UID path still works


def test_a_new_grant_of_the_same_name_replaces_the_old(server):
    """grants.go record: a new UID for the same namespace/name drops the old grant."""
    old = server.add_grant("again")
    new = server.add_grant("again")
    assert redeem(server, old)[0] == 404 and redeem(server, new)[0] == 200


def test_the_answer_is_a_secret_then_the_link(server):
    """tokens.go NewCertToken/Write and controller.go generateLinkConfig: "---" before each object, the
    Secret first, then one Link per endpoint group (inter-router and edge endpoints) named after the
    name header, tlsCredentials the Secret; objects as the Kubernetes YAML serializer writes them."""
    grant = server.add_grant("answer")
    status, headers, payload = redeem(server, grant, headers={"name": "to-west", "subject": "east"})
    assert status == 200 and payload.startswith(b"---\napiVersion: v1\n")
    secret, link = documents(payload)
    assert secret["metadata"] == {"creationTimestamp": None, "name": "to-west"}
    assert secret["type"] == "kubernetes.io/tls" and sorted(secret["data"]) == ["ca.crt", "tls.crt", "tls.key"]
    assert link == {"apiVersion": "skupper.io/v2alpha1", "kind": "Link",
                    "metadata": {"creationTimestamp": None, "name": "to-west"},
                    "spec": {"endpoints": [
                        {"group": "skupper-router", "host": "127.0.0.1", "name": "inter-router", "port": "55671"},
                        {"group": "skupper-router", "host": "127.0.0.1", "name": "edge", "port": "45671"}],
                        "tlsCredentials": "to-west"},
                    "status": {}}


def test_the_secret_is_a_client_certificate_of_the_site_ca(server):
    """certs.go GenerateSecret: RSA 2048 in PKCS#1, CN = the subject header, every site endpoint host a
    DNS SAN (an IP SAN as well for an IP), server and client auth, 5 years; ca.crt = the site CA
    (the Site's defaultIssuer, skupper-site-ca)."""
    server.endpoints = [{"name": "inter-router", "host": "10.1.2.3", "port": "55671", "group": "g"},
                        {"name": "claims", "host": "west.example", "port": "8081", "group": "g"}]
    status, ignored, payload = redeem(server, server.add_grant("cert"), headers={"name": "n", "subject": "site-uid"})
    assert status == 200
    data = {k: base64.b64decode(v).decode() for k, v in documents(payload)[0]["data"].items()}
    assert data["tls.key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert data["ca.crt"] == server.site_ca.pem
    cert = x509.load_pem_x509_certificate(data["tls.crt"].encode())
    ca = x509.load_pem_x509_certificate(data["ca.crt"].encode())
    assert cert.issuer == ca.subject and isinstance(ca.public_key(), rsa.RSAPublicKey)
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 2048
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "site-uid"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["10.1.2.3", "west.example"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.1.2.3")]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=5 * 365 - 1) < lifetime < datetime.timedelta(days=5 * 365 + 1)


def test_several_groups_give_numbered_links_and_other_endpoints_none(server):
    """tokens.go setValidHostsFromSite/NewCertToken: only inter-router and edge endpoints, grouped by
    group; several groups -> <name>-1, <name>-2; no such endpoint -> the Secret alone."""
    server.endpoints = [{"name": "inter-router", "host": "a", "port": "55671", "group": "r1"},
                        {"name": "edge", "host": "b", "port": "45671", "group": "r2"},
                        {"name": "claims", "host": "c", "port": "8081", "group": "r3"}]
    ignored, ignored2, payload = redeem(server, server.add_grant("ha"), headers={"name": "n", "subject": "s"})
    assert [d["metadata"]["name"] for d in documents(payload)[1:]] == ["n-1", "n-2"]
    server.endpoints = [{"name": "claims", "host": "c", "port": "8081", "group": "r3"}]
    ignored, ignored2, payload = redeem(server, server.add_grant("none"), headers={"name": "n", "subject": "s"})
    assert [d["kind"] for d in documents(payload)] == ["Secret"]


def test_name_and_subject_fallbacks(server):
    """grants.go ServeHTTP: no name header -> the grant's name; no subject header -> the name."""
    ignored, ignored2, payload = redeem(server, server.add_grant("grant-name"), headers={})
    secret, link = documents(payload)
    assert secret["metadata"]["name"] == link["metadata"]["name"] == "grant-name"
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "grant-name"


@pytest.mark.parametrize("setting, text", [
    ("site_defined", "Site not yet defined for default"),
    ("issuer_present", "Could not get issuer for requested certificate"),
    ("edge", "Edge sites cannot accept incoming links from remote sites"),
    ("endpoints", "No valid endpoints found for site"),
])
def test_generator_failures_are_500_after_the_redemption_counted(server, setting, text):
    """controller.go generateLinkConfig and tokens.go NewTokenGenerator/setValidHostsFromSite: the
    error text as a 500; grants.go counted the redemption before generating."""
    setattr(server, setting, {"site_defined": False, "issuer_present": False, "edge": True, "endpoints": []}[setting])
    grant = server.add_grant("gen-" + setting.replace("_", "-"))
    assert redeem(server, grant)[::2] == (500, (text + "\n").encode())
    assert grant.redemptions == 1


def test_a_large_answer_is_chunked_like_go(server):
    """net/http (what grants.go writes through): a handler's output over 2048 bytes without a
    Content-Length is sent with chunked transfer encoding; errors carry a Content-Length."""
    ignored, headers, payload = redeem(server, server.add_grant("chunked"))
    assert len(payload) > 2048 and headers.get("transfer-encoding") == "chunked"
    ignored, headers, ignored2 = post(server, "/nothing")
    assert headers["content-length"] == str(len(b"No such claim\n"))


def test_the_request_log_keeps_the_code_out_of_sight(server):
    """Not Skupper: the double records method, path, headers and body length; repr hides the body."""
    grant = server.add_grant("logged", code=CODE)
    before = len(server.requests)
    redeem(server, grant, headers={"name": "n", "subject": "s"})
    (record,) = server.requests[before:]
    assert (record.method, record.path, record.body_length, record.status) == ("POST", "/" + grant.uid, 24, 200)
    assert record.header("NAME") == "n" and record.body == CODE.encode()
    assert CODE not in repr(record) and CODE not in repr(grant)
