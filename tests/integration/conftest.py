"""Shared fixtures of the integration tests."""

# ===========================================================================
# Kubernetes targets: the API server test double, or a real cluster.
#
#   kube_api         a started KubeApiDouble (tests/support/kube_api_double.py),
#                    stopped after the test.
#   kube_target      a KubeTarget: kubeconfig, a fresh namespace, CustomObjectsApi,
#                    CoreV1Api, and the double (None on a real cluster). When
#                    SKUPPERLABS_TEST_KUBECONFIG names a kubeconfig, the tests run
#                    against that cluster instead (it needs the Skupper CRDs; the
#                    namespace is created and deleted through the API).
#   requires_double  the KubeApiDouble of kube_target; skips the test on a real
#                    cluster. The marker @pytest.mark.requires_double does the same.
# ===========================================================================

import dataclasses
import os
import pathlib
import secrets
import string
import sys
from typing import Any, Optional

import pytest

_ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from tests.support.kube_api_double import KubeApiDouble  # noqa: E402  (needs the path above)

REAL_KUBECONFIG_ENV = "SKUPPERLABS_TEST_KUBECONFIG"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "requires_double: needs the Kubernetes API test double (fault switches, request log); "
        "skipped when the tests run against a real cluster",
    )


def pytest_runtest_setup(item):
    # Skip before any fixture touches the real cluster.
    if os.environ.get(REAL_KUBECONFIG_ENV) and (
            item.get_closest_marker("requires_double") or "requires_double" in getattr(item, "fixturenames", ())):
        pytest.skip("needs the Kubernetes API test double, not a real cluster")


@dataclasses.dataclass
class KubeTarget:
    """Where a Kubernetes test runs: the test double or a real cluster."""

    kubeconfig: str
    namespace: str
    custom: Any  # kubernetes.client.CustomObjectsApi
    core: Any  # kubernetes.client.CoreV1Api
    double: Optional[KubeApiDouble]
    api_client: Any  # kubernetes.client.ApiClient

    @property
    def is_double(self):
        return self.double is not None


def random_namespace(prefix="t-"):
    alphabet = string.ascii_lowercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _unused in range(6))


@pytest.fixture
def kube_api():
    double = KubeApiDouble().start()
    try:
        yield double
    finally:
        double.stop()


@pytest.fixture
def kube_target(request, tmp_path):
    pytest.importorskip("kubernetes")
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    namespace = random_namespace()
    real_kubeconfig = os.environ.get(REAL_KUBECONFIG_ENV)
    if real_kubeconfig:
        if request.node.get_closest_marker("requires_double"):
            pytest.skip("needs the Kubernetes API test double, not a real cluster")
        if not os.path.isfile(real_kubeconfig):
            pytest.fail("%s names %s, which is not a file" % (REAL_KUBECONFIG_ENV, real_kubeconfig))
        api_client = config.new_client_from_config(config_file=real_kubeconfig)
        custom = client.CustomObjectsApi(api_client)
        core = client.CoreV1Api(api_client)
        try:
            custom.get_api_resources("skupper.io", "v2alpha1")
        except ApiException as error:
            api_client.close()
            if error.status == 404:
                pytest.skip("the cluster named by %s has no Skupper CRDs" % REAL_KUBECONFIG_ENV)
            raise
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        try:
            yield KubeTarget(real_kubeconfig, namespace, custom, core, None, api_client)
        finally:
            try:
                core.delete_namespace(namespace)
            except ApiException as error:
                if error.status != 404:
                    raise
            finally:
                api_client.close()
    else:
        double = request.getfixturevalue("kube_api")
        double.create_namespace(namespace)
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig", namespace=namespace)
        api_client = config.new_client_from_config(config_file=kubeconfig)
        try:
            yield KubeTarget(kubeconfig, namespace, client.CustomObjectsApi(api_client),
                             client.CoreV1Api(api_client), double, api_client)
        finally:
            api_client.close()


@pytest.fixture
def requires_double(kube_target):
    if kube_target.double is None:
        pytest.skip("needs the Kubernetes API test double, not a real cluster")
    return kube_target.double

# ======================= end of the Kubernetes target section ===============
