"""The Kubernetes API server test double behaves as the real API server does.

Each test drives tests/support/kube_api_double.py through the real ``kubernetes``
client (and kubectl once for discovery and get). Tests that take ``kube_target``
also run against a real cluster with the Skupper CRDs when
SKUPPERLABS_TEST_KUBECONFIG is set; tests that need the double's switches or its
request log take ``requires_double`` and are skipped there.
"""

import base64
import concurrent.futures
import http.client
import json
import pathlib
import re
import secrets
import shutil
import subprocess
import sys
import time
import uuid

import pytest

pytest.importorskip("kubernetes")
import urllib3  # noqa: E402  (a dependency of kubernetes)
import yaml  # noqa: E402
from kubernetes import client, config, dynamic  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from tests.support.kube_api_double import (  # noqa: E402
    JsonPatchError,
    KubeApiDouble,
    SelectorError,
    json_patch,
    labels_match,
    merge_patch,
    parse_label_selector,
    validate_structural,
)

GROUP, VERSION = "skupper.io", "v2alpha1"
API_VERSION = GROUP + "/" + VERSION
SKUPPER_PLURALS = ("listeners", "multikeylisteners", "connectors", "sites", "links", "accessgrants",
                   "accesstokens", "routeraccesses", "certificates", "securedaccesses", "attachedconnectors",
                   "attachedconnectorbindings")
MODULE_PATH = pathlib.Path(__file__).resolve().parents[1] / "support" / "kube_api_double.py"
KUBECTL = shutil.which("kubectl")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
STALE_MESSAGE = ('Operation cannot be fulfilled on listeners.skupper.io "a": the object has been modified; '
                 "please apply your changes to the latest version and try again")


# ---- helpers ----------------------------------------------------------------

def listener(name, **spec):
    body = {"routingKey": "backend", "host": "backend", "port": 8080}
    body.update(spec)
    return {"apiVersion": API_VERSION, "kind": "Listener", "metadata": {"name": name}, "spec": body}


def multikeylistener(name, strategy, **spec):
    body = {"host": "db", "port": 5432, "strategy": strategy}
    body.update(spec)
    return {"apiVersion": API_VERSION, "kind": "MultiKeyListener", "metadata": {"name": name}, "spec": body}


def connector(name, **spec):
    body = {"routingKey": "backend", "port": 8080}
    body.update(spec)
    return {"apiVersion": API_VERSION, "kind": "Connector", "metadata": {"name": name}, "spec": body}


def api_error(call, *args, **kwargs):
    """Run a client call that must fail; return (HTTP status, Status body as a dict)."""
    with pytest.raises(ApiException) as info:
        call(*args, **kwargs)
    return info.value.status, json.loads(info.value.body)


def fresh_name(prefix):
    return prefix + secrets.token_hex(3)


class Objects:
    """The CustomObjectsApi calls for one plural in the target namespace."""

    def __init__(self, target, plural):
        self.api, self.namespace, self.plural = target.custom, target.namespace, plural

    def _args(self):
        return GROUP, VERSION, self.namespace, self.plural

    def create(self, body, **kwargs):
        return self.api.create_namespaced_custom_object(*self._args(), body, **kwargs)

    def get(self, name):
        return self.api.get_namespaced_custom_object(*self._args(), name)

    def list(self, **kwargs):
        return self.api.list_namespaced_custom_object(*self._args(), **kwargs)

    def names(self, **kwargs):
        return [item["metadata"]["name"] for item in self.list(**kwargs)["items"]]

    def replace(self, name, body, **kwargs):
        return self.api.replace_namespaced_custom_object(*self._args(), name, body, **kwargs)

    def patch(self, name, body, **kwargs):
        return self.api.patch_namespaced_custom_object(*self._args(), name, body, **kwargs)

    def json_patch(self, name, operations, **kwargs):
        return self.patch(name, operations, _content_type="application/json-patch+json", **kwargs)

    def delete(self, name, **kwargs):
        return self.api.delete_namespaced_custom_object(*self._args(), name, **kwargs)

    def patch_status(self, name, body, **kwargs):
        return self.api.patch_namespaced_custom_object_status(*self._args(), name, body, **kwargs)

    def replace_status(self, name, body, **kwargs):
        return self.api.replace_namespaced_custom_object_status(*self._args(), name, body, **kwargs)


@pytest.fixture
def listeners(kube_target):
    return Objects(kube_target, "listeners")


@pytest.fixture
def mkls(kube_target):
    return Objects(kube_target, "multikeylisteners")


def kubectl(target, *args):
    result = subprocess.run([KUBECTL, "--kubeconfig", target.kubeconfig, *args], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


# ---- discovery ----------------------------------------------------------------

def test_discovery_documents(kube_target):
    api_client = kube_target.api_client
    assert client.VersionApi(api_client).get_code().git_version.startswith("v1.")
    groups = {group.name: group for group in client.ApisApi(api_client).get_api_versions().groups}
    assert groups[GROUP].preferred_version.group_version == API_VERSION

    resources = {res.name: res for res in kube_target.custom.get_api_resources(GROUP, VERSION).resources}
    assert set(SKUPPER_PLURALS) | {plural + "/status" for plural in SKUPPER_PLURALS} <= set(resources)
    assert resources["listeners"].kind == "Listener"
    assert resources["listeners"].short_names == ["lnr"]
    assert resources["multikeylisteners"].kind == "MultiKeyListener"
    assert all(resources[plural].namespaced for plural in SKUPPER_PLURALS)
    assert {"create", "delete", "get", "list", "patch", "update"} <= set(resources["listeners"].verbs)
    assert set(resources["listeners/status"].verbs) == {"get", "patch", "update"}

    core = {res.name: res for res in kube_target.core.get_api_resources().resources}
    assert core["namespaces"].namespaced is False
    assert core["secrets"].namespaced is True
    assert "services" in core


def test_dynamic_client_discovers_and_writes(kube_target, tmp_path):
    dyn = dynamic.DynamicClient(kube_target.api_client, cache_file=str(tmp_path / "discovery.json"))
    resource = dyn.resources.get(api_version=API_VERSION, kind="Listener")
    assert resource.namespaced and resource.short_names == ["lnr"]
    created = resource.create(body=listener("dyn"), namespace=kube_target.namespace)
    assert created.metadata.generation == 1
    patched = resource.patch(name="dyn", namespace=kube_target.namespace, body={"spec": {"port": 9090}},
                             content_type="application/merge-patch+json")
    assert (patched.spec.port, patched.metadata.generation) == (9090, 2)


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_discovers_and_gets_listeners(kube_target, listeners):
    listeners.create(listener("front", port=9090))
    resources = kubectl(kube_target, "api-resources", "--api-group=skupper.io")
    assert re.search(r"^listeners\s+lnr\s+skupper\.io/v2alpha1\s+true\s+Listener\s*$", resources, re.M)
    table = kubectl(kube_target, "get", "lnr", "-n", kube_target.namespace).splitlines()
    assert table[0].split()[:5] == ["NAME", "ROUTING", "KEY", "PORT", "HOST"]
    assert table[1].split()[:4] == ["front", "backend", "9090", "backend"]
    as_json = json.loads(kubectl(kube_target, "get", "listeners", "front", "-n", kube_target.namespace, "-o", "json"))
    assert (as_json["kind"], as_json["spec"]["port"]) == ("Listener", 9090)


# ---- create, get, list ----------------------------------------------------------

def test_create_sets_server_fields(kube_target, listeners):
    created = listeners.create(listener("a"))
    meta = created["metadata"]
    assert meta["namespace"] == kube_target.namespace
    assert meta["generation"] == 1
    assert uuid.UUID(meta["uid"])
    assert meta["resourceVersion"].isdigit()
    assert TIMESTAMP.match(meta["creationTimestamp"])
    assert created["spec"] == {"routingKey": "backend", "host": "backend", "port": 8080}
    assert listeners.get("a") == created


def test_generate_name(listeners):
    body = listener("")
    body["metadata"] = {"generateName": "gen-"}
    name = listeners.create(body)["metadata"]["name"]
    assert re.match(r"^gen-[a-z0-9]{5}$", name)
    assert listeners.get(name)["metadata"]["name"] == name


def test_list_has_kind_api_version_and_resource_version(listeners):
    for name in ("b", "a"):
        listeners.create(listener(name))
    result = listeners.list()
    assert (result["apiVersion"], result["kind"]) == (API_VERSION, "ListenerList")
    assert result["metadata"]["resourceVersion"].isdigit()
    assert [item["metadata"]["name"] for item in result["items"]] == ["a", "b"]
    assert {(item["apiVersion"], item["kind"]) for item in result["items"]} == {(API_VERSION, "Listener")}


def test_create_twice_is_409_already_exists(listeners):
    listeners.create(listener("a"))
    status, body = api_error(listeners.create, listener("a"))
    assert status == 409
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'listeners.skupper.io "a" already exists'
    assert body["details"] == {"name": "a", "group": GROUP, "kind": "listeners"}


def test_list_across_namespaces(kube_target, listeners):
    other = fresh_name("t-other-")
    kube_target.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=other)))
    try:
        mark = {"suite": kube_target.namespace}
        first = listener("a")
        first["metadata"]["labels"] = mark
        listeners.create(first)
        second = listener("b")
        second["metadata"]["labels"] = mark
        kube_target.custom.create_namespaced_custom_object(GROUP, VERSION, other, "listeners", second)
        result = kube_target.custom.list_cluster_custom_object(GROUP, VERSION, "listeners",
                                                               label_selector="suite=" + kube_target.namespace)
        found = {(item["metadata"]["namespace"], item["metadata"]["name"]) for item in result["items"]}
        assert found == {(kube_target.namespace, "a"), (other, "b")}
        assert result["kind"] == "ListenerList"
    finally:
        kube_target.core.delete_namespace(other)


LABELS = {"a": {"app": "web", "tier": "front"}, "b": {"app": "web"}, "c": {"app": "db", "tier": "back"}, "d": {}}


@pytest.mark.parametrize("selector, expected", [
    ("app=web", ["a", "b"]),
    ("app==web", ["a", "b"]),
    ("app!=web", ["c", "d"]),
    ("tier", ["a", "c"]),
    ("!tier", ["b", "d"]),
    ("tier in (front,back)", ["a", "c"]),
    ("tier notin (front)", ["b", "c", "d"]),
    ("app=web,tier=front", ["a"]),
    ("app in (web, db), !tier", ["b"]),
])
def test_label_selectors(listeners, selector, expected):
    for name, labels in LABELS.items():
        body = listener(name)
        if labels:
            body["metadata"]["labels"] = labels
        listeners.create(body)
    assert listeners.names(label_selector=selector) == expected


def test_bad_label_selector_is_400(listeners):
    status, body = api_error(listeners.list, label_selector="tier in (front")
    assert (status, body["reason"]) == (400, "BadRequest")


def test_field_selector_on_name_and_unsupported_field(listeners):
    for name in ("a", "b"):
        listeners.create(listener(name))
    assert listeners.names(field_selector="metadata.name=b") == ["b"]
    assert listeners.names(field_selector="metadata.name!=b") == ["a"]
    status, body = api_error(listeners.list, field_selector="spec.port=8080")
    assert status == 400 and "field label not supported: spec.port" in body["message"]


def test_list_pages_with_limit_and_continue(listeners):
    for name in ("a", "b", "c"):
        listeners.create(listener(name))
    first = listeners.list(limit=2)
    assert [item["metadata"]["name"] for item in first["items"]] == ["a", "b"]
    assert first["metadata"]["continue"]
    second = listeners.list(limit=2, _continue=first["metadata"]["continue"])
    assert [item["metadata"]["name"] for item in second["items"]] == ["c"]
    assert not second["metadata"].get("continue")


# ---- updates, versions, conflicts --------------------------------------------------

def test_writes_bump_resource_version_and_spec_changes_bump_generation(listeners):
    created = listeners.create(listener("a"))
    versions = [int(created["metadata"]["resourceVersion"])]

    labelled = listeners.patch("a", {"metadata": {"labels": {"x": "y"}}})
    versions.append(int(labelled["metadata"]["resourceVersion"]))
    assert labelled["metadata"]["generation"] == 1

    changed = listeners.patch("a", {"spec": {"port": 9090}})
    versions.append(int(changed["metadata"]["resourceVersion"]))
    assert changed["metadata"]["generation"] == 2

    with_status = listeners.patch_status("a", {"status": {"status": "Pending"}})
    versions.append(int(with_status["metadata"]["resourceVersion"]))
    assert with_status["metadata"]["generation"] == 2
    assert versions == sorted(set(versions))


def test_update_that_changes_nothing_keeps_the_resource_version(listeners):
    created = listeners.create(listener("a"))
    again = listeners.replace("a", created)
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    same = listeners.patch("a", {"spec": {"port": 8080}})
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_replace_with_a_stale_resource_version_is_409_conflict(listeners):
    created = listeners.create(listener("a"))
    listeners.patch("a", {"spec": {"port": 1}})
    stale = json.loads(json.dumps(created))
    stale["spec"]["port"] = 2
    status, body = api_error(listeners.replace, "a", stale)
    assert status == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == STALE_MESSAGE
    assert body["details"] == {"name": "a", "group": GROUP, "kind": "listeners"}
    assert listeners.get("a")["spec"]["port"] == 1

    del stale["metadata"]["resourceVersion"]  # no precondition: an unconditional update
    assert listeners.replace("a", stale)["spec"]["port"] == 2


def test_patch_with_a_stale_resource_version_is_409_conflict(listeners):
    created = listeners.create(listener("a"))
    listeners.patch("a", {"spec": {"port": 1}})
    status, body = api_error(listeners.patch, "a", {"metadata": {"resourceVersion": created["metadata"][
        "resourceVersion"]}, "spec": {"port": 2}})
    assert (status, body["message"]) == (409, STALE_MESSAGE)


def test_replace_of_a_missing_object_is_404(listeners):
    status, body = api_error(listeners.replace, "ghost", listener("ghost"))
    assert (status, body["details"]["name"]) == (404, "ghost")


def test_merge_patch_follows_rfc7386(listeners):
    listeners.create(listener("a", settings={"keep": "1", "drop": "2"}))
    patched = listeners.patch("a", {"spec": {"settings": {"drop": None, "add": "3"}, "tlsCredentials": "tls"}})
    assert patched["spec"]["settings"] == {"keep": "1", "add": "3"}
    assert patched["spec"]["tlsCredentials"] == "tls"


def test_json_patch_add_replace_remove(listeners):
    listeners.create(listener("a", type="tcp"))
    patched = listeners.json_patch("a", [
        {"op": "add", "path": "/spec/tlsCredentials", "value": "tls"},
        {"op": "replace", "path": "/spec/port", "value": 9443},
        {"op": "remove", "path": "/spec/type"},
        {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
    ])
    assert patched["spec"] == {"routingKey": "backend", "host": "backend", "port": 9443, "tlsCredentials": "tls"}
    assert patched["metadata"]["labels"] == {"x": "y"}
    status, body = api_error(listeners.json_patch, "a", [{"op": "remove", "path": "/spec/nothing"}])
    assert (status, body["reason"]) == (422, "Invalid")


def test_strategic_merge_patch_is_415_for_custom_objects(listeners):
    listeners.create(listener("a"))
    status, body = api_error(listeners.patch, "a", {"spec": {"port": 1}},
                             _content_type="application/strategic-merge-patch+json")
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")


# ---- the status subresource -------------------------------------------------------

def test_status_is_a_subresource(listeners):
    body = listener("a")
    body["status"] = {"status": "Ready"}
    assert "status" not in listeners.create(body)  # create drops status

    with_status = listeners.patch_status("a", {"status": {"status": "Pending", "message": "Not Matched"},
                                               "spec": {"port": 1}})
    assert with_status["status"] == {"status": "Pending", "message": "Not Matched"}
    assert with_status["spec"]["port"] == 8080  # /status changes nothing but status
    assert with_status["metadata"]["generation"] == 1

    current = listeners.get("a")
    current["spec"]["port"] = 9090
    current["status"] = {"status": "Error"}
    replaced = listeners.replace("a", current)
    assert replaced["spec"]["port"] == 9090
    assert replaced["status"] == {"status": "Pending", "message": "Not Matched"}  # the main resource keeps status
    patched = listeners.patch("a", {"status": {"status": "Error"}})
    assert patched["status"]["status"] == "Pending"

    replaced["status"] = {"status": "Ready", "message": "OK", "hasMatchingConnector": True}
    replaced["spec"]["port"] = 1
    status_put = listeners.replace_status("a", replaced)
    assert status_put["status"] == {"status": "Ready", "message": "OK", "hasMatchingConnector": True}
    assert status_put["spec"]["port"] == 9090


# ---- dry run ---------------------------------------------------------------------

def test_dry_run_validates_and_answers_but_stores_nothing(kube_target, listeners):
    answer = listeners.create(listener("a"), dry_run="All")
    assert answer["spec"]["port"] == 8080 and answer["metadata"]["uid"]
    assert api_error(listeners.get, "a")[0] == 404
    assert api_error(listeners.create, listener("bad", port="x"), dry_run="All")[0] == 422

    stored = listeners.create(listener("b"))
    version = stored["metadata"]["resourceVersion"]
    patched = listeners.patch("b", {"spec": {"port": 1}}, dry_run="All")
    assert (patched["spec"]["port"], patched["metadata"]["generation"]) == (1, 2)
    replaced = listeners.replace("b", dict(stored, spec=dict(stored["spec"], port=2)), dry_run="All")
    assert replaced["spec"]["port"] == 2
    deleted = listeners.delete("b", dry_run="All")
    assert deleted["status"] == "Success"
    after = listeners.get("b")
    assert after["spec"]["port"] == 8080
    assert after["metadata"]["resourceVersion"] == version
    if kube_target.double is not None:
        assert [record.method for record in kube_target.double.writes()] == ["POST"]


# ---- delete ---------------------------------------------------------------------

def test_delete_returns_status_success_then_404(listeners):
    created = listeners.create(listener("a"))
    answer = listeners.delete("a")
    assert answer["kind"] == "Status" and answer["status"] == "Success"
    assert answer["details"]["name"] == "a" and answer["details"]["uid"] == created["metadata"]["uid"]
    status, body = api_error(listeners.delete, "a")
    assert (status, body["details"]["name"]) == (404, "a")


def test_delete_with_a_stale_precondition_is_409(listeners):
    listeners.create(listener("a"))
    options = client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version="1"))
    status, body = api_error(listeners.delete, "a", body=options)
    assert (status, body["reason"]) == (409, "Conflict")
    assert listeners.get("a")


def test_delete_collection_by_label(kube_target, listeners):
    for name, labels in LABELS.items():
        body = listener(name)
        if labels:
            body["metadata"]["labels"] = labels
        listeners.create(body)
    kube_target.custom.delete_collection_namespaced_custom_object(GROUP, VERSION, kube_target.namespace,
                                                                  "listeners", label_selector="app=web")
    assert listeners.names() == ["c", "d"]


# ---- 404 shapes --------------------------------------------------------------------

def test_missing_object_is_404_with_details_name(listeners):
    status, body = api_error(listeners.get, "ghost")
    assert status == 404
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["reason"] == "NotFound"
    assert body["message"] == 'listeners.skupper.io "ghost" not found'
    assert body["details"] == {"name": "ghost", "group": GROUP, "kind": "listeners"}
    assert api_error(listeners.patch, "ghost", {"spec": {"port": 1}})[0] == 404


def test_unknown_resource_type_is_404_without_name(kube_target):
    status, body = api_error(kube_target.custom.get_namespaced_custom_object, GROUP, VERSION,
                             kube_target.namespace, "listenerz", "x")
    assert (status, body["reason"]) == (404, "NotFound")
    assert body["message"] == "the server could not find the requested resource"
    assert "name" not in (body.get("details") or {})


def test_create_in_a_missing_namespace_is_404_namespace_not_found(kube_target):
    missing = fresh_name("t-missing-")
    status, body = api_error(kube_target.custom.create_namespaced_custom_object, GROUP, VERSION, missing,
                             "listeners", listener("a"))
    assert (status, body["reason"]) == (404, "NotFound")
    assert body["message"] == 'namespaces "%s" not found' % missing
    assert body["details"]["name"] == missing and body["details"]["kind"] == "namespaces"


def test_uninstalled_crds_look_like_an_unknown_resource(kube_target, requires_double, listeners):
    listeners.create(listener("a"))
    requires_double.crds_installed = False
    for call, args in ((listeners.get, ("a",)), (listeners.create, (listener("b"),)), (listeners.list, ())):
        status, body = api_error(call, *args)
        assert (status, body["message"]) == (404, "the server could not find the requested resource")
        assert "name" not in body["details"]
    groups = client.ApisApi(kube_target.api_client).get_api_versions().groups
    assert GROUP not in [group.name for group in groups]
    assert api_error(kube_target.custom.get_api_resources, GROUP, VERSION)[0] == 404
    requires_double.crds_installed = True
    assert listeners.get("a")["metadata"]["name"] == "a"


# ---- validation ------------------------------------------------------------------

def test_type_error_is_422_invalid_with_causes(listeners):
    status, body = api_error(listeners.create, listener("bad", port="string"))
    assert (status, body["reason"], body["code"]) == (422, "Invalid", 422)
    assert body["message"] == ('Listener.skupper.io "bad" is invalid: spec.port: Invalid value: "string": '
                               'spec.port in body must be of type integer: "string"')
    assert body["details"]["name"] == "bad" and body["details"]["kind"] == "Listener"
    assert body["details"]["causes"] == [{
        "reason": "FieldValueTypeInvalid",
        "message": 'Invalid value: "string": spec.port in body must be of type integer: "string"',
        "field": "spec.port",
    }]


def test_missing_required_fields_are_each_reported(listeners):
    body = listener("bad")
    del body["spec"]["routingKey"], body["spec"]["port"]
    status, answer = api_error(listeners.create, body)
    assert status == 422
    causes = answer["details"]["causes"]
    assert {cause["field"] for cause in causes} == {"spec.routingKey", "spec.port"}
    assert {cause["reason"] for cause in causes} == {"FieldValueRequired"}
    assert "spec.routingKey: Required value" in answer["message"]


@pytest.mark.parametrize("spec, field, reason", [
    ({"settings": {"k": 1}}, "spec.settings.k", "FieldValueTypeInvalid"),
    ({"exposePodsByName": "yes"}, "spec.exposePodsByName", "FieldValueTypeInvalid"),
    ({"host": 5}, "spec.host", "FieldValueTypeInvalid"),
])
def test_listener_field_types(listeners, spec, field, reason):
    status, body = api_error(listeners.create, listener("bad", **spec))
    assert status == 422
    assert [(cause["field"], cause["reason"]) for cause in body["details"]["causes"]] == [(field, reason)]


def test_names_must_be_rfc1123_subdomains(listeners):
    status, body = api_error(listeners.create, listener("Bad_Name"))
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert "RFC 1123 subdomain" in body["message"]


def test_unknown_fields_are_pruned(listeners):
    body = listener("a", color="blue")
    body["extra"] = {"x": 1}
    created = listeners.create(body)
    assert "color" not in created["spec"] and "extra" not in created
    assert "color" not in listeners.get("a")["spec"]


def test_strict_field_validation_rejects_unknown_fields(listeners):
    status, body = api_error(listeners.create, listener("a", color="blue"), field_validation="Strict")
    assert status == 400
    assert 'unknown field "spec.color"' in body["message"]


def test_site_spec_is_all_optional(kube_target):
    sites = Objects(kube_target, "sites")
    created = sites.create({"apiVersion": API_VERSION, "kind": "Site", "metadata": {"name": "s"}, "spec": {}})
    assert created["metadata"]["generation"] == 1
    bad = {"apiVersion": API_VERSION, "kind": "Site", "metadata": {"name": "t"}, "spec": {"ha": "yes"}}
    status, body = api_error(sites.create, bad)
    assert (status, body["details"]["causes"][0]["field"]) == (422, "spec.ha")


def test_connector_needs_exactly_one_of_host_or_selector(kube_target):
    connectors = Objects(kube_target, "connectors")
    assert connectors.create(connector("by-selector", selector="app=backend"))
    assert connectors.create(connector("by-host", host="10.0.0.1"))
    assert api_error(connectors.create, connector("neither"))[0] == 422
    assert api_error(connectors.create, connector("both", host="h", selector="app=x"))[0] == 422


def test_multikeylistener_needs_exactly_one_strategy(kube_target, mkls):
    both = {"priority": {"routingKeys": ["a"]}, "weighted": {"routingKeys": {"a": 1}}}
    for strategy in (both, {}):
        status, body = api_error(mkls.create, multikeylistener("m", strategy))
        assert status == 422
        assert "spec.strategy" in [cause["field"] for cause in body["details"]["causes"]]
    if kube_target.double is not None:
        assert body["message"] == ('MultiKeyListener.skupper.io "m" is invalid: spec.strategy: Invalid value: '
                                   '"object": exactly one of the fields in [priority weighted] must be set')
    assert mkls.create(multikeylistener("p", {"priority": {"routingKeys": ["a", "b"]}}))
    assert mkls.create(multikeylistener("w", {"weighted": {"routingKeys": {"a": 1, "b": 3}}}))


def test_multikeylistener_strategy_type_is_immutable(kube_target, mkls):
    mkls.create(multikeylistener("m", {"priority": {"routingKeys": ["a", "b"]}}))
    reordered = mkls.patch("m", {"spec": {"strategy": {"priority": {"routingKeys": ["b", "a"]}}}})
    assert reordered["spec"]["strategy"]["priority"]["routingKeys"] == ["b", "a"]

    switch = {"spec": {"strategy": {"priority": None, "weighted": {"routingKeys": {"a": 1}}}}}
    status, body = api_error(mkls.patch, "m", switch)
    assert status == 422
    assert [cause["field"] for cause in body["details"]["causes"]] == ["spec.strategy"]
    if kube_target.double is not None:
        assert body["message"] == ('MultiKeyListener.skupper.io "m" is invalid: spec.strategy: Invalid value: '
                                   '"object": strategy is immutable')
    assert "priority" in mkls.get("m")["spec"]["strategy"]


@pytest.mark.parametrize("strategy, field, reason", [
    ({"priority": {"routingKeys": []}}, "spec.strategy.priority.routingKeys", "FieldValueInvalid"),
    ({"priority": {"routingKeys": ["k%d" % i for i in range(257)]}}, "spec.strategy.priority.routingKeys",
     "FieldValueTooMany"),
    ({"priority": {"routingKeys": ["a", "a"]}}, "spec.strategy.priority.routingKeys[1]", "FieldValueDuplicate"),
    ({"weighted": {"routingKeys": {"a": "1"}}}, "spec.strategy.weighted.routingKeys.a", "FieldValueTypeInvalid"),
    ({"weighted": {"routingKeys": {}}}, "spec.strategy.weighted.routingKeys", "FieldValueInvalid"),
])
def test_multikeylistener_strategy_limits(mkls, strategy, field, reason):
    status, body = api_error(mkls.create, multikeylistener("m", strategy))
    assert status == 422
    assert (field, reason) in [(cause["field"], cause["reason"]) for cause in body["details"]["causes"]]


# ---- core v1: namespaces and secrets ------------------------------------------------

def test_namespaces(kube_target):
    core = kube_target.core
    assert core.read_namespace("default").status.phase == "Active"
    name = fresh_name("t-ns-")
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    assert created.metadata.labels["kubernetes.io/metadata.name"] == name
    assert name in [item.metadata.name for item in core.list_namespace().items]
    status, body = api_error(core.create_namespace, client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    assert (status, body["message"]) == (409, 'namespaces "%s" already exists' % name)
    core.delete_namespace(name)
    try:
        assert core.read_namespace(name).status.phase == "Terminating"  # a real cluster takes a while
    except ApiException as error:
        assert error.status == 404
        assert json.loads(error.body)["message"] == 'namespaces "%s" not found' % name


def test_deleting_a_namespace_removes_its_objects(kube_target, requires_double, listeners):
    listeners.create(listener("a"))
    kube_target.core.delete_namespace(kube_target.namespace)
    assert requires_double.get_object("namespaces", None, kube_target.namespace) is None
    assert requires_double.list_objects("listeners", kube_target.namespace) == []


def test_secrets_crud(kube_target):
    core, namespace = kube_target.core, kube_target.namespace
    secret = client.V1Secret(metadata=client.V1ObjectMeta(name="creds", labels={"app": "x"}),
                             string_data={"token": "abc"})
    created = core.create_namespaced_secret(namespace, secret)
    assert created.data == {"token": base64.b64encode(b"abc").decode()}
    assert created.type == "Opaque" and not created.string_data

    created.data["extra"] = base64.b64encode(b"x").decode()
    replaced = core.replace_namespaced_secret("creds", namespace, created)
    assert set(replaced.data) == {"token", "extra"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert [item.metadata.name for item in core.list_namespaced_secret(namespace, label_selector="app=x").items] \
        == ["creds"]

    core.delete_namespaced_secret("creds", namespace)
    status, body = api_error(core.read_namespaced_secret, "creds", namespace)
    assert status == 404
    assert body["message"] == 'secrets "creds" not found'
    assert body["details"] == {"name": "creds", "kind": "secrets"}


# ---- concurrency -------------------------------------------------------------------

def test_concurrent_creates_get_distinct_resource_versions(listeners):
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda i: listeners.create(listener("c%02d" % i)), range(20)))
    versions = {item["metadata"]["resourceVersion"] for item in created}
    assert len(versions) == 20
    assert len(listeners.names()) == 20


# ---- test controls: request log and fault switches ------------------------------------

def test_request_log(kube_target, requires_double, listeners):
    double = requires_double
    double.reset_calls()
    listeners.create(listener("a"))
    listeners.get("a")
    listeners.patch("a", {"spec": {"port": 1}})
    listeners.delete("a", dry_run="All")
    listeners.delete("a")
    calls = double.calls(plural="listeners")
    assert [(call.method, call.name) for call in calls] == [
        ("POST", None), ("GET", "a"), ("PATCH", "a"), ("DELETE", "a"), ("DELETE", "a")]
    assert [call.status for call in calls] == [201, 200, 200, 200, 200]
    assert {call.namespace for call in calls} == {kube_target.namespace}
    assert {call.token for call in calls} == {double.token}
    assert double.calls(method="patch")[0].content_type == "application/merge-patch+json"
    assert double.calls(method="PATCH")[0].body == {"spec": {"port": 1}}
    assert [call.method for call in double.writes()] == ["POST", "PATCH", "DELETE"]
    assert len(double.calls("DELETE", name="a")) == 2
    double.reset_calls()
    assert double.requests == [] and double.calls() == []


def test_discovery_is_left_out_of_calls_by_default(kube_target, requires_double):
    requires_double.reset_calls()
    kube_target.custom.get_api_resources(GROUP, VERSION)
    assert requires_double.calls() == []
    assert [call.path for call in requires_double.calls(exclude_discovery=False)] == ["/apis/skupper.io/v2alpha1"]


def test_latency(requires_double, listeners):
    requires_double.latency = 0.3
    started = time.monotonic()
    listeners.list()
    assert time.monotonic() - started >= 0.3


def test_fail_next(requires_double, listeners):
    listeners.create(listener("a"))
    listeners.create(listener("b"))
    requires_double.fail_next(2, status=503, path_contains="/listeners/a")
    status, body = api_error(listeners.get, "a")
    assert (status, body["reason"]) == (503, "ServiceUnavailable")
    assert listeners.get("b")["metadata"]["name"] == "b"  # other paths are untouched
    assert api_error(listeners.get, "a")[0] == 503
    assert listeners.get("a")["metadata"]["name"] == "a"  # only two failures
    requires_double.fail_next(1)
    status, body = api_error(listeners.list)
    assert (status, body["reason"]) == (500, "InternalError")


def test_drop_next_loses_the_request_or_only_the_answer(requires_double, listeners):
    requires_double.drop_next(1, methods="POST")
    with pytest.raises(urllib3.exceptions.HTTPError):
        listeners.create(listener("a"))
    assert api_error(listeners.get, "a")[0] == 404  # not processed
    assert requires_double.calls("POST")[-1].dropped

    requires_double.drop_next(1, methods="POST", after_processing=True)
    with pytest.raises(urllib3.exceptions.HTTPError):
        listeners.create(listener("a"))
    assert listeners.get("a")["metadata"]["name"] == "a"  # processed, answer lost
    assert api_error(listeners.create, listener("a"))[0] == 409


def test_conflict_next(requires_double, listeners):
    created = listeners.create(listener("a"))
    requires_double.conflict_next(2, methods=("PATCH",))
    for _attempt in range(2):
        status, body = api_error(listeners.patch, "a", {"spec": {"port": 1}})
        assert (status, body["message"]) == (409, STALE_MESSAGE)
    assert listeners.get("a")["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert listeners.patch("a", {"spec": {"port": 1}})["spec"]["port"] == 1
    requires_double.conflict_next(1)
    status, body = api_error(listeners.create, listener("b"))
    assert status == 409 and body["details"]["name"] == "b"
    assert api_error(listeners.get, "b")[0] == 404


def test_auth_mode_401(kube_target, requires_double, listeners):
    requires_double.auth_mode = 401
    status, body = api_error(listeners.get, "a")
    assert (status, body["reason"], body["message"]) == (401, "Unauthorized", "Unauthorized")
    assert api_error(client.VersionApi(kube_target.api_client).get_code)[0] == 401


def test_auth_mode_403_messages_name_the_verb(kube_target, requires_double, listeners):
    listeners.create(listener("a"))
    requires_double.auth_mode = 403
    user, namespace = requires_double.forbidden_user, kube_target.namespace

    def forbidden(subject, verb, resource="listeners", group=GROUP, scope=None):
        scope = scope or 'in the namespace "%s"' % namespace
        return '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
            subject, user, verb, resource, group, scope)

    cases = [
        (listeners.get, ("a",), forbidden('listeners.skupper.io "a"', "get")),
        (listeners.list, (), forbidden("listeners.skupper.io", "list")),
        (listeners.create, (listener("b"),), forbidden("listeners.skupper.io", "create")),
        (listeners.replace, ("a", listener("a")), forbidden('listeners.skupper.io "a"', "update")),
        (listeners.patch, ("a", {"spec": {"port": 1}}), forbidden('listeners.skupper.io "a"', "patch")),
        (listeners.delete, ("a",), forbidden('listeners.skupper.io "a"', "delete")),
        (listeners.patch_status, ("a", {"status": {}}),
         forbidden('listeners.skupper.io "a"', "patch", resource="listeners/status")),
        (kube_target.custom.list_cluster_custom_object, (GROUP, VERSION, "listeners"),
         forbidden("listeners.skupper.io", "list", scope="at the cluster scope")),
        (kube_target.core.read_namespaced_secret, ("s", namespace), forbidden('secrets "s"', "get", "secrets", "")),
    ]
    for call, args, message in cases:
        status, body = api_error(call, *args)
        assert (status, body["reason"], body["message"]) == (403, "Forbidden", message)
    assert kube_target.custom.get_api_resources(GROUP, VERSION).group_version == API_VERSION  # discovery allowed
    requires_double.auth_mode = None
    assert listeners.get("a")["spec"]["port"] == 8080


def test_unknown_fields_warning_header_and_bad_json(kube_target, requires_double):
    connection = http.client.HTTPConnection("127.0.0.1", requires_double.port, timeout=10)
    path = "/apis/skupper.io/v2alpha1/namespaces/%s/listeners" % kube_target.namespace
    try:
        connection.request("POST", path, json.dumps(listener("a", color="blue")),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status == 201
        assert 'unknown field \\"spec.color\\"' in response.getheader("Warning")
        connection.request("POST", path, "{not json", {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())["reason"]) == (400, "BadRequest")
        connection.request("GET", path + "?watch=true")
        response = connection.getresponse()
        response.read()
        assert response.status == 405
    finally:
        connection.close()


# ---- direct store access and the controller hook --------------------------------------

def test_direct_store_access(kube_target, requires_double, listeners):
    double, namespace = requires_double, kube_target.namespace
    planted = listener("planted")
    planted["status"] = {"status": "Pending"}
    stored = double.put_object("listeners", namespace, planted)
    assert stored["metadata"]["generation"] == 1 and stored["status"] == {"status": "Pending"}
    assert listeners.get("planted") == stored == double.get_object("listeners", namespace, "planted")

    before = int(double.resource_version)
    double.set_status("listeners", namespace, "planted", {"status": "Ready", "message": "OK"})
    assert int(double.resource_version) == before + 1
    fetched = listeners.get("planted")
    assert fetched["status"] == {"status": "Ready", "message": "OK"}
    assert fetched["metadata"]["resourceVersion"] == double.resource_version

    copy_of = double.get_object("listeners", namespace, "planted")
    copy_of["spec"]["port"] = 1
    assert double.get_object("listeners", namespace, "planted")["spec"]["port"] == 8080
    assert double.get_object("listeners", namespace, "ghost") is None
    with pytest.raises(KeyError):
        double.set_status("listeners", namespace, "ghost", {})
    assert double.delete_object("listeners", namespace, "planted") is True
    assert api_error(listeners.get, "planted")[0] == 404


def test_on_change_hook_sees_every_stored_write(tmp_path):
    class Recording(KubeApiDouble):
        def __init__(self):
            self.changes = []
            super().__init__()

        def _on_change(self, plural, namespace, name):
            self.changes.append((plural, namespace, name))

    with Recording() as double:
        api_client = config.new_client_from_config(config_file=double.write_kubeconfig(tmp_path / "kc"))
        try:
            objects = client.CustomObjectsApi(api_client)
            args = (GROUP, VERSION, "default", "listeners")
            objects.create_namespaced_custom_object(*args, listener("a"))
            objects.patch_namespaced_custom_object(*args, "a", {"spec": {"port": 1}})
            objects.patch_namespaced_custom_object(*args, "a", {"spec": {"port": 2}}, dry_run="All")
            objects.patch_namespaced_custom_object(*args, "a", {"spec": {"port": 1}})  # no change: no write
            objects.patch_namespaced_custom_object_status(*args, "a", {"status": {"status": "Ready"}})
            objects.delete_namespaced_custom_object(*args, "a")
        finally:
            api_client.close()
        assert double.changes == [("listeners", "default", "a")] * 4
        double.set_status("namespaces", None, "default", {"phase": "Active"}, notify=False)
        assert len(double.changes) == 4


def test_a_failing_hook_is_answered_500_and_recorded(tmp_path, capsys):
    class Broken(KubeApiDouble):
        def _on_change(self, plural, namespace, name):
            raise RuntimeError("controller bug")

    with Broken() as double:
        api_client = config.new_client_from_config(config_file=double.write_kubeconfig(tmp_path / "kc"))
        try:
            status, body = api_error(client.CustomObjectsApi(api_client).create_namespaced_custom_object,
                                     GROUP, VERSION, "default", "listeners", listener("a"))
        finally:
            api_client.close()
        assert (status, body["reason"]) == (500, "InternalError")
        assert "controller bug" in body["message"]
        assert len(double.errors) == 1 and "RuntimeError" in double.errors[0]
    assert "controller bug" in capsys.readouterr().err


# ---- life cycle, kubeconfig, standalone -------------------------------------------------

def test_write_kubeconfig_and_the_token_the_client_sends(kube_api, tmp_path):
    path = kube_api.write_kubeconfig(tmp_path / "kc", namespace="ns1", context="ctx", token="tok-123")
    data = yaml.safe_load(pathlib.Path(path).read_text())
    assert data["current-context"] == "ctx"
    assert data["contexts"][0]["context"]["namespace"] == "ns1"
    assert data["clusters"][0]["cluster"]["server"] == kube_api.url
    assert data["users"][0]["user"]["token"] == "tok-123"
    assert re.match(r"^http://127\.0\.0\.1:\d+$", kube_api.url) and kube_api.port != 0

    api_client = config.new_client_from_config(config_file=path)
    try:
        client.CoreV1Api(api_client).read_namespace("default")
    finally:
        api_client.close()
    assert kube_api.calls(plural="namespaces")[-1].token == "tok-123"


def test_each_double_has_its_own_port_and_store():
    with KubeApiDouble() as first, KubeApiDouble() as second:
        assert first.port != second.port
        first.create_namespace("only-here")
        assert second.get_object("namespaces", None, "only-here") is None
        port = first.port
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/version")


def test_standalone_mode(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen([sys.executable, str(MODULE_PATH), "--kubeconfig", str(kubeconfig),
                                "--namespace", "demo"], stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        assert re.match(r"^http://127\.0\.0\.1:\d+$", url)
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        try:
            assert client.CoreV1Api(api_client).read_namespace("demo").metadata.name == "demo"
        finally:
            api_client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
    assert process.returncode == 0


# ---- the pure helpers -----------------------------------------------------------------

@pytest.mark.parametrize("target, patch, result", [  # RFC 7386, appendix A
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_rfc7386_examples(target, patch, result):
    assert merge_patch(target, patch) == result


def test_json_patch_operations():
    doc = {"a": [1, 2], "b": {"c": 1}}
    patched = json_patch(doc, [
        {"op": "add", "path": "/a/-", "value": 3},
        {"op": "add", "path": "/a/0", "value": 0},
        {"op": "move", "from": "/b/c", "path": "/d"},
        {"op": "copy", "from": "/d", "path": "/b/e"},
        {"op": "test", "path": "/a", "value": [0, 1, 2, 3]},
        {"op": "add", "path": "/x~1y", "value": True},
    ])
    assert patched == {"a": [0, 1, 2, 3], "b": {"e": 1}, "d": 1, "x/y": True}
    assert doc == {"a": [1, 2], "b": {"c": 1}}  # the input is untouched
    for bad in ([{"op": "test", "path": "/a", "value": []}], [{"op": "replace", "path": "/zz", "value": 1}],
                [{"op": "add", "path": "/a/9", "value": 1}], [{"op": "frobnicate", "path": "/a"}]):
        with pytest.raises(JsonPatchError):
            json_patch(doc, bad)


def test_structural_validator_enum_prune_and_nulls():
    schema = {"type": "object", "required": ["mode"], "properties": {
        "mode": {"type": "string", "enum": ["a", "b"]},
        "inner": {"type": "object", "properties": {"keep": {"type": "integer"}}},
    }}
    pruned = []
    cleaned, errors = validate_structural({"mode": "x", "inner": {"keep": 1.0, "drop": 2}, "gone": None},
                                          schema, "spec", pruned)
    assert cleaned == {"mode": "x", "inner": {"keep": 1}}
    assert pruned == ["spec.inner.drop", "spec.gone"]
    assert [str(error) for error in errors] == ['spec.mode: Unsupported value: "x": supported values: "a", "b"']
    _cleaned, errors = validate_structural({"mode": None}, schema, "spec")
    assert [str(error) for error in errors] == ["spec.mode: Required value"]


@pytest.mark.parametrize("selector", ["tier in (front", "=x", "a b", "a,,b", "Bad Key=x", "a>b"])
def test_label_selector_parser_rejects_garbage(selector):
    with pytest.raises(SelectorError):
        parse_label_selector(selector)


def test_label_selector_numeric_operators():
    requirements = parse_label_selector("replicas>2,replicas<5")
    assert labels_match(requirements, {"replicas": "3"})
    assert not labels_match(requirements, {"replicas": "5"})
    assert not labels_match(requirements, {})


# ---- Skupper's CRDs and Kubernetes controller, as Skupper's source has them ----------------
# Each test names the file of github.com/skupperproject/skupper it pins.

class Site:
    """A started double (a Skupper version, the controller on) with one namespace holding a Site."""

    def __init__(self, tmp_path, skupper_version=None, controller=True, site=True):
        kwargs = {"controller": controller}
        if skupper_version is not None:
            kwargs["skupper_version"] = skupper_version
        self.double = KubeApiDouble(**kwargs).start()
        self.namespace = "site-a"
        self.double.create_namespace(self.namespace)
        self.api_client = config.new_client_from_config(
            config_file=self.double.write_kubeconfig(tmp_path / "kubeconfig", namespace=self.namespace))
        self.custom = client.CustomObjectsApi(self.api_client)
        self.core = client.CoreV1Api(self.api_client)
        if site:
            self.objects("sites").create({"apiVersion": API_VERSION, "kind": "Site", "metadata": {"name": "a"},
                                          "spec": {}})

    def objects(self, plural):
        return Objects(self, plural)

    def status(self, plural, name):
        return self.objects(plural).get(name).get("status") or {}

    def close(self):
        self.api_client.close()
        self.double.stop()


@pytest.fixture
def site(tmp_path):
    target = Site(tmp_path)
    yield target
    target.close()


@pytest.fixture
def make_site(tmp_path):
    made = []

    def make(skupper_version=None, **kwargs):
        target = Site(tmp_path / str(len(made)), skupper_version, **kwargs)
        made.append(target)
        return target

    yield make
    for target in made:
        target.close()


def test_connector_keeps_every_field_of_its_crd(kube_target):
    """config/crd/bases/skupper_connector_crd.yaml: useClientCert, verifyHostname, exposePodsByName too."""
    spec = {"routingKey": "db", "port": 5432, "selector": "app=db", "tlsCredentials": "db-tls", "useClientCert": True,
            "verifyHostname": True, "type": "tcp", "includeNotReadyPods": True, "exposePodsByName": True,
            "settings": {"k": "v"}}
    created = Objects(kube_target, "connectors").create(
        {"apiVersion": API_VERSION, "kind": "Connector", "metadata": {"name": "c"}, "spec": spec})
    assert created["spec"] == spec
    status, body = api_error(Objects(kube_target, "connectors").create,
                             connector("bad", host="h", useClientCert="yes"))
    assert (status, body["details"]["causes"][0]["field"]) == (422, "spec.useClientCert")


@pytest.mark.parametrize("plural, kind, spec", [
    ("sites", "Site", {"serviceAccount": "sa", "linkAccess": "default", "defaultIssuer": "my-ca", "ha": True,
                       "edge": False, "settings": {"a": "b"}}),
    ("listeners", "Listener", {"routingKey": "k", "host": "h", "port": 1, "tlsCredentials": "t", "type": "tcp",
                               "observer": "http2", "exposePodsByName": True, "settings": {"a": "b"}}),
    ("multikeylisteners", "MultiKeyListener", {"host": "h", "port": 1, "strategy": {"weighted": {"routingKeys": {
        "a": 2}}}, "tlsCredentials": "t", "requireClientCert": True, "observer": "none", "settings": {"a": "b"}}),
    ("links", "Link", {"endpoints": [{"name": "inter-router", "host": "h", "port": "55671", "group": "g"}],
                       "tlsCredentials": "s", "cost": 3, "settings": {"a": "b"}}),
    ("accessgrants", "AccessGrant", {"redemptionsAllowed": 2, "expirationWindow": "1h", "code": "c",
                                     "issuer": "i", "settings": {"a": "b"}}),
    ("accesstokens", "AccessToken", {"url": "https://x/y", "code": "c", "ca": "pem", "linkCost": 2,
                                     "settings": {"a": "b"}}),
])
def test_every_crd_field_is_kept_and_unknown_ones_are_pruned(kube_target, plural, kind, spec):
    """config/crd/bases/skupper_{site,listener,multikeylistener,link,access_grant,access_token}_crd.yaml.

    A structural schema prunes what it does not know (with a Warning), it does not refuse it.
    """
    objects = Objects(kube_target, plural)
    body = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": "full"},
            "spec": dict(spec, notInTheCrd="x")}
    created = objects.create(body)
    assert created["spec"] == spec
    assert objects.get("full")["spec"] == spec


@pytest.mark.parametrize("plural, kind, spec, missing", [
    ("links", "Link", {"cost": 1}, {"spec.endpoints"}),
    ("accesstokens", "AccessToken", {"linkCost": 1}, {"spec.url", "spec.code", "spec.ca"}),
    ("multikeylisteners", "MultiKeyListener", {"strategy": {"priority": {"routingKeys": ["a"]}}},
     {"spec.host", "spec.port"}),
    ("routeraccesses", "RouterAccess", {"bindHost": "x"}, {"spec.roles", "spec.tlsCredentials"}),
    ("certificates", "Certificate", {"hosts": ["a"]}, {"spec.ca", "spec.subject"}),
])
def test_required_fields_are_those_of_the_crd(kube_target, plural, kind, spec, missing):
    """config/crd/bases/*.yaml ``required`` lists."""
    status, body = api_error(Objects(kube_target, plural).create,
                             {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": "x"}, "spec": spec})
    assert status == 422
    assert {cause["field"] for cause in body["details"]["causes"]} == missing
    assert {cause["reason"] for cause in body["details"]["causes"]} == {"FieldValueRequired"}


def test_only_multikeylistener_requires_a_spec(kube_target):
    """skupper_multikeylistener_crd.yaml has ``required: [spec]`` at the top; the Listener CRD has none."""
    assert Objects(kube_target, "listeners").create(
        {"apiVersion": API_VERSION, "kind": "Listener", "metadata": {"name": "bare"}})["metadata"]["name"] == "bare"
    status, body = api_error(Objects(kube_target, "multikeylisteners").create,
                             {"apiVersion": API_VERSION, "kind": "MultiKeyListener", "metadata": {"name": "bare"}})
    assert (status, [c["field"] for c in body["details"]["causes"]]) == (422, ["spec"])


def test_observer_is_an_enum(kube_target, listeners):
    """skupper_listener_crd.yaml: observer is one of auto, none, http1, http2."""
    for value in ("auto", "none", "http1", "http2"):
        assert listeners.create(listener("o-" + value, observer=value))["spec"]["observer"] == value
    status, body = api_error(listeners.create, listener("bad", observer="tcp"))
    assert status == 422
    assert [(c["field"], c["reason"]) for c in body["details"]["causes"]] == [("spec.observer",
                                                                               "FieldValueNotSupported")]
    if kube_target.double is not None:
        assert body["details"]["causes"][0]["message"] == (
            'Unsupported value: "tcp": supported values: "auto", "none", "http1", "http2"')


def test_weights_have_no_minimum_in_the_crd(mkls):
    """skupper_multikeylistener_crd.yaml: weights are ``type: integer`` with no minimum (Go: map[string]uint)."""
    created = mkls.create(multikeylistener("w", {"weighted": {"routingKeys": {"a": 0, "b": 5}}}))
    assert created["spec"]["strategy"]["weighted"]["routingKeys"] == {"a": 0, "b": 5}


def test_strategy_rules_on_update_report_both_cel_messages(kube_target, mkls):
    """skupper_multikeylistener_crd.yaml x-kubernetes-validations: immutable, then exactly one."""
    mkls.create(multikeylistener("m", {"priority": {"routingKeys": ["a"]}}))
    both = {"spec": {"strategy": {"weighted": {"routingKeys": {"a": 1}}}}}
    status, body = api_error(mkls.patch, "m", both)
    assert status == 422
    if kube_target.double is not None:
        assert [c["message"] for c in body["details"]["causes"]] == [
            'Invalid value: "object": exactly one of the fields in [priority weighted] must be set']
    # adding weighted to priority keeps priority: only "exactly one" fails; a swap fails "immutable"
    swap = {"spec": {"strategy": {"priority": None, "weighted": {"routingKeys": {"a": 1}}}}}
    status, body = api_error(mkls.patch, "m", swap)
    assert [c["message"] for c in body["details"]["causes"]] == ['Invalid value: "object": strategy is immutable']


def test_status_strategy_needs_exactly_one(mkls):
    """skupper_multikeylistener_crd.yaml: the status.strategy CEL rule."""
    mkls.create(multikeylistener("m", {"priority": {"routingKeys": ["a"]}}))
    bad = {"status": {"strategy": {"priority": {"routingKeysReachable": []},
                                   "weighted": {"routingKeysReachable": {}}}}}
    status, body = api_error(mkls.patch_status, "m", bad)
    assert (status, [c["field"] for c in body["details"]["causes"]]) == (422, ["status.strategy"])
    ok = mkls.patch_status("m", {"status": {"strategy": {"priority": {"routingKeysReachable": ["a"]}}}})
    assert ok["status"]["strategy"] == {"priority": {"routingKeysReachable": ["a"]}}


def test_conditions_are_checked_as_the_crd_says(listeners):
    """skupper_listener_crd.yaml status.conditions: reason pattern and minLength, status enum, required."""
    listeners.create(listener("a"))
    good = {"type": "Configured", "status": "True", "reason": "Ready", "message": "OK",
            "lastTransitionTime": "2026-01-01T00:00:00Z"}
    assert listeners.patch_status("a", {"status": {"conditions": [good]}})["status"]["conditions"] == [good]
    for change, field in (({"reason": "not a reason"}, "status.conditions[0].reason"),
                          ({"reason": ""}, "status.conditions[0].reason"),
                          ({"status": "Maybe"}, "status.conditions[0].status")):
        status, body = api_error(listeners.patch_status, "a", {"status": {"conditions": [dict(good, **change)]}})
        assert status == 422 and field in [c["field"] for c in body["details"]["causes"]]


def test_names_are_dns_subdomains(listeners):
    """Kubernetes checks custom object names as RFC 1123 subdomains: dots, up to 253 characters."""
    dotted = "web.frontend.v2"
    assert listeners.create(listener(dotted))["metadata"]["name"] == dotted
    long_name = ".".join(["a" * 63] * 3) + "." + "b" * 61  # 253 characters
    assert len(long_name) == 253
    assert listeners.get(listeners.create(listener(long_name))["metadata"]["name"])["metadata"]["name"] == long_name
    status, body = api_error(listeners.create, listener(long_name + "c"))
    assert status == 422 and "must be no more than 253 characters" in body["message"]


def test_set_based_selector_is_stored_as_is(kube_target):
    """skupper_connector_crd.yaml: selector is a free string (the controller hands it to a pod informer)."""
    selector = "app in (web,api),tier!=cache,!legacy"
    created = Objects(kube_target, "connectors").create(connector("sel", selector=selector))
    assert created["spec"]["selector"] == selector


# ---- Skupper versions ----------------------------------------------------------------------

def _served(target):
    return {r.name for r in target.custom.get_api_resources(GROUP, VERSION).resources}


@pytest.mark.parametrize("version", ["2.1.1", "2.0.0", "2.1.4"])
def test_before_2_2_0_there_is_no_multikeylistener_and_observer_is_pruned(make_site, version):
    """config/crd/bases at tags 2.0.0-2.1.4: no skupper_multikeylistener_crd.yaml; Listener has no observer."""
    target = make_site(version, controller=False, site=False)
    assert "multikeylisteners" not in _served(target) and "listeners" in _served(target)
    status, body = api_error(target.objects("multikeylisteners").create,
                             multikeylistener("m", {"priority": {"routingKeys": ["a"]}}))
    expected = (404, "the server could not find the requested resource", {})
    assert (status, body["message"], body["details"]) == expected
    created = target.objects("listeners").create(listener("l", observer="none"))
    assert "observer" not in created["spec"]
    assert target.double.calls(method="POST", plural="listeners")[-1].status == 201


def test_2_2_0_has_multikeylistener_without_observer(make_site):
    """Tag 2.2.0: MultiKeyListener CRD (#2372) without observer (added in 2.2.1, #2464); Listener observer."""
    target = make_site("2.2.0", controller=False, site=False)
    created = target.objects("multikeylisteners").create(
        multikeylistener("m", {"priority": {"routingKeys": ["a"]}}, observer="none"))
    assert "observer" not in created["spec"]
    assert target.objects("listeners").create(listener("l", observer="none"))["spec"]["observer"] == "none"


@pytest.mark.parametrize("version", ["2.2.1", "main", None])
def test_from_2_2_1_multikeylistener_keeps_observer(make_site, version):
    """Tag 2.2.1 and main: skupper_multikeylistener_crd.yaml has observer; the default is the newest release."""
    target = make_site(version, controller=False, site=False)
    created = target.objects("multikeylisteners").create(
        multikeylistener("m", {"priority": {"routingKeys": ["a"]}}, observer="none"))
    assert created["spec"]["observer"] == "none"


def test_unknown_skupper_version_is_refused():
    with pytest.raises(ValueError, match="2.0.0 to 2.2.1"):
        KubeApiDouble(skupper_version="1.9.6")


# ---- the Kubernetes controller: host and port -------------------------------------------------

def _configured(status):
    return next((c for c in status.get("conditions", ()) if c["type"] == "Configured"), None)


def test_second_listener_on_the_same_host_and_port_is_in_error(site):
    """internal/kube/site/site.go CheckListener: the lead keeps host/port; same host, other port is fine."""
    listeners = site.objects("listeners")
    listeners.create(listener("first", host="web", port=8080))
    listeners.create(listener("second", host="web", port=8080, routingKey="other"))
    listeners.create(listener("third", host="web", port=9090))
    second = site.status("listeners", "second")
    assert (second["status"], second["message"]) == (
        "Error", "Listener first with host web and port 8080 already exists in namespace")
    assert _configured(second)["reason"] == "Error"
    assert _configured(site.status("listeners", "first"))["status"] == "True"
    assert _configured(site.status("listeners", "third"))["status"] == "True"


def test_deleting_the_lead_frees_host_and_port(site):
    """internal/kube/site/site.go CheckListener: a deleted lead leaves leadListeners; the next one takes it."""
    listeners = site.objects("listeners")
    listeners.create(listener("first", host="web", port=8080))
    listeners.create(listener("second", host="web", port=8080))
    assert site.status("listeners", "second")["status"] == "Error"
    listeners.delete("first")
    assert _configured(site.status("listeners", "second"))["status"] == "True"
    listeners.create(listener("first", host="web", port=8080))
    assert site.status("listeners", "first")["message"] == (
        "Listener second with host web and port 8080 already exists in namespace")


def test_lead_moving_away_frees_its_port_and_moving_onto_a_lead_is_held(site):
    """internal/kube/site/site.go CheckListener: a lead's new host/port, free or taken by another lead."""
    listeners = site.objects("listeners")
    listeners.create(listener("first", host="web", port=8080))
    listeners.create(listener("second", host="web", port=8080))
    listeners.patch("first", {"spec": {"port": 9090}})
    assert _configured(site.status("listeners", "first"))["status"] == "True"
    assert _configured(site.status("listeners", "second"))["status"] == "True"
    # now both lead; first moves onto second's port: dropped from the leads, no status write at once
    before = site.status("listeners", "first")
    listeners.patch("first", {"spec": {"port": 8080}})
    assert site.status("listeners", "first") == before
    site.double.run_controller()  # "pick up status next time around"
    assert site.status("listeners", "first")["message"] == (
        "Listener second with host web and port 8080 already exists in namespace")


def test_multikeylisteners_and_other_namespaces_are_not_part_of_the_rule(site):
    """internal/kube/site/site.go CheckMultiKeyListener has no host/port check; leads are per namespace."""
    site.objects("listeners").create(listener("l", host="db", port=5432))
    site.objects("multikeylisteners").create(multikeylistener("m", {"priority": {"routingKeys": ["a"]}}))
    assert _configured(site.status("multikeylisteners", "m"))["status"] == "True"
    assert _configured(site.status("listeners", "l"))["status"] == "True"
    site.double.create_namespace("site-b")
    site.double.put_object("sites", "site-b", {"metadata": {"name": "b"}, "spec": {}})
    site.double.put_object("listeners", "site-b", listener("l2", host="db", port=5432))
    status = site.double.get_object("listeners", "site-b", "l2")["status"]
    assert _configured(status)["status"] == "True"


def test_service_not_owned_by_skupper_puts_the_listener_in_error(site):
    """internal/kube/site/site.go CheckListener + controller.go sansSkupperListenerServices (label only)."""
    site.core.create_namespaced_service(site.namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="web"), spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)])))
    site.core.create_namespaced_service(site.namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="ours", labels={"internal.skupper.io/listener": "x"}),
        spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)])))
    site.objects("listeners").create(listener("a", host="web"))
    site.objects("listeners").create(listener("b", host="ours"))
    assert (site.status("listeners", "a")["status"], site.status("listeners", "a")["message"]) == (
        "Error", "Service web already exists in namespace")
    assert _configured(site.status("listeners", "b"))["status"] == "True"
    site.double.delete_object("services", site.namespace, "web")  # (the client wants the Service back from DELETE)
    assert _configured(site.status("listeners", "a"))["status"] == "True"


def test_before_2_2_0_the_controller_has_no_host_port_or_service_rule(make_site):
    """internal/kube/site/site.go at tag 2.1.4: CheckListener has neither check (added by #2389 in 2.2.0)."""
    target = make_site("2.1.4")
    target.double.put_object("services", target.namespace, {"metadata": {"name": "web"}, "spec": {}})
    target.objects("listeners").create(listener("first", host="web"))
    target.objects("listeners").create(listener("second", host="web"))
    for name in ("first", "second"):
        assert _configured(target.status("listeners", name))["status"] == "True"


# ---- the Kubernetes controller: connectors and pods --------------------------------------------

def test_selector_is_matched_against_pods_set_based_too(site):
    """internal/kube/site/bindings.go TargetSelectionImpl.Updated, watchers.go WatchPods (selector as is)."""
    connectors = site.objects("connectors")
    connectors.create(connector("c", selector="app in (web,api),tier!=cache"))
    # no pod ever matched: no pod event, so Skupper leaves the connector Configured
    assert _configured(site.status("connectors", "c"))["status"] == "True"
    site.double.add_pod(site.namespace, "web-1", {"app": "web"})
    site.double.add_pod(site.namespace, "cache-1", {"app": "web", "tier": "cache"}, ready=False)
    assert _configured(site.status("connectors", "c"))["status"] == "True"
    site.double.delete_object("pods", site.namespace, "web-1")
    status = site.status("connectors", "c")
    assert (status["status"], status["message"]) == ("Error", "No matches for selector")
    assert "selectedPods" not in status  # only dead code (updateConnectorConfiguredStatusWithSelectedPods) sets it
    site.double.add_pod(site.namespace, "api-1", {"app": "api"})
    assert _configured(site.status("connectors", "c"))["status"] == "True"


def test_pods_must_be_ready_and_running_unless_include_not_ready(site):
    """internal/kube/site/bindings.go PodWatcher.pods and pods.go isPodReady/isPodRunning."""
    site.double.add_pod(site.namespace, "p", {"app": "db"}, ready=False)
    site.objects("connectors").create(connector("strict", selector="app=db"))
    site.objects("connectors").create(connector("lenient", selector="app=db", includeNotReadyPods=True))
    assert site.status("connectors", "strict")["message"] == "No matches for selector"
    assert _configured(site.status("connectors", "lenient"))["status"] == "True"
    site.double.set_status("pods", site.namespace, "p", {"phase": "Pending", "conditions": []})
    assert site.status("connectors", "lenient")["message"] == "No matches for selector"


# ---- status as Skupper writes it -----------------------------------------------------------------

def _empty_values(value, path=""):
    """Paths of false, "", 0, {} and [] values (Go omitempty leaves them out)."""
    found = []
    if isinstance(value, dict):
        if not value:
            found.append(path)
        for key, item in value.items():
            found += _empty_values(item, path + "." + key)
    elif isinstance(value, list):
        if not value:
            found.append(path)
        for index, item in enumerate(value):
            found += _empty_values(item, "%s[%d]" % (path, index))
    elif value is False or value == "" or (value == 0 and not isinstance(value, bool)):
        found.append(path)
    return found


def test_status_uses_omitempty_and_the_source_conditions(site):
    """pkg/apis/skupper/v2alpha1/types.go (Status, ListenerStatus, SetConfigured/setMatched/setReady) and
    multikeylistener_types.go (no Ready condition; routingKeysReachable has no omitempty)."""
    site.objects("listeners").create(listener("l", routingKey="nobody"))
    site.objects("multikeylisteners").create(multikeylistener("m", {"priority": {"routingKeys": ["nobody"]}}))
    listener_status = site.status("listeners", "l")
    assert _empty_values(listener_status) == []
    assert "hasMatchingConnector" not in listener_status and "matchingConnectorCount" not in listener_status
    assert [c["type"] for c in listener_status["conditions"]] == ["Configured", "Ready", "Matched"]
    ready = listener_status["conditions"][1]
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "Pending", "No matching connectors")
    assert (listener_status["status"], listener_status["message"]) == ("Pending", "No matching connectors")
    mkl_status = site.status("multikeylisteners", "m")
    assert _empty_values(mkl_status) == [".strategy.priority.routingKeysReachable"]
    assert "Ready" not in [c["type"] for c in mkl_status["conditions"]]
    assert _empty_values(site.status("sites", "a")) == []

    site.objects("connectors").create(connector("c", routingKey="nobody", host="db"))
    matched = site.status("listeners", "l")
    assert matched["hasMatchingConnector"] is True and (matched["status"], matched["message"]) == ("Ready", "OK")
    assert all(c["observedGeneration"] == 1 for c in matched["conditions"])
    assert site.status("connectors", "c")["hasMatchingListener"] is True


def test_main_only_checks(make_site):
    """internal/kube/site/site.go on main after 2.2.1: missingTlsCredentialsErr (#2449), verifySiteSpec (#2540)."""
    main = make_site("main")
    main.objects("listeners").create(listener("l", tlsCredentials="missing"))
    assert main.status("listeners", "l")["message"] == 'TLS credentials secret "missing" not found'
    main.core.create_namespaced_secret(main.namespace, client.V1Secret(metadata=client.V1ObjectMeta(name="missing")))
    assert _configured(main.status("listeners", "l"))["status"] == "True"
    main.objects("sites").patch("a", {"spec": {"edge": True, "ha": True}})
    assert main.status("sites", "a")["message"] == "Edge sites cannot have HA enabled"
    release = make_site("2.2.1")
    release.objects("listeners").create(listener("l", tlsCredentials="missing"))
    assert _configured(release.status("listeners", "l"))["status"] == "True"
