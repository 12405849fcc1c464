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


# -- bad input, before any back end is touched ------------------------------------------------------------

from ansible_collections.skupperlabs.network.plugins.module_utils.backend import Backend  # noqa: E402
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import CONNECTOR  # noqa: E402


def _errors(kind, rules, **given):
    with pytest.raises(SkupperError) as caught:
        engine.validate_items(kind, params(kind, **given), rules)
    assert caught.value.msg.startswith("invalid input, nothing was written: ")
    return caught.value.details["errors"]


def test_bulk_spec_has_no_sub_spec_for_ansible_to_crash_on():
    spec = engine.resource_module_kwargs(MULTIKEYLISTENER)["argument_spec"]
    assert spec["multikeylisteners"] == {"type": "list", "elements": "raw", "no_log": False}
    assert "options" not in spec["strategy"]


@pytest.mark.parametrize("item,expected", [
    ("x", "listeners[0]: 'x' is not a mapping"),
    ({**SEED, "port": "eighty"}, "listeners[0].port: 'eighty' is not of type int"),
    ({**SEED, "prot": 1}, "listeners[0].prot: unknown option"),
    ({**SEED, "name": ["a"]}, "listeners[0].name: ['a'] is not a string"),
    ({**SEED, "state": "gone"}, "listeners[0].state: 'gone' is not one of present, absent"),
    ({**SEED, "labels": "nope"}, "listeners[0].labels: 'nope' is not of type dict"),
    ({**SEED, "expose_pods_by_name": "perhaps"}, "listeners[0].expose_pods_by_name: 'perhaps' is not of type bool"),
    ({"routing_key": "a", "host": "h", "port": 1}, "listeners[0].name: required"),
])
def test_each_bad_item_is_named_by_index_and_option(item, expected):
    errors = _errors(LISTENER, KubernetesBackend, name=None, listeners=[item])
    assert any(error.startswith(expected) for error in errors), errors


def test_every_bad_item_is_reported_at_once():
    items = [SEED, {**SEED, "name": "b", "port": "x"}, 5, {**SEED, "name": "d", "hots": "h"}]
    errors = _errors(LISTENER, KubernetesBackend, name=None, listeners=items)
    assert [error.split(":")[0] for error in errors] == ["listeners[1].port", "listeners[2]", "listeners[3].hots"]


def test_good_items_are_converted_as_ansible_would():
    items = [{"name": "a", "routing_key": "k", "host": "h", "port": "8080", "expose_pods_by_name": "yes"}]
    item, = engine.validate_items(LISTENER, params(name=None, listeners=items), KubernetesBackend)
    assert item.spec == {"routingKey": "k", "host": "h", "port": 8080, "exposePodsByName": True}


@pytest.mark.parametrize("strategy,words", [
    ([1], "must be a mapping with priority or weighted"),
    ({"priority": [1]}, "priority: must be a mapping with routing_keys"),
    ({"priority": {"routing_keys": ["a"]}, "ranked": {}}, "unknown key ranked"),
    ({"priority": {"routing_keys": ["a"], "keys": 1}}, "priority: unknown key keys"),
    ({"weighted": {"routing_keys": ["a"]}}, "weighted.routing_keys"),
    ({"priority": {"routing_keys": ["a\n"]}}, "not a valid routing key"),
])
def test_strategy_of_any_shape_is_an_error_not_a_crash(strategy, words):
    items = [{"name": "m", "host": "h", "port": 1, "strategy": strategy}]
    errors = _errors(MULTIKEYLISTENER, KubernetesBackend, name=None, multikeylisteners=items)
    # In a list, Ansible's dict checker speaks first for a strategy that is not a mapping.
    item_words = "[1] is not of type dict" if strategy == [1] else words
    assert errors[0].startswith("multikeylisteners[0].strategy: ") and item_words in errors[0], errors
    single = _errors(MULTIKEYLISTENER, SystemSiteBackend, name="m", host="h", port=1, strategy=strategy)
    assert single[0].startswith("strategy: ") and words in single[0]


def test_priority_routing_keys_take_numbers_as_ansible_did():
    field = MULTIKEYLISTENER.field_by_key("strategy")
    assert field.to_api({"priority": {"routing_keys": [0, "a"]}}, KubernetesBackend) == (
        None, {"priority": {"routingKeys": ["0", "a"]}})


@pytest.mark.parametrize("rules", [KubernetesBackend, SystemSiteBackend])
@pytest.mark.parametrize("option,value", [
    ("labels", {"a b": "x"}), ("labels", {"team": "-x"}), ("labels", {"team": "x" * 64}),
    ("annotations", {"/a": "x"}), ("annotations", {"a": "x" * 262144}),
])
def test_labels_and_annotations_are_checked_on_both_back_ends(rules, option, value):
    errors = _errors(LISTENER, rules, **{**SEED, "host": "h", option: value})
    assert errors[0].startswith(option + ": ")
    items = [{**SEED, "host": "h", option: value}]
    errors = _errors(LISTENER, rules, name=None, listeners=items)
    assert errors[0].startswith("listeners[0].%s: " % option)


@pytest.mark.parametrize("rules,value,words", [
    (KubernetesBackend, "My_Certs", "Secret name"), (KubernetesBackend, "../x", "Secret name"),
    (SystemSiteBackend, "../x", "input/certs/"), (SystemSiteBackend, "/etc/ssl", "input/certs/"),
    (SystemSiteBackend, "Bad Name", "input/certs/"),
])
def test_tls_credentials_follow_the_platform(rules, value, words):
    for kind, extra in ((LISTENER, {}), (CONNECTOR, {"host": "h"}), (MULTIKEYLISTENER, {
            "strategy": {"priority": {"routing_keys": ["a"]}}})):
        given = {"name": "x", "host": "h", "port": 1, "tls_credentials": value}
        if kind is not MULTIKEYLISTENER:
            given["routing_key"] = "k"
        given.update(extra)
        errors = _errors(kind, rules, **given)
        assert errors[0].startswith("tls_credentials: ") and words in errors[0]


def test_tls_credentials_folder_names_pass_on_a_system_site():
    item, = engine.validate_items(LISTENER, params(**{**SEED, "tls_credentials": "My_Certs"}), SystemSiteBackend)
    assert item.spec["tlsCredentials"] == "My_Certs"


@pytest.mark.parametrize("value", [0, -1])
def test_wait_timeout_at_least_one_second(value):
    errors = _errors(LISTENER, KubernetesBackend, wait_timeout=value, **SEED)
    assert errors == ["wait_timeout: %d is not a whole number of at least 1 (seconds)" % value]


def test_data_home_as_given_must_be_a_string():
    """Ansible's path type turns ["dh"] into "['dh']": the raw value decides."""
    options = params(platform="linux", data_home="['dh']", **SEED)
    with pytest.raises(SkupperError, match=r"data_home: \['dh'\] is not a path"):
        engine.validate_items(LISTENER, options, SystemSiteBackend, raw={"data_home": ["dh"]})
    engine.validate_items(LISTENER, options, SystemSiteBackend, raw={"data_home": "['dh']"})


def test_raw_parameters_outside_a_module_run_are_none():
    assert engine.raw_parameters() is None


# -- partial failure ----------------------------------------------------------------------------------

class MemoryBackend(Backend):
    """A back end in memory whose writes fail from the ``fail_at``-th on (counting from 0)."""

    name = "system"

    def __init__(self, fail_at=None, error=None):
        Backend.__init__(self)
        self.store = {}
        self.fail_at = fail_at
        self.error = error or SkupperError("disk full")
        self.write_count = 0

    host_error = staticmethod(SystemSiteBackend.host_error)
    name_error = staticmethod(SystemSiteBackend.name_error)
    host_port_reason = "test"

    import contextlib

    @contextlib.contextmanager
    def locked(self, namespace):
        yield

    def check_writable(self, namespace):
        pass

    def get(self, kind, namespace, name):
        return self.store.get(name)

    def list(self, kind, namespace, label_selector=None):
        return dict(self.store)

    def _count(self):
        if self.fail_at is not None and self.write_count >= self.fail_at:
            raise self.error
        self.write_count += 1

    def create(self, kind, namespace, obj, dry_run=False):
        self._count()
        self.store[obj["metadata"]["name"]] = obj
        return obj

    replace = create

    def delete(self, kind, namespace, name, dry_run=False):
        self._count()
        self.store.pop(name, None)


def _listeners(*names):
    return [{"name": name, "routing_key": name, "host": "h-" + name, "port": 1} for name in names]


def _reconciler(backend, items, **given):
    options = params(platform="linux", name=None, listeners=items, **given)
    return engine.Reconciler(LISTENER, options, backend=backend)


def test_a_failed_write_names_what_was_applied_and_what_was_not():
    backend = MemoryBackend(fail_at=2)
    backend.store["b"] = dict(engine.desired_object(LISTENER, "default", engine.validate_items(
        LISTENER, params(platform="linux", **_listeners("b")[0]), SystemSiteBackend)[0], None))
    with pytest.raises(SkupperError) as caught:
        _reconciler(backend, _listeners("a", "b", "c", "d", "e")).run()
    error = caught.value
    assert error.msg == ("listeners: 2 of 4 changes applied: a (create), c (create); failed at d (create): disk full; "
                         "not attempted: e (create)")
    results = error.details["results"]
    assert [(r["name"], r["action"], r["changed"]) for r in results] == [
        ("a", "create", True), ("b", "none", False), ("c", "create", True), ("d", "create", False),
        ("e", "not attempted", False)]
    assert results[3]["failed"] is True and results[3]["msg"] == "disk full"
    assert results[4]["planned_action"] == "create" and results[4]["resource"] == {}
    assert results[3]["resource"] == {}, "nothing was stored for the failed item"
    assert "failed" not in results[0] and "failed" not in results[4]
    assert error.details["changed"] is True
    assert sorted(backend.store) == ["a", "b", "c"]


def test_a_failure_at_the_first_write_is_no_change():
    backend = MemoryBackend(fail_at=0)
    with pytest.raises(SkupperError) as caught:
        _reconciler(backend, _listeners("a", "b")).run()
    assert caught.value.msg == ("listeners: 0 of 2 changes applied; failed at a (create): disk full; "
                                "not attempted: b (create)")
    assert caught.value.details["changed"] is False


def test_a_failed_prune_is_named_as_one():
    backend = MemoryBackend(fail_at=1)
    for name in ("old", "older"):
        backend.store[name] = {"metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by":
                                                                     "skupperlabs.network"}}, "spec": {}}
    with pytest.raises(SkupperError) as caught:
        _reconciler(backend, _listeners("a"), exclusive=True).run()
    assert caught.value.msg == ("listeners: 1 of 3 changes applied: a (create); failed at old (delete, pruned): "
                                "disk full; not attempted: older (delete, pruned)")
    pruned = caught.value.details["pruned"]
    assert [(r["name"], r["action"], r.get("failed", False)) for r in pruned] == [
        ("old", "delete", True), ("older", "not attempted", False)]
    assert sorted(backend.store) == ["a", "old", "older"]


def test_an_os_error_is_reported_not_raised():
    backend = MemoryBackend(fail_at=1, error=OSError(28, "No space left on device", "/dh/Listener-b.yaml"))
    with pytest.raises(SkupperError) as caught:
        _reconciler(backend, _listeners("a", "b")).run()
    assert caught.value.msg == ("listeners: 1 of 2 changes applied: a (create); failed at b (create): cannot write "
                                "/dh/Listener-b.yaml: No space left on device")


def test_the_single_form_keeps_its_message_and_says_whether_it_changed():
    backend = MemoryBackend(fail_at=0)
    options = params(platform="linux", **_listeners("a")[0])
    with pytest.raises(SkupperError) as caught:
        engine.Reconciler(LISTENER, options, backend=backend).run()
    assert caught.value.msg == "disk full" and caught.value.details["changed"] is False
