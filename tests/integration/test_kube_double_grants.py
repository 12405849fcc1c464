"""The Kubernetes API test double links sites as Skupper's controller does: AccessGrant status, the grant
server, AccessToken redemption, the Secret and Link(s) it creates and their status.

Everything goes through the real ``kubernetes`` client over HTTP against tests/support/kube_api_double.py
(controller on); redemptions are real HTTPS requests to its grant server double
(tests/support/grant_server.py). Each test names the Skupper source file it pins.
"""

import base64
import datetime
import re
import socket

import pytest

pytest.importorskip("kubernetes")
pytest.importorskip("cryptography")
from kubernetes import client, config  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from tests.support.kube_api_double import KubeApiDouble  # noqa: E402

GROUP, VERSION = "skupper.io", "v2alpha1"
API_VERSION = GROUP + "/" + VERSION
CODE = re.compile(r"^[A-Za-z0-9]{24}$")


class Cluster:
    """A started double with its controller on, and the kubernetes client on it."""

    def __init__(self, tmp_path, label):
        self.double = KubeApiDouble(controller=True).start()
        kubeconfig = self.double.write_kubeconfig(tmp_path / ("kubeconfig-" + label))
        self.api_client = config.new_client_from_config(config_file=str(kubeconfig))
        self.custom = client.CustomObjectsApi(self.api_client)
        self.core = client.CoreV1Api(self.api_client)

    def namespace(self, name, site=None, **site_spec):
        self.double.create_namespace(name)
        if site:
            self.create(name, "sites", {"kind": "Site", "metadata": {"name": site}, "spec": site_spec})
        return name

    def create(self, namespace, plural, body):
        body = dict(body, apiVersion=API_VERSION)
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)

    def get(self, namespace, plural, name):
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)

    def patch(self, namespace, plural, name, body):
        return self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, plural, name, body)

    def names(self, namespace, plural):
        items = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)["items"]
        return sorted(item["metadata"]["name"] for item in items)

    def grant(self, namespace, name, **spec):
        self.create(namespace, "accessgrants", {"kind": "AccessGrant", "metadata": {"name": name}, "spec": spec})
        return self.get(namespace, "accessgrants", name)

    def token(self, namespace, name, grant_status, **overrides):
        spec = {"url": grant_status["url"], "code": grant_status["code"], "ca": grant_status["ca"]}
        spec.update(overrides)
        self.create(namespace, "accesstokens", {"kind": "AccessToken", "metadata": {"name": name}, "spec": spec})
        return self.get(namespace, "accesstokens", name)

    def close(self):
        self.api_client.close()
        self.double.stop()


@pytest.fixture
def hub(tmp_path):
    cluster = Cluster(tmp_path, "hub")
    cluster.namespace("hub", site="hub", linkAccess="default")
    yield cluster
    cluster.close()


@pytest.fixture
def spoke(tmp_path):
    cluster = Cluster(tmp_path, "spoke")
    cluster.namespace("spoke", site="spoke")
    yield cluster
    cluster.close()


def conditions(obj):
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in obj["status"]["conditions"]}


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def redemption_posts(cluster):
    return [r for r in cluster.double.grant_server.requests if r.method == "POST"]


# ---- AccessGrant status -----------------------------------------------------------------------------------

def test_grant_gets_url_code_ca_and_a_ten_minute_expiration(hub):
    """internal/kube/grants/grants.go checkGrant/claimUrl and pkg/apis/skupper/v2alpha1/types.go
    SetProcessed/SetResolved: no redemptionsAllowed -> 1 (a spec update), url to the grant server with the
    grant's uid, the grant server's CA, a 24-character code, expiration in 10 minutes (not the CRD's 15m)."""
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    grant = hub.grant("hub", "g")
    status = grant["status"]
    assert grant["spec"] == {"redemptionsAllowed": 1}
    assert grant["metadata"]["generation"] == 2
    assert status["url"] == "https://%s/%s" % (hub.double.grant_server.address, grant["metadata"]["uid"])
    assert status["url"].startswith("https://127.0.0.1:")
    assert status["ca"] == hub.double.grant_server.ca.pem and status["ca"].startswith("-----BEGIN CERTIFICATE")
    assert CODE.match(status["code"])
    expires = parse_time(status["expirationTime"]) - before
    assert datetime.timedelta(minutes=10) <= expires <= datetime.timedelta(minutes=10, seconds=5)
    assert "redemptions" not in status  # omitempty
    assert conditions(grant) == {"Processed": ("True", "Ready", "OK"), "Resolved": ("True", "Ready", "OK"),
                                 "Ready": ("True", "Ready", "OK")}
    assert (status["status"], status["message"]) == ("Ready", "OK")
    assert all(c["observedGeneration"] == 2 for c in status["conditions"])


def test_grant_code_window_and_an_invalid_window(hub):
    """internal/kube/grants/grants.go checkGrant: spec.code is the status code; expirationWindow sets the
    expiration; an invalid one sets none and makes Processed an Error with Go's ParseDuration message."""
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    grant = hub.grant("hub", "given", code="my-own-code", expirationWindow="1h", redemptionsAllowed=3)
    assert grant["status"]["code"] == "my-own-code"
    assert grant["metadata"]["generation"] == 1
    expires = parse_time(grant["status"]["expirationTime"]) - before
    assert datetime.timedelta(hours=1) <= expires <= datetime.timedelta(hours=1, seconds=5)
    bad = hub.grant("hub", "bad", expirationWindow="5x")
    assert "expirationTime" not in bad["status"]
    message = 'Invalid duration "5x": time: unknown unit "x" in duration "5x"'
    assert conditions(bad)["Processed"] == ("False", "Error", message)
    assert (bad["status"]["status"], bad["status"]["message"]) == ("Error", message)
    assert bad["status"]["url"]  # url and ca are still set (Resolved)


def test_grant_in_an_edge_site_is_an_error(hub):
    """internal/kube/grants/grants.go checkGrant: a Ready edge Site -> "Edge sites cannot accept ..."."""
    hub.namespace("edge", site="edge", edge=True)
    grant = hub.grant("edge", "g")
    assert conditions(grant)["Processed"] == ("False", "Error",
                                              "Edge sites cannot accept incoming links from remote sites")
    assert grant["status"]["status"] == "Error"


def test_grants_not_enabled_get_only_a_message(hub):
    """internal/kube/grants/disabled.go markGrantNotEnabled: SetStatusMessage only."""
    hub.double.grants_enabled = False
    grant = hub.grant("hub", "g")
    assert grant["status"] == {"message": "AccessGrants are not enabled"}
    assert grant["spec"] == {}


# ---- AccessToken redemption ---------------------------------------------------------------------------------

def test_token_redeemed_across_doubles_creates_secret_and_link(hub, spoke):
    """internal/kube/grants/redeem.go RedeemAccessToken/handleTokenResponse, tokens.go NewCertToken and
    controller.go checkAccessToken: a real HTTPS POST (headers name and subject = the Site's uid), the
    Secret and Link named after the token, owned by the joining Site, linkCost -> spec.cost; the token
    redeemed; the grant counts the redemption in status.redemptions."""
    grant = hub.grant("hub", "g")
    token = spoke.token("spoke", "to-hub", grant["status"], linkCost=5)
    site = spoke.get("spoke", "sites", "spoke")
    assert token["status"]["redeemed"] is True
    assert conditions(token) == {"Redeemed": ("True", "Ready", "OK")}
    assert (token["status"]["status"], token["status"]["message"]) == ("Ready", "OK")
    owner = [{"apiVersion": API_VERSION, "kind": "Site", "name": "spoke", "uid": site["metadata"]["uid"]}]

    secret = spoke.core.read_namespaced_secret("to-hub", "spoke")
    assert secret.type == "kubernetes.io/tls"
    assert sorted(secret.data) == ["ca.crt", "tls.crt", "tls.key"]
    assert b"BEGIN CERTIFICATE" in base64.b64decode(secret.data["tls.crt"])
    assert [(r.api_version, r.kind, r.name, r.uid) for r in secret.metadata.owner_references] == \
        [(API_VERSION, "Site", "spoke", site["metadata"]["uid"])]

    link = spoke.get("spoke", "links", "to-hub")
    host = hub.double.link_host("hub")
    assert link["spec"] == {"endpoints": [
        {"group": "skupper-router", "host": host, "name": "inter-router", "port": "55671"},
        {"group": "skupper-router", "host": host, "name": "edge", "port": "45671"}],
        "tlsCredentials": "to-hub", "cost": 5}
    assert link["metadata"]["ownerReferences"] == owner

    assert hub.get("hub", "accessgrants", "g")["status"]["redemptions"] == 1
    posts = redemption_posts(hub)
    assert len(posts) == 1
    assert posts[0].header("name") == "to-hub"
    assert posts[0].header("subject") == site["metadata"]["uid"]
    assert posts[0].path == "/" + grant["metadata"]["uid"]


def test_token_redeemed_within_one_double(hub):
    """internal/kube/grants/redeem.go: the joining namespace may be on the same cluster (same grant server);
    without linkCost the Link has no cost."""
    hub.namespace("joining", site="joining")
    grant = hub.grant("hub", "g")
    token = hub.token("joining", "t", grant["status"])
    assert token["status"]["redeemed"] is True
    assert hub.names("joining", "links") == ["t"]
    assert "cost" not in hub.get("joining", "links", "t")["spec"]
    assert hub.get("hub", "accessgrants", "g")["status"]["redemptions"] == 1


def test_used_up_grant_gives_no_such_access_granted_and_is_retried_as_skupper_does(hub, spoke):
    """internal/kube/grants/grants.go checkAndUpdateAccessToken (404 "No such access granted"), redeem.go
    postTokenRequest (the message) and types.go SetRedeemed; internal/kube/watchers/watchers.go: the error's
    own status write is an event (one more POST, same error, no write), then only a resync retries."""
    grant = hub.grant("hub", "g")
    assert spoke.token("spoke", "first", grant["status"])["status"]["redeemed"] is True
    second = spoke.token("spoke", "second", grant["status"])
    message = "Controller got failed response: 404 (Not Found) No such access granted"
    assert conditions(second) == {"Redeemed": ("False", "Error", message)}
    assert (second["status"]["status"], second["status"]["message"]) == ("Error", message)
    assert "redeemed" not in second["status"]
    assert spoke.names("spoke", "links") == ["first"]
    assert [s.metadata.name for s in spoke.core.list_namespaced_secret("spoke").items] == ["first"]
    assert hub.get("hub", "accessgrants", "g")["status"]["redemptions"] == 1
    assert len(redemption_posts(hub)) == 3  # first, then second twice
    spoke.create("spoke", "listeners", {"kind": "Listener", "metadata": {"name": "l"},
                                        "spec": {"routingKey": "k", "host": "h", "port": 80}})
    assert len(redemption_posts(hub)) == 3  # an unrelated change is no event of the token
    spoke.double.resync_access_tokens()
    assert len(redemption_posts(hub)) == 4
    assert spoke.get("spoke", "accesstokens", "second")["status"]["message"] == message


def test_wrong_code_is_refused_and_not_counted(hub, spoke):
    """internal/kube/grants/grants.go checkAndUpdateAccessToken: 403 "Redemption of access token refused";
    only the right code is counted."""
    grant = hub.grant("hub", "g")
    token = spoke.token("spoke", "t", grant["status"], code="not-the-code")
    assert token["status"]["message"] == \
        "Controller got failed response: 403 (Forbidden) Redemption of access token refused"
    assert "redemptions" not in hub.get("hub", "accessgrants", "g")["status"]
    assert spoke.names("spoke", "links") == []


def test_redemptions_allowed_counts_each_redemption(hub, spoke):
    """internal/kube/grants/grants.go checkAndUpdateAccessToken: redemptions += 1 up to redemptionsAllowed."""
    grant = hub.grant("hub", "g", redemptionsAllowed=2)
    for number, name in enumerate(("a", "b"), start=1):
        assert spoke.token("spoke", name, grant["status"])["status"]["redeemed"] is True
        assert hub.get("hub", "accessgrants", "g")["status"]["redemptions"] == number
    assert spoke.names("spoke", "links") == ["a", "b"]
    third = spoke.token("spoke", "c", grant["status"])
    assert third["status"]["message"].endswith("No such access granted")


def test_expired_grant_is_no_such_claim(hub, spoke):
    """internal/kube/grants/grants.go checkAndUpdateAccessToken: an expired grant is 404 "No such claim"."""
    grant = hub.grant("hub", "g", expirationWindow="-1m")
    token = spoke.token("spoke", "t", grant["status"])
    assert token["status"]["message"] == "Controller got failed response: 404 (Not Found) No such claim"


def test_redeemed_token_is_never_redeemed_again(hub, spoke):
    """internal/kube/controller/controller.go checkAccessToken: IsRedeemed -> nothing, whatever changes."""
    grant = hub.grant("hub", "g", redemptionsAllowed=5)
    spoke.token("spoke", "t", grant["status"])
    spoke.patch("spoke", "accesstokens", "t", {"metadata": {"labels": {"x": "y"}}, "spec": {"linkCost": 9}})
    spoke.double.resync_access_tokens()
    assert len(redemption_posts(hub)) == 1
    assert hub.get("hub", "accessgrants", "g")["status"]["redemptions"] == 1
    assert "cost" not in spoke.get("spoke", "links", "t")["spec"]


def test_token_waits_for_a_site_in_its_namespace(hub, spoke):
    """internal/kube/controller/controller.go checkAccessToken: no Site -> nothing, no status."""
    grant = hub.grant("hub", "g")
    spoke.namespace("later")
    token = spoke.token("later", "t", grant["status"])
    assert "status" not in token and redemption_posts(hub) == []
    spoke.create("later", "sites", {"kind": "Site", "metadata": {"name": "later"}, "spec": {}})
    assert spoke.get("later", "accesstokens", "t")["status"]["redeemed"] is True


@pytest.mark.parametrize("site_spec, message", [
    (None, "Site not yet defined for plain"),
    ({}, "No valid endpoints found for site"),
    ({"linkAccess": "none"}, "No valid endpoints found for site"),
])
def test_grant_of_a_namespace_that_cannot_accept_links(hub, spoke, site_spec, message):
    """internal/kube/grants/grants.go checkGrant does not look at the Site: the grant is Ready; the
    redemption fails in controller.go generateLinkConfig / tokens.go setValidHostsFromSite (500), after
    checkAndUpdateAccessToken counted it; so the retry that the error's own status write causes
    (watchers.go) finds the one-use grant used up; that new message is one more event, whose POST gives
    the same answer and ends it."""
    hub.namespace("plain", site="plain" if site_spec is not None else None, **(site_spec or {}))
    grant = hub.grant("plain", "g")
    assert grant["status"]["status"] == "Ready" and grant["status"]["url"]
    token = spoke.token("spoke", "t", grant["status"])
    assert [(r.status, r.reason) for r in redemption_posts(hub)] == [
        (500, message), (404, "No such access granted"), (404, "No such access granted")]
    assert token["status"]["message"] == "Controller got failed response: 404 (Not Found) No such access granted"
    assert hub.get("plain", "accessgrants", "g")["status"]["redemptions"] == 1
    assert spoke.names("spoke", "links") == []
    roomy = hub.grant("plain", "roomy", redemptionsAllowed=5)
    token = spoke.token("spoke", "t2", roomy["status"])
    assert token["status"]["message"] == "Controller got failed response: 500 (Internal Server Error) " + message
    assert hub.get("plain", "accessgrants", "roomy")["status"]["redemptions"] == 2


def test_token_with_another_ca_or_http_url_or_no_ca(hub, spoke, tmp_path):
    """internal/kube/grants/redeem.go: TLS verified against the token's CA only ("Controller got error:"),
    "token url scheme must be https", "token does not have a CA"."""
    other = Cluster(tmp_path, "other")
    try:
        grant = hub.grant("hub", "g")
        foreign_ca = other.double.grant_server.ca.pem
        token = spoke.token("spoke", "wrong-ca", grant["status"], ca=foreign_ca)
        assert token["status"]["message"].startswith('Controller got error: Post "%s": ' % grant["status"]["url"])
        assert "CERTIFICATE_VERIFY_FAILED" in token["status"]["message"]
        http_url = grant["status"]["url"].replace("https://", "http://")
        assert spoke.token("spoke", "http", grant["status"], url=http_url)["status"]["message"] == \
            "token url scheme must be https"
        assert spoke.token("spoke", "no-ca", grant["status"], ca="")["status"]["message"] == \
            "token does not have a CA"
        assert "redemptions" not in hub.get("hub", "accessgrants", "g")["status"]
        assert spoke.names("spoke", "links") == []
    finally:
        other.close()


def test_site_deleted_after_redeeming(hub, spoke):
    """internal/kube/site/site.go updateAccessTokensForDeletedSite / types.go SetRedeemedWithSiteDeletion."""
    grant = hub.grant("hub", "g")
    spoke.token("spoke", "t", grant["status"])
    spoke.custom.delete_namespaced_custom_object(GROUP, VERSION, "spoke", "sites", "spoke")
    token = spoke.get("spoke", "accesstokens", "t")
    assert conditions(token) == {"Redeemed": ("True", "Error", "Already redeemed for a deleted site")}
    assert token["status"]["redeemed"] is True and token["status"]["status"] == "Error"


# ---- Link status and the grant server's life -------------------------------------------------------------

def test_link_status_configured_then_operational_by_the_test_switch(hub, spoke):
    """internal/kube/site/site.go link/updateLinkOperationalCondition, types.go SetConfigured/SetOperational:
    Configured, Pending "Not Operational" (no router in the double); Ready only through
    set_link_operational; a Link in a namespace without a Site: "No active site in namespace"."""
    grant = hub.grant("hub", "g")
    spoke.token("spoke", "t", grant["status"])
    link = spoke.get("spoke", "links", "t")
    assert conditions(link) == {"Configured": ("True", "Ready", "OK"),
                                "Ready": ("False", "Pending", "Not Operational")}
    assert (link["status"]["status"], link["status"]["message"]) == ("Pending", "Not Operational")
    spoke.double.set_link_operational("spoke", "t", remote_site_name="hub",
                                      remote_site_id=hub.get("hub", "sites", "hub")["metadata"]["uid"])
    link = spoke.get("spoke", "links", "t")
    assert conditions(link)["Operational"] == ("True", "Ready", "OK")
    assert (link["status"]["status"], link["status"]["remoteSiteName"]) == ("Ready", "hub")
    assert link["status"]["remoteSiteId"] == hub.get("hub", "sites", "hub")["metadata"]["uid"]
    spoke.double.set_link_operational("spoke", "t", operational=False, remote_site_name="hub")
    link = spoke.get("spoke", "links", "t")
    assert (link["status"]["status"], link["status"]["message"]) == ("Pending", "Not operational")

    spoke.namespace("lonely")
    spoke.create("lonely", "links", {"kind": "Link", "metadata": {"name": "l"},
                                     "spec": {"endpoints": [{"name": "inter-router", "host": "h", "port": "1"}]}})
    assert spoke.get("lonely", "links", "l")["status"]["message"] == "No active site in namespace"


def test_deleted_grant_is_forgotten_and_stop_closes_the_grant_server(tmp_path):
    """internal/kube/grants/grants.go remove (a deleted grant is "No such claim"); the double's stop()."""
    cluster = Cluster(tmp_path, "solo")
    try:
        cluster.namespace("hub", site="hub", linkAccess="default")
        cluster.namespace("join", site="join")
        grant = cluster.grant("hub", "g")
        cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, "hub", "accessgrants", "g")
        token = cluster.token("join", "t", grant["status"])
        assert token["status"]["message"] == "Controller got failed response: 404 (Not Found) No such claim"
        port = cluster.double.grant_server.port
    finally:
        cluster.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_bad_token_body_is_refused_by_the_api_and_nothing_is_redeemed(hub, spoke):
    """config/crd/bases/skupper_access_token_crd.yaml: url, code and ca are required; nothing is stored."""
    with pytest.raises(ApiException) as info:
        spoke.create("spoke", "accesstokens", {"kind": "AccessToken", "metadata": {"name": "t"},
                                               "spec": {"url": "https://127.0.0.1:1/x"}})
    assert info.value.status == 422
    assert spoke.names("spoke", "accesstokens") == [] and spoke.double.redemption_attempts == 0
