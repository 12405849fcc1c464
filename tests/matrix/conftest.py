"""The smoke of the version matrix (scripts/matrix) uses the integration tests' Kubernetes fixtures:
the API test double (or a real cluster named by SKUPPERLABS_TEST_KUBECONFIG) and its namespaces."""

# pylint: disable=unused-import
from tests.integration.conftest import (  # noqa: F401  (pytest finds fixtures and hooks by name here)
    kube_api,
    kube_target,
    pytest_configure,
    pytest_runtest_setup,
    requires_double,
)
