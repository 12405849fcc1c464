"""The link, link_info, access_token and access_grant modules through real ansible-playbook runs.

System sites: files under a temporary data home; tokens are redeemed over real HTTPS against the grant
server test double (tests/support/grant_server.py). Kubernetes: the API test double with its controller
(tests/support/kube_api_double.py), or a real cluster for the tests that need no double.
"""

import base64
import datetime
import os

import pytest
import yaml

pytest.importorskip("cryptography")

from tests.support.grant_server import CertificateAuthority, GrantServer, _key_pem  # noqa: E402
from tests.support.playbook import merged  # noqa: E402

MODULES = "skupperlabs.network."


def task(module, site, **options):
    return {MODULES + module: dict(site.args, **options)}


def static_link(site_name="west", host="192.0.2.10"):
    """What a system site with link access writes to runtime/links (pkg/nonkube/api/token.go Marshal):
    a Secret then a Link, both named link-<site>, with real certificates."""
    ca = CertificateAuthority("skupper-site-ca", "rsa")
    cert, key = ca.issue("link-" + site_name)
    data = {"ca.crt": ca.pem, "tls.crt": cert, "tls.key": _key_pem(key)}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "link-" + site_name},
              "data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in data.items())}
    link = {"apiVersion": "skupper.io/v2alpha1", "kind": "Link", "metadata": {"name": "link-" + site_name},
            "spec": {"endpoints": [{"name": "inter-router", "host": host, "port": "55671"},
                                   {"name": "edge", "host": host, "port": "45671"}],
                     "tlsCredentials": "link-" + site_name, "cost": 1}}
    text = "---\n" + yaml.safe_dump(secret) + "---\n" + yaml.safe_dump(link)
    return text, secret["data"], data


def secrets_in(text, data):
    """Every credential of a Secret (base64 and decoded PEM lines) that appears in ``text``."""
    found = [key for key, value in data.items() if value in text]
    for key, value in data.items():
        if key != "ca.crt":
            found += ["%s line" % key for line in value.splitlines()
                      if len(line) > 40 and "BEGIN" not in line and line in text]
    return found


def read_secret(site, name):
    if site.platform == "kubernetes":
        from kubernetes.client.rest import ApiException
        try:
            return site.target.core.read_namespaced_secret(name, site.namespace).to_dict()
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
    return site.read("Secret", name)


# -- link ------------------------------------------------------------------------------------------

def test_link_from_a_static_link_definition(site, runner):
    text, data, plain = static_link()
    first = runner.run(task("link", site, name="west", definition=text), extra_args=["-vvv"])
    result = first[0]
    assert result["changed"] is True and result["action"] == "create", result
    assert result["secret"] == dict({"name": "west", "action": "create"}, **(
        {"path": site.path("Secret", "west")} if site.platform != "kubernetes" else {}))
    link = site.read("Link", "west")
    assert link["spec"]["tlsCredentials"] == "west"
    assert link["spec"]["endpoints"][0] == {"name": "inter-router", "host": "192.0.2.10", "port": "55671"}
    assert link["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "skupperlabs.network"
    secret = read_secret(site, "west")
    assert secret["data"] == data
    # No credential in the whole -vvv output, nor in what the module returned.
    assert secrets_in(first.stdout + first.stderr, dict(data, **plain)) == []
    assert secrets_in(repr(result), dict(data, **plain)) == []

    again = runner.run(task("link", site, name="west", definition=text))[0]
    assert again["changed"] is False and again["action"] == "none" and again["secret"]["action"] == "none"


def test_link_check_and_diff_show_no_secret_data(site, runner):
    text, data, plain = static_link()
    before = site.snapshot()
    run = runner.run(task("link", site, name="west", definition=text), check=True, diff=True)
    result = run[0]
    assert result["changed"] is True
    assert site.snapshot() == before
    secret_diff, link_diff = result["diff"]
    assert secret_diff["after"]["data"] == {"ca.crt": "(hidden)", "tls.crt": "(hidden)", "tls.key": "(hidden)"}
    assert link_diff["after"]["spec"]["tlsCredentials"] == "west"
    assert secrets_in(run.stdout, dict(data, **plain)) == []

    runner.run(task("link", site, name="west", definition=text))
    changed_cost = runner.run(task("link", site, name="west", definition=text, cost=5), diff=True)[0]
    assert changed_cost["changed"] is True and changed_cost["action"] == "update"
    assert changed_cost["diff"]["before"]["spec"]["cost"] == 1 and changed_cost["diff"]["after"]["spec"]["cost"] == 5
    assert changed_cost["secret"]["action"] == "none"


def test_link_absent_removes_the_link_and_its_secret(site, runner):
    text, _data, _plain = static_link()
    runner.run(task("link", site, name="west", definition=text))
    gone = runner.run(task("link", site, name="west", state="absent"))[0]
    assert gone["changed"] is True and gone["secret"]["action"] == "delete"
    assert site.read("Link", "west") is None and read_secret(site, "west") is None
    assert runner.run(task("link", site, name="west", state="absent"))[0]["changed"] is False


def test_bad_link_definitions_write_nothing(site, runner):
    text, _data, _plain = static_link()
    twice = text + "---\n" + yaml.safe_dump({"apiVersion": "skupper.io/v2alpha1", "kind": "Link",
                                             "metadata": {"name": "other"}, "spec": {"endpoints": []}})
    mismatched = text.replace("tlsCredentials: link-west", "tlsCredentials: somebody-else")
    bad_port = text.replace("'55671'", "'70000'")
    before = site.snapshot()
    results = runner.run(
        task("link", site, name="west", definition=twice),
        task("link", site, name="west", definition=mismatched),
        task("link", site, name="west", definition=bad_port),
        task("link", site, name="west", definition="key: [unclosed"),
        task("link", site, name="west", endpoints=[{"host": "h", "port": 1}]),
        task("link", site, name="Bad_Name", endpoints=[{"host": "h", "port": 1}], tls_credentials="x"),
    )
    messages = [r.get("msg", "") for r in results]
    assert all(r["failed"] for r in results), messages
    assert "holds 2 Links" in messages[0]
    assert "is not the name of the Secret" in messages[1]
    assert "endpoints: [0].port: 70000 is not a valid port" in messages[2]
    assert "not valid YAML" in messages[3]
    assert "tls_credentials: required" in messages[4]
    assert "name: 'Bad_Name' is not a valid name" in messages[5]
    assert site.snapshot() == before


def test_link_from_options_and_link_info(site, runner):
    endpoints = [{"name": "inter-router", "host": "hub.example.com", "port": 443}]
    results = runner.run(
        task("link", site, name="to-hub", endpoints=endpoints, tls_credentials="hub-creds", cost=3),
        task("link_info", site),
        task("link", site, name="to-hub", endpoints=endpoints, tls_credentials="hub-creds", cost=3),
    )
    assert results[0]["changed"] is True and "secret" not in results[0]
    entry, = results[1]["links"]
    assert entry["name"] == "to-hub" and entry["cost"] == 3 and entry["tls_credentials"] == "hub-creds"
    assert entry["endpoints"] == [{"name": "inter-router", "host": "hub.example.com", "port": "443"}]
    assert entry["status"] == "Pending"
    if site.platform != "kubernetes":
        assert entry["message"].startswith("site not initialized")
    assert results[2]["changed"] is False


# -- access_token on a system site ----------------------------------------------------------------------

@pytest.fixture
def grant_server():
    server = GrantServer(endpoints=[{"name": "inter-router", "host": "hub.example.com", "port": "55671",
                                     "group": "skupper-router"},
                                    {"name": "edge", "host": "hub.example.com", "port": "45671",
                                     "group": "skupper-router"}]).start()
    try:
        yield server
    finally:
        server.stop()


def test_system_site_redeems_a_token_once(system_site, runner, grant_server):
    grant = grant_server.add_grant("east", redemptions_allowed=2)
    token = grant.token(name="hub")
    first = runner.run(task("access_token", system_site, token=token, link_cost=4), extra_args=["-vvv"])
    result = first[0]
    assert result["changed"] is True and result["action"] == "redeem", result
    assert result["links"] == ["hub"]
    assert grant.redemptions == 1
    # The Secret and Link are input resources; the AccessToken never is (skupper#2112).
    assert sorted(os.listdir(system_site.resources_dir())) == ["Link-hub.yaml", "Secret-hub.yaml"]
    link = system_site.read("Link", "hub")
    assert link["spec"]["cost"] == 4 and link["spec"]["tlsCredentials"] == "hub"
    assert link["metadata"]["namespace"] == "default"
    secret = system_site.read("Secret", "hub")
    assert set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
    assert grant.code not in first.stdout + first.stderr
    assert secrets_in(first.stdout + first.stderr, secret["data"]) == []
    # The request carried Skupper's headers: the token's name, and the namespace as the subject.
    request = grant_server.requests[-1]
    assert request.header("name") == "hub" and request.header("subject") == "default"

    again = runner.run(task("access_token", system_site, token=token))[0]
    assert again["changed"] is False and again["action"] == "none" and again["links"] == ["hub"]
    assert grant.redemptions == 1 and len(grant_server.requests) == 1

    gone = runner.run(task("access_token", system_site, name="hub", state="absent"))[0]
    assert gone["changed"] is True and sorted(gone["removed"]) == ["Link hub", "Secret hub"]
    assert os.listdir(system_site.resources_dir()) == []


def test_refused_tokens_write_nothing(system_site, runner, grant_server):
    used = grant_server.add_grant("used")
    runner.run(task("access_token", system_site, token=used.token(name="first")))
    expired = grant_server.add_grant("old", expiration_time=datetime.datetime.now(datetime.timezone.utc)
                                     - datetime.timedelta(minutes=1))
    wrong_code = grant_server.add_grant("wrong").token(name="third")
    wrong_code["spec"]["code"] = "x" * 24
    other_ca = CertificateAuthority("another-ca").pem
    before = system_site.snapshot()
    results = runner.run(
        task("access_token", system_site, token=used.token(name="second")),
        task("access_token", system_site, token=expired.token(name="late")),
        task("access_token", system_site, token=wrong_code),
        task("access_token", system_site, token=merged(used.token(name="fourth"), spec=dict(
            used.token()["spec"], ca=other_ca))),
        task("access_token", system_site, url="https://127.0.0.1:1/nothing", code="abc", ca=used.ca, name="down"),
        task("access_token", system_site, token=dict(used.token(name="plain"), spec=dict(
            used.token()["spec"], url=used.url.replace("https", "http")))),
    )
    messages = [r.get("msg", "") for r in results]
    assert all(r["failed"] for r in results), messages
    assert "already redeemed as many times as its grant allows" in messages[0]
    assert "does not exist on that server or has expired" in messages[1]
    assert "code does not match" in messages[2]
    assert "certificate" in messages[3].lower()
    assert "127.0.0.1:1" in messages[4]
    assert "https" in messages[5]
    assert system_site.snapshot() == before
    for message in messages:
        assert used.code not in message and "x" * 24 not in message


def test_a_grant_server_failing_or_hanging_fails_the_task_with_nothing_written(system_site, runner, grant_server):
    grant = grant_server.add_grant("east")
    grant_server.answer_with(503, "Internal error")
    before = system_site.snapshot()
    failed = runner.run(task("access_token", system_site, token=grant.token(name="hub")))[0]
    assert failed["failed"] and "503" in failed["msg"] and "Internal error" in failed["msg"]
    assert system_site.snapshot() == before


def test_check_mode_redeems_nothing(system_site, runner, grant_server):
    grant = grant_server.add_grant("east")
    result = runner.run(task("access_token", system_site, token=grant.token(name="hub")), check=True)[0]
    assert result["changed"] is True and result["action"] == "redeem"
    assert grant.redemptions == 0 and grant_server.requests == []
    assert not os.path.exists(system_site.resources_dir())


def test_access_grant_is_kubernetes_only(system_site, runner):
    result = runner.run(task("access_grant", system_site, name="g"))[0]
    assert result["failed"] and "system sites cannot issue tokens" in result["msg"]


# -- Kubernetes: grant, token, link through Skupper's controller -------------------------------------------
#
# On the API test double (its controller on) or, with SKUPPERLABS_TEST_KUBECONFIG, on a real cluster with
# Skupper installed: everything is read back through the kubernetes client, never the double's internals.

class Clusters:
    """Two namespaces with Sites: ``hub`` accepts links, ``spoke`` joins it."""

    def __init__(self, target):
        from kubernetes import client
        self.target = target
        self.hub = target.namespace
        self.spoke = target.namespace + "-spoke"
        target.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=self.spoke)))
        if target.double is not None:
            target.double.controller_enabled = True
        for namespace, spec in ((self.hub, {"linkAccess": "default"}), (self.spoke, {})):
            target.custom.create_namespaced_custom_object(
                "skupper.io", "v2alpha1", namespace, "sites",
                {"apiVersion": "skupper.io/v2alpha1", "kind": "Site", "metadata": {"name": namespace},
                 "spec": spec})

    def args(self, namespace):
        return {"kubeconfig": self.target.kubeconfig, "namespace": namespace}

    def get(self, plural, namespace, name):
        from kubernetes.client.rest import ApiException
        try:
            if plural == "secrets":
                return self.target.core.read_namespaced_secret(name, namespace).to_dict()
            return self.target.custom.get_namespaced_custom_object("skupper.io", "v2alpha1", namespace, plural, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def close(self):
        from kubernetes.client.rest import ApiException
        try:
            self.target.core.delete_namespace(self.spoke)
        except ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture
def clusters(kube_target):
    pair = Clusters(kube_target)
    try:
        yield pair
    finally:
        pair.close()


def test_grant_then_token_links_two_kubernetes_sites(clusters, runner):
    hub, spoke = clusters.args(clusters.hub), clusters.args(clusters.spoke)
    run = runner.run(
        {MODULES + "access_grant": dict(hub, name="spoke", redemptions_allowed=1)},
        {MODULES + "access_grant": dict(hub, name="spoke", redemptions_allowed=1)},
        extra_args=["-vvv"])
    grant, again = run[0], run[1]
    assert grant["changed"] is True and again["changed"] is False
    token = grant["token"]
    assert token["kind"] == "AccessToken" and token["metadata"]["name"] == "spoke"
    assert token["spec"]["url"].startswith("https://") and token == again["token"]
    stored = clusters.get("accessgrants", clusters.hub, "spoke")
    assert grant["resource"]["status"]["code"] == "(hidden)"
    assert stored["status"]["code"] == token["spec"]["code"]

    redeem = runner.run({MODULES + "access_token": dict(spoke, name="hub", token=token)},
                        {MODULES + "link_info": spoke},
                        {MODULES + "access_token": dict(spoke, name="hub", token=token)},
                        extra_args=["-vvv"])
    result, info, rerun = redeem[0], redeem[1], redeem[2]
    assert result["changed"] is True and result["links"] == ["hub"], result
    assert result["resource"]["spec"]["code"] == "(hidden)" and result["resource"]["status"]["redeemed"] is True
    assert [entry["name"] for entry in info["links"]] == ["hub"]
    assert rerun["changed"] is False and rerun["action"] == "none"
    assert clusters.get("accessgrants", clusters.hub, "spoke")["status"]["redemptions"] == 1
    assert token["spec"]["code"] not in redeem.stdout + redeem.stderr
    link = clusters.get("links", clusters.spoke, "hub")
    secret_name = link["spec"]["tlsCredentials"]
    secret = clusters.get("secrets", clusters.spoke, secret_name)
    # What the controller wrote carries the collection's label, so link_info's selector finds it.
    assert link["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "skupperlabs.network"
    assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "skupperlabs.network"

    gone = runner.run({MODULES + "access_token": dict(spoke, name="hub", state="absent")})[0]
    assert sorted(gone["removed"]) == ["AccessToken hub", "Link hub", "Secret %s" % secret_name], gone
    for plural, name in (("accesstokens", "hub"), ("links", "hub"), ("secrets", secret_name)):
        assert clusters.get(plural, clusters.spoke, name) is None


def test_grant_check_mode_and_bad_input_write_nothing(clusters, runner):
    hub = clusters.args(clusters.hub)
    results = runner.run(
        {MODULES + "access_grant": dict(hub, name="later", expiration_window="soon")},
        {MODULES + "access_grant": dict(hub, name="later", redemptions_allowed=0)},
        {MODULES + "access_grant": dict(hub, name="Not-A-Name")},
    )
    assert "expiration_window: 'soon' is not a duration Skupper can read" in results[0]["msg"]
    assert "redemptions_allowed: 0 is not a whole number of at least 1" in results[1]["msg"]
    assert "name: 'Not-A-Name' is not a valid name" in results[2]["msg"]
    checked = runner.run({MODULES + "access_grant": dict(hub, name="later", code="my-own-code-123")},
                         check=True, diff=True)
    result = checked[0]
    assert result["changed"] is True and "token" not in result
    assert result["diff"]["after"]["spec"]["code"] == "(hidden)"
    assert "my-own-code-123" not in checked.stdout
    assert clusters.get("accessgrants", clusters.hub, "later") is None


def test_a_used_up_token_fails_and_leaves_no_access_token(clusters, runner):
    hub, spoke = clusters.args(clusters.hub), clusters.args(clusters.spoke)
    token = runner.run({MODULES + "access_grant": dict(hub, name="once")})[0]["token"]
    runner.run({MODULES + "access_token": dict(spoke, name="first", token=token)})
    second = runner.run({MODULES + "access_token": dict(spoke, name="second", token=token, wait_timeout=20)})[0]
    assert second["failed"] and "No such access granted" in second["msg"], second
    assert clusters.get("accesstokens", clusters.spoke, "second") is None
    assert clusters.get("links", clusters.spoke, "second") is None


@pytest.mark.requires_double
def test_unchanged_grant_and_linked_token_cost_one_request_each(clusters, runner):
    """A re-run of the rollout's grant and token tasks: one GET of the grant, one LIST of the links, no write."""
    double = clusters.target.double
    hub, spoke = clusters.args(clusters.hub), clusters.args(clusters.spoke)
    token = runner.run({MODULES + "access_grant": dict(hub, name="spoke")})[0]["token"]
    runner.run({MODULES + "access_token": dict(spoke, name="hub", token=token)})
    double.reset_calls()
    grant = runner.run({MODULES + "access_grant": dict(hub, name="spoke")})[0]
    assert grant["changed"] is False and grant["token"] == token
    assert [(c.method, c.name) for c in double.calls()] == [("GET", "spoke")]
    double.reset_calls()
    again = runner.run({MODULES + "access_token": dict(spoke, name="hub", token=token)})[0]
    assert again["changed"] is False and again["links"] == ["hub"]
    assert [(c.method, c.plural, c.name) for c in double.calls()] == [("GET", "links", None)]
    assert double.writes() == []
