"""Make the checkout importable as ansible_collections.skupperlabs.network for every test.

scripts/test sets this up too; doing it here as well lets a plain `pytest` run work.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "skupperlabs", "network")

if not os.path.lexists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    try:
        os.symlink(os.path.relpath(ROOT, os.path.dirname(LINK)), LINK)
    except FileExistsError:
        pass  # another pytest worker made it first
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


import pytest  # noqa: E402

from tests.support.playbook import PlaybookRunner  # noqa: E402
from tests.support.sites import KubeSite, SystemSite  # noqa: E402


@pytest.fixture
def runner(tmp_path):
    """Runs real ansible-playbook processes against localhost."""
    workdir = tmp_path / "ansible"
    workdir.mkdir()
    return PlaybookRunner(workdir)


@pytest.fixture
def system_site(tmp_path):
    """A Skupper system site's data home in a temporary folder (namespace ``default``)."""
    return SystemSite(tmp_path / "data-home")


@pytest.fixture
def kube_site(request):
    """A fresh namespace on the API test double, or on a real cluster (SKUPPERLABS_TEST_KUBECONFIG)."""
    return KubeSite(request.getfixturevalue("kube_target"))


@pytest.fixture(params=["kubernetes", "system"])
def site(request):
    """Each test that takes ``site`` runs on both back ends."""
    if request.param == "kubernetes":
        return request.getfixturevalue("kube_site")
    return request.getfixturevalue("system_site")
