"""The engine's pure parts: validation of task options, comparison, the object to write, diff views."""

import pytest

from ansible_collections.skupperlabs.network.plugins.module_utils import engine
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import SkupperError
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import LISTENER, MULTIKEYLISTENER
from ansible_collections.skupperlabs.network.plugins.module_utils.kubernetes_api import KubernetesBackend
from ansible_collections.skupperlabs.network.plugins.module_utils.system_site import SystemSiteBackend


def params(kind=LISTENER, **given):
    spec = engine.resource_module_kwargs(kind)["argument_spec"]
    values = dict((name, option.get("default")) for name, option in spec.items())
    values.update(given)
    return values


SEED = {"name": "backend", "routing_key": "backend", "host": "backend", "port": 8080}


def test_seed_listener_becomes_the_seed_spec():
    item, = engine.validate_items(LISTENER, params(**SEED), KubernetesBackend)
    assert item.spec == {"routingKey": "backend", "host": "backend", "port": 8080}
    assert item.labels == {"app.kubernetes.io/managed-by": "skupperlabs.network"}


def test_every_error_is_reported_at_once_with_its_option():
    with pytest.raises(SkupperError) as caught:
        engine.validate_items(LISTENER, params(name="Bad", routing_key="", host="h", port=0, namespace="X"),
                              KubernetesBackend)
    errors = caught.value.details["errors"]
    assert [e.split(":")[0] for e in errors] == ["namespace", "name", "routing_key", "port"]


def test_host_rule_follows_the_back_end():
    options = params(**{**SEED, "host": "10.0.0.1"})
    assert engine.validate_items(LISTENER, options, SystemSiteBackend)[0].spec["host"] == "10.0.0.1"
    with pytest.raises(SkupperError, match="host: '10.0.0.1' is not a valid host on Kubernetes"):
        engine.validate_items(LISTENER, options, KubernetesBackend)


def test_absent_needs_only_a_name():
    item, = engine.validate_items(LISTENER, params(name="backend", state="absent"), KubernetesBackend)
    assert item.state == "absent" and item.spec == {}


def test_bulk_items_are_checked_for_duplicate_names():
    items = [{**SEED, "state": None, "labels": None, "annotations": None}, {**SEED, "port": 1}]
    with pytest.raises(SkupperError, match=r"listeners\[1\]\.name: 'backend' is listed twice"):
        engine.validate_items(LISTENER, params(listeners=items, name=None), KubernetesBackend)


def _existing(spec, labels=None, annotations=None):
    metadata = {"name": "backend", "namespace": "ns", "resourceVersion": "7",
                "labels": dict({"app.kubernetes.io/managed-by": "skupperlabs.network"}, **(labels or {}))}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "skupper.io/v2alpha1", "kind": "Listener", "metadata": metadata, "spec": spec,
            "status": {"status": "Ready"}}


def test_values_skupper_assumes_when_absent_are_not_a_change():
    item, = engine.validate_items(LISTENER, params(**SEED), KubernetesBackend)
    existing = _existing({"routingKey": "backend", "host": "backend", "port": 8080, "type": "tcp",
                          "exposePodsByName": False, "settings": {}})
    assert engine.differs(LISTENER, existing, item) is False


def test_unknown_and_removed_fields_are_a_change():
    item, = engine.validate_items(LISTENER, params(**SEED), KubernetesBackend)
    existing = _existing({"routingKey": "backend", "host": "backend", "port": 8080, "tlsCredentials": "x"})
    assert engine.differs(LISTENER, existing, item) is True


def test_labels_given_must_match_others_are_left_alone():
    item, = engine.validate_items(LISTENER, params(labels={"team": "a"}, **SEED), KubernetesBackend)
    spec = {"routingKey": "backend", "host": "backend", "port": 8080}
    assert engine.differs(LISTENER, _existing(spec, labels={"team": "a", "other": "x"}), item) is False
    assert engine.differs(LISTENER, _existing(spec, labels={"team": "b"}), item) is True


def test_object_to_write_keeps_metadata_and_replaces_spec():
    item, = engine.validate_items(LISTENER, params(labels={"team": "a"}, **{**SEED, "port": 1}), KubernetesBackend)
    existing = _existing({"routingKey": "backend", "host": "backend", "port": 8080, "tlsCredentials": "x"},
                         labels={"other": "x"}, annotations={"note": "kept"})
    obj = engine.desired_object(LISTENER, "ns", item, existing)
    assert obj["metadata"]["resourceVersion"] == "7"
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "skupperlabs.network", "other": "x",
                                         "team": "a"}
    assert obj["metadata"]["annotations"] == {"note": "kept"}
    assert obj["spec"] == {"routingKey": "backend", "host": "backend", "port": 1}
    assert "status" not in obj
    assert existing["spec"]["port"] == 8080, "the existing object must not be modified"


def test_view_leaves_out_server_bookkeeping():
    shown = engine.view(_existing({"port": 1}))
    assert shown["metadata"] == {"name": "backend", "namespace": "ns",
                                 "labels": {"app.kubernetes.io/managed-by": "skupperlabs.network"}}
    assert "status" not in shown and engine.view(None) == {}


def test_bulk_option_excludes_single_form_options():
    kwargs = engine.resource_module_kwargs(MULTIKEYLISTENER)
    assert ("name", "multikeylisteners") in kwargs["mutually_exclusive"]
    assert ("multikeylisteners", "strategy") in kwargs["mutually_exclusive"]
    assert kwargs["argument_spec"]["recreate"] == {"type": "bool", "default": False}


def test_strategy_becomes_the_api_form():
    field = MULTIKEYLISTENER.field_by_key("strategy")
    assert field.to_api({"priority": {"routing_keys": ["a", "b"]}, "weighted": None}, KubernetesBackend) == (
        None, {"priority": {"routingKeys": ["a", "b"]}})
    assert field.to_api({"weighted": {"routing_keys": {"a": "2"}}}, KubernetesBackend) == (
        None, {"weighted": {"routingKeys": {"a": 2}}})
    assert field.from_api({"weighted": {"routingKeys": {"a": 2}}}) == {"weighted": {"routing_keys": {"a": 2}}}


def test_strategy_type_change_is_named_with_the_way_out():
    change = MULTIKEYLISTENER.immutable_change({"strategy": {"priority": {}}}, {"strategy": {"weighted": {}}})
    assert "immutable" in change and "uses priority and the task asks for weighted" in change
    assert "recreate: true" in change
    assert MULTIKEYLISTENER.immutable_change({"strategy": {"priority": {}}}, {"strategy": {"priority": {}}}) is None
