"""What only the Kubernetes back end has: auth sources, API errors, conflicts and faults.

Tests that switch faults on or count requests need the API test double and are skipped
against a real cluster; the others run against both.
"""

import os

import pytest
import yaml

from tests.integration.test_listener import SEED, listener, skupper_calls
from tests.support.playbook import merged


@pytest.fixture
def double(kube_site):
    if kube_site.double is None:
        pytest.skip("needs the API test double (fault switches, request log)")
    return kube_site.double


def listener_task(**options):
    return {"skupperlabs.network.listener": options}


# -- where credentials and the namespace come from --------------------------------

def test_namespace_defaults_to_the_kubeconfig_context(kube_site, runner):
    result = runner.run(listener_task(kubeconfig=kube_site.args["kubeconfig"], **SEED))[0]
    assert result["changed"] is True and result["namespace"] == kube_site.namespace
    assert kube_site.read("Listener", "backend") is not None


def test_kubeconfig_from_the_environment(kube_site, runner):
    for port, variable in ((8081, "K8S_AUTH_KUBECONFIG"), (8082, "KUBECONFIG")):
        name = "from-" + variable.lower().replace("_", "-")
        result = runner.run(listener_task(**merged(SEED, name=name, port=port)),
                            env={variable: str(kube_site.args["kubeconfig"]), "HOME": runner.workdir})[0]
        assert result["changed"] is True, result.get("msg")
        assert kube_site.read("Listener", name) is not None


def test_unknown_context_is_named(kube_site, runner):
    result = runner.run(listener(kube_site, context="nowhere", **SEED))[0]
    assert result["failed"] and "context nowhere is not in the kubeconfig" in result["msg"]


def test_no_credentials_at_all(runner, tmp_path):
    result = runner.run(listener_task(**SEED), env={"HOME": str(tmp_path), "KUBECONFIG": ""})[0]
    assert result["failed"] and "no Kubernetes credentials found" in result["msg"]


def test_module_defaults_group_sets_kubeconfig_and_namespace(kube_site, runner):
    task = dict(listener_task(**SEED), module_defaults={"group/skupperlabs.network.skupper": dict(
        kube_site.args, namespace=kube_site.namespace)})
    result = runner.run(task)[0]
    assert result["changed"] is True, result.get("msg")
    assert kube_site.read("Listener", "backend")["spec"]["port"] == 8080


# -- errors of the API, each clear and with nothing written ----------------------

def test_missing_namespace_is_named(kube_site, runner):
    result = runner.run(listener(kube_site, **merged(SEED, namespace="no-such-namespace")))[0]
    assert result["failed"] and "namespace no-such-namespace does not exist" in result["msg"]


def test_crds_missing_says_install_the_controller(kube_site, runner, double):
    double.crds_installed = False
    result = runner.run(listener(kube_site, **SEED))[0]
    assert result["failed"] is True
    assert "install the Skupper controller first" in result["msg"]
    assert double.writes() == []


@pytest.mark.parametrize("mode,words", [(401, "unauthorized (401) to get listeners.skupper.io backend"),
                                        (403, "forbidden (403) to get listeners.skupper.io backend")])
def test_refused_credentials_name_the_verb_and_resource(kube_site, runner, double, mode, words):
    double.auth_mode = mode
    result = runner.run(listener(kube_site, **SEED))[0]
    assert result["failed"] is True and words in result["msg"]
    assert kube_site.namespace in result["msg"]
    assert double.writes() == []


def test_unreachable_api_server_names_the_url(runner, tmp_path, kube_site):
    with open(kube_site.args["kubeconfig"]) as handle:
        config = yaml.safe_load(handle)
    config["clusters"][0]["cluster"]["server"] = "http://127.0.0.1:9"
    path = tmp_path / "unreachable.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    result = runner.run(listener_task(kubeconfig=str(path), **SEED))[0]
    assert result["failed"] and "cannot reach the Kubernetes API server at http://127.0.0.1:9" in result["msg"]


# -- conflicts and transient faults -------------------------------------------------

def test_conflict_is_retried_from_a_fresh_read(kube_site, runner, double):
    runner.run(listener(kube_site, **SEED))
    double.reset_calls()
    double.conflict_next(1, methods=("PUT",))
    result = runner.run(listener(kube_site, **merged(SEED, routing_key="backend-v2")))[0]
    assert result["changed"] is True, result.get("msg")
    assert skupper_calls(double) == [("GET", None), ("PUT", None), ("GET", None), ("PUT", None)]
    assert kube_site.read("Listener", "backend")["spec"]["routingKey"] == "backend-v2"


def test_conflict_storm_fails_clearly(kube_site, runner, double):
    runner.run(listener(kube_site, **SEED))
    double.conflict_next(50, methods=("PUT",))
    result = runner.run(listener(kube_site, **merged(SEED, port=9090)))[0]
    assert result["failed"] is True and "conflict (409) on update" in result["msg"]
    assert kube_site.read("Listener", "backend")["spec"]["port"] == 8080


@pytest.mark.parametrize("status", [500, 503])
def test_transient_server_errors_are_retried(kube_site, runner, double, status):
    double.fail_next(2, status=status)
    result = runner.run(listener(kube_site, **SEED))[0]
    assert result["changed"] is True, result.get("msg")
    assert kube_site.read("Listener", "backend") is not None


def test_persistent_server_error_is_reported(kube_site, runner, double):
    double.fail_next(100, status=503)
    result = runner.run(listener(kube_site, **SEED))[0]
    assert result["failed"] is True and "HTTP 503" in result["msg"]


def test_dropped_connection_on_read_is_retried(kube_site, runner, double):
    double.drop_next(1, methods=("GET",))
    result = runner.run(listener(kube_site, **SEED))[0]
    assert result["changed"] is True, result.get("msg")


def test_lost_answer_to_a_write_does_not_duplicate_or_fail(kube_site, runner, double):
    runner.run(listener(kube_site, **SEED))
    double.drop_next(1, methods=("PUT",), after_processing=True)
    result = runner.run(listener(kube_site, **merged(SEED, port=9191)))[0]
    assert result["failed"] is False, result.get("msg")
    assert kube_site.read("Listener", "backend")["spec"]["port"] == 9191
    assert runner.run(listener(kube_site, **merged(SEED, port=9191)))[0]["changed"] is False


def test_server_refusal_is_reported_with_its_field(kube_site):
    """The API server has the last word: its own 422 body, from a real refused request, is
    turned into a message that names the verb, the resource and the field."""
    from kubernetes.client.rest import ApiException

    from ansible_collections.skupperlabs.network.plugins.module_utils.errors import SkupperError
    from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import LISTENER
    from ansible_collections.skupperlabs.network.plugins.module_utils.kubernetes_api import KubernetesBackend

    body = {"apiVersion": "skupper.io/v2alpha1", "kind": "Listener", "metadata": {"name": "bad"},
            "spec": {"routingKey": "k", "host": "h", "port": "not-a-number"}}
    with pytest.raises(ApiException) as refused:
        kube_site.target.custom.create_namespaced_custom_object(
            "skupper.io", "v2alpha1", kube_site.namespace, "listeners", body)
    assert refused.value.status == 422
    backend = KubernetesBackend(kubeconfig=str(kube_site.args["kubeconfig"]))
    error = backend._translate(refused.value, "create", LISTENER, kube_site.namespace, "bad")
    assert isinstance(error, SkupperError)
    assert "refused to create listeners.skupper.io bad in namespace %s (422 Invalid)" % kube_site.namespace \
        in error.msg
    assert "spec.port" in error.msg


def test_kubernetes_is_not_imported_for_system_sites(runner, tmp_path):
    """A system-site run must work on a host without the kubernetes client."""
    shadow = tmp_path / "shadow"
    (shadow / "kubernetes").mkdir(parents=True)
    (shadow / "kubernetes" / "__init__.py").write_text("raise ImportError('kubernetes is not installed here')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])}
    result = runner.run(listener_task(platform="linux", data_home=str(tmp_path / "dh"), **SEED), env=env)[0]
    assert result["changed"] is True, result.get("msg")
    missing = runner.run(listener_task(kubeconfig=str(tmp_path / "none"), **SEED), env=env)[0]
    assert missing["failed"] and "kubernetes" in missing["msg"] and "Traceback" not in missing["msg"]


def test_bearer_token_from_the_environment_as_awx_sets_it(kube_site, runner, double, tmp_path):
    env = {"K8S_AUTH_HOST": double.url, "K8S_AUTH_API_KEY": "awx-token", "K8S_AUTH_VERIFY_SSL": "false",
           "HOME": str(tmp_path), "KUBECONFIG": ""}
    double.reset_calls()
    result = runner.run(listener_task(namespace=kube_site.namespace, **SEED), env=env)[0]
    assert result["changed"] is True, result.get("msg")
    assert set(call.token for call in double.calls(plural="listeners")) == {"awx-token"}
    assert kube_site.read("Listener", "backend") is not None


def test_server_refusal_of_a_strategy_type_change_is_reported(kube_site, double):
    """The API server enforces the immutable strategy type itself; its refusal reads clearly too."""
    from kubernetes.client.rest import ApiException

    from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import MULTIKEYLISTENER
    from ansible_collections.skupperlabs.network.plugins.module_utils.kubernetes_api import KubernetesBackend

    custom = kube_site.target.custom
    body = {"apiVersion": "skupper.io/v2alpha1", "kind": "MultiKeyListener", "metadata": {"name": "m"},
            "spec": {"host": "m", "port": 1, "strategy": {"priority": {"routingKeys": ["a"]}}}}
    stored = custom.create_namespaced_custom_object("skupper.io", "v2alpha1", kube_site.namespace,
                                                    "multikeylisteners", body)
    stored["spec"]["strategy"] = {"weighted": {"routingKeys": {"a": 1}}}
    with pytest.raises(ApiException) as refused:
        custom.replace_namespaced_custom_object("skupper.io", "v2alpha1", kube_site.namespace,
                                                "multikeylisteners", "m", stored)
    backend = KubernetesBackend(kubeconfig=str(kube_site.args["kubeconfig"]))
    error = backend._translate(refused.value, "update", MULTIKEYLISTENER, kube_site.namespace, "m")
    assert "422 Invalid" in error.msg and "spec.strategy" in error.msg and "immutable" in error.msg
