"""The collection as users install it: the built tarball, installed into an empty collections path, run from there.

One tarball per module (scripts/build-collection, as Galaxy and Automation Hub receive it), installed
with ``ansible-galaxy collection install``; every run below sees only that installed copy
(``installed_environment``: no checkout on PYTHONPATH or ANSIBLE_COLLECTIONS_PATH, no collections
on sys.path, a working folder outside the checkout), and asserts that the files Ansible used are
under it. galaxy-importer's check of the same kind of tarball is in test_galaxy_importer.py.
"""

import glob
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest
import yaml

from tests.support.built_collection import ROOT, build_collection, install_collection, installed_environment, tool
from tests.support.playbook import PlaybookRunner

COLLECTION = "skupperlabs.network"
SEED_KEYS = ["backend", "east-backend", "east-backend-http", "west-backend", "west-backend-http"]


class Installed:
    def __init__(self, base):
        self.collections = base / "collections"
        self.home = base / "home"
        self.home.mkdir()
        self.tarball, self.build_output = build_collection(base / "dist")
        self.path = install_collection(self.tarball, self.collections, self.home)

    def env(self, **changes):
        env = installed_environment(self.collections, self.home)
        env.update(changes)
        return dict((key, value) for key, value in env.items() if value is not None)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return Installed(tmp_path_factory.mktemp("built-collection"))


def checkout_names(pattern, strip):
    return sorted(os.path.basename(path)[:-len(strip)] if strip else os.path.basename(path)
                  for path in glob.glob(os.path.join(ROOT, pattern)) if not path.endswith("__init__.py"))


def test_tarball_holds_the_collection_and_nothing_of_the_work_tree(installed):
    with tarfile.open(installed.tarball) as archive:
        members = archive.getmembers()
    files = [member.name for member in members if member.isfile()]
    print("\n%s: %d bytes, %d files" % (os.path.basename(installed.tarball), os.path.getsize(installed.tarball),
                                        len(files)))
    version = yaml.safe_load(open(os.path.join(ROOT, "galaxy.yml")))["version"]
    assert os.path.basename(installed.tarball) == "skupperlabs-network-%s.tar.gz" % version
    for needed in ("MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.md", "COPYING", "meta/runtime.yml",
                   "requirements.txt", "changelogs/changelog.yaml", "plugins/plugin_utils/fast_path.py",
                   "roles/network/README.md", "roles/site/meta/argument_specs.yml", "playbooks/quickstart.yml"):
        assert needed in files, needed
    for name in checkout_names("plugins/modules/*.py", ".py"):
        assert "plugins/modules/%s.py" % name in files and "plugins/action/%s.py" % name in files, name
    for name in checkout_names("plugins/module_utils/*.py", ""):
        assert "plugins/module_utils/%s" % name in files, name
    left_out = (".build/", ".venv/", ".quickstart/", ".ci/", ".git/", "tests/output/", "collections/", "context/")
    assert not [name for name in files if name.startswith(left_out) or "__pycache__" in name
                or ".pytest_cache" in name or name.endswith((".pyc", ".tar.gz"))]
    # Nothing that git ignores (venvs, reports, caches, outputs of any tool) is shipped.
    process = subprocess.run(["git", "-C", ROOT, "check-ignore", "--stdin"], input="\n".join(files), text=True,
                             capture_output=True, check=False)
    assert process.returncode in (0, 1), process.stderr
    assert process.stdout.split() == [], "files git ignores are in the tarball"


def test_only_the_installed_copy_is_visible(installed):
    process = subprocess.run([tool("ansible-galaxy"), "collection", "list", COLLECTION, "--format", "json"],
                             cwd=str(installed.home), env=installed.env(), capture_output=True, text=True,
                             timeout=120, check=False)
    assert process.returncode == 0, process.stderr
    version = yaml.safe_load(open(os.path.join(ROOT, "galaxy.yml")))["version"]
    assert json.loads(process.stdout) == {
        str(installed.collections / "ansible_collections"): {COLLECTION: {"version": version}}}
    manifest = json.load(open(os.path.join(installed.path, "MANIFEST.json")))
    assert manifest["collection_info"]["version"] == version
    assert not os.path.islink(installed.path) and os.path.realpath(installed.path) == installed.path


def ansible_doc(installed, plugin_type, names):
    return subprocess.run([tool("ansible-doc"), "-t", plugin_type] + ["%s.%s" % (COLLECTION, name) for name in names],
                          cwd=str(installed.home), env=installed.env(), capture_output=True, text=True, timeout=300,
                          check=False)


def listed(installed, plugin_type):
    process = subprocess.run([tool("ansible-doc"), "-t", plugin_type, "-l", COLLECTION, "--json"],
                             cwd=str(installed.home), env=installed.env(), capture_output=True, text=True,
                             timeout=300, check=False)
    assert process.returncode == 0 and "[WARNING]" not in process.stderr, process.stderr
    return sorted(name[len(COLLECTION) + 1:] for name in json.loads(process.stdout))


@pytest.mark.parametrize("plugin_type, header, pattern, suffix", [
    ("module", "MODULE", "plugins/modules/*.py", ".py"),
    ("filter", "FILTER", "plugins/filter/*.yml", ".yml"),
    ("role", "ROLE:", "roles/*/meta/argument_specs.yml", None),
])
def test_ansible_doc_renders_every_module_filter_and_role_without_warnings(installed, plugin_type, header, pattern, suffix):
    if suffix is None:
        names = sorted(path.split(os.sep)[-3] for path in glob.glob(os.path.join(ROOT, pattern)))
    else:
        names = checkout_names(pattern, suffix)
    assert names
    # Every plugin Ansible finds in the installed copy is documented, and every documented one is found.
    assert listed(installed, plugin_type) == names
    process = ansible_doc(installed, plugin_type, names)
    assert process.returncode == 0, process.stderr
    assert "[WARNING]" not in process.stderr and "[DEPRECATION WARNING]" not in process.stderr, process.stderr
    for name in names:
        found = re.search(r"^> %s \*?%s\.%s\*? \((.+)\)$" % (re.escape(header), re.escape(COLLECTION), name),
                          process.stdout, re.M)
        assert found, "no documentation of %s %s" % (plugin_type, name)
        assert found.group(1).startswith(installed.path + os.sep) or found.group(1) == installed.path, found.group(1)


def path_without_skupper(path):
    return os.pathsep.join(folder for folder in path.split(os.pathsep)
                           if folder and not os.path.exists(os.path.join(folder, "skupper")))


def test_quickstart_runs_from_the_installed_copy(installed, tmp_path):
    """The README's quickstart as a user of the installed collection runs it: the collection's playbook by name."""
    home = tmp_path / "quickstart"
    env = installed.env(PATH=path_without_skupper(os.environ.get("PATH", "")), ANSIBLE_PYTHON_INTERPRETER=None)
    process = subprocess.run(
        [tool("ansible-playbook"), "-i", "localhost,", "%s.quickstart" % COLLECTION,
         "-e", "skupper_quickstart_home=%s" % home],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600, check=False)
    assert process.returncode == 0, process.stdout[-6000:] + process.stderr[-3000:]
    assert "No Skupper CLI on the PATH: the sites are declared, not started" in process.stdout

    resources = home / "data-home" / "skupper" / "namespaces" / "hello-world-west" / "input" / "resources"
    listener = yaml.safe_load((resources / "Listener-backend.yaml").read_text())
    assert listener["spec"] == {"routingKey": "backend", "host": "backend", "port": 8080}
    report = json.loads((home / "skupper-fleet-report.json").read_text())
    assert report["failed_hosts"] == [] and report["unreachable_routing_keys"] == []
    assert sorted(report["routing_keys"]) == SEED_KEYS
    assert report["networks"] == [["east/hello-world-east", "west/hello-world-west"]]
    assert "backend                  Listener          Pending  backend (no connector)" in process.stdout
    # Nothing was written into the installed collection or the checkout.
    assert not os.path.exists(os.path.join(installed.path, ".quickstart"))


def test_kubernetes_listener_created_then_unchanged_from_the_installed_copy(installed, kube_target, tmp_path):
    """A listener on the Kubernetes API (the test double, or SKUPPERLABS_TEST_KUBECONFIG's cluster): created on the
    fast path, unchanged on the module path; -vvvv names the files Ansible loaded, all in the installed copy."""
    workdir = tmp_path / "ansible"
    workdir.mkdir()
    runner = PlaybookRunner(workdir)
    runner.env = installed.env(ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_DEPRECATION_WARNINGS="0")
    task = {"name": "Listener", "%s.listener" % COLLECTION: {
        "name": "backend", "routing_key": "backend", "host": "backend", "port": 8080,
        "namespace": kube_target.namespace, "kubeconfig": kube_target.kubeconfig}}
    loaded_from = "Loading collection %s from %s" % (COLLECTION, installed.path)

    created = runner.run(task, extra_args=["-vvvv"], env={"SKUPPERLABS_NETWORK_FAST_PATH": "1"})
    assert created[0]["changed"] is True and not created[0].get("failed"), created
    assert re.findall(r"^Loading collection %s from (.+)$" % re.escape(COLLECTION), created.stdout, re.M) == [
        installed.path], created
    assert "fast path: %s.listener runs in the controller's worker process" % COLLECTION in created.stdout, created
    assert ROOT + os.sep not in created.stdout.replace(os.path.join(ROOT, ".venv") + os.sep, ""), \
        "a file of the checkout was used"

    unchanged = runner.run(task, extra_args=["-vvv"], env={"SKUPPERLABS_NETWORK_FAST_PATH": "0"})
    assert unchanged[0]["changed"] is False and not unchanged[0].get("failed"), unchanged
    module_files = [path for path in re.findall(r"^Using module file (.+)$", unchanged.stdout, re.M)
                    if "ansible_collections" in path]
    assert module_files == [os.path.join(installed.path, "plugins", "modules", "listener.py")], unchanged

    spec = kube_target.custom.get_namespaced_custom_object(
        "skupper.io", "v2alpha1", kube_target.namespace, "listeners", "backend")["spec"]
    assert (spec["routingKey"], spec["host"], spec["port"]) == ("backend", "backend", 8080)
