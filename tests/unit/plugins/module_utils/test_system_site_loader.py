"""The system-site back end finds, reads and writes resources as Skupper's loader does.

Skupper's loader (internal/nonkube/common/site_state_loader.go, internal/utils/files.go) reads
every .yaml/.yml file under input/resources, subfolders and multi-document files included, never
.json, and keeps the last definition it loads of a kind and name. Runtime files are rewritten in
place (pkg/nonkube/api/site_state.go), so a reader can meet them empty or half written.
"""

import os
import threading
import time

import pytest
import yaml

from ansible_collections.skupperlabs.network.plugins.module_utils import system_site
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import SkupperError
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import CONNECTOR, LISTENER, SITE

SITE_DOC = """\
# The site, its connector and a listener, by hand
apiVersion: skupper.io/v2alpha1
kind: Site
metadata:
  name: west   # the one site
spec:
  linkAccess: default
"""
CONNECTOR_DOC = """\
---
# talks to the database
apiVersion: skupper.io/v2alpha1
kind: Connector
metadata:
  name: db
spec: {routingKey: db, host: 10.0.0.5, port: 5432}
"""
LISTENER_DOC = """\
---
apiVersion: skupper.io/v2alpha1
kind: Listener
metadata:
  name: backend
  labels: {team: a}
spec:
  routingKey: backend
  host: 0.0.0.0
  port: 8080
  # a note under the listener
"""
TRAILER = """\
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-ours
data: {a: "1"}
"""


@pytest.fixture
def backend(tmp_path):
    return system_site.SystemSiteBackend(str(tmp_path), sleep=lambda seconds: None)


def resources(backend, namespace="default"):
    return backend.resource_dir(namespace)


def put(backend, relative, text, namespace="default"):
    path = os.path.join(resources(backend, namespace), relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    return path


def read(path):
    with open(path) as handle:
        return handle.read()


def listener(name="backend", port=9090, **spec):
    body = {"routingKey": name, "host": "0.0.0.0", "port": port}
    body.update(spec)
    return {"apiVersion": "skupper.io/v2alpha1", "kind": "Listener",
            "metadata": {"name": name, "namespace": "default"}, "spec": body}


@pytest.fixture
def stuff(backend):
    """A listener declared in sub/my-stuff.yaml beside a Site and a Connector (and a core object)."""
    return put(backend, "sub/my-stuff.yaml", SITE_DOC + CONNECTOR_DOC + LISTENER_DOC + TRAILER)


# -- finding ------------------------------------------------------------------------

def test_resources_in_subfolders_and_multi_document_files_are_found(backend, stuff):
    assert backend.get(LISTENER, "default", "backend")["spec"]["port"] == 8080
    assert sorted(backend.list(CONNECTOR, "default")) == ["db"]
    assert sorted(backend.list(SITE, "default")) == ["west"]
    assert backend.list(LISTENER, "default", label_selector="team=a").keys() == {"backend"}
    assert backend.list(LISTENER, "default", label_selector="team=b") == {}
    assert backend.location(LISTENER, "default", "backend") == stuff
    assert backend.location(LISTENER, "default", "new") == os.path.join(resources(backend), "Listener-new.yaml")


def test_yml_counts_other_names_count_json_is_ignored_with_a_warning(backend):
    put(backend, "a.yml", yaml.safe_dump(listener("from-yml")))
    put(backend, "b.json", '{"apiVersion": "skupper.io/v2alpha1", "kind": "Listener", '
                           '"metadata": {"name": "from-json"}, "spec": {}}')
    put(backend, "Listener-c.yaml.txt", yaml.safe_dump(listener("from-txt")))
    put(backend, "v1.yaml", yaml.safe_dump(dict(listener("other-api"), apiVersion="skupper.io/v1")))
    assert sorted(backend.list(LISTENER, "default")) == ["from-yml"]
    assert backend.get(LISTENER, "default", "from-json") is None
    assert len(backend.warnings) == 1
    assert "b.json is ignored by Skupper" in backend.warnings[0] and "never .json" in backend.warnings[0]


def test_each_file_is_parsed_once_per_run(backend, stuff, monkeypatch):
    calls = []
    real = system_site._parse_all
    monkeypatch.setattr(system_site, "_parse_all", lambda text: calls.append(1) or real(text))
    backend.get(LISTENER, "default", "backend")
    backend.list(LISTENER, "default")
    backend.list(SITE, "default")
    backend.location(LISTENER, "default", "backend")
    assert len(calls) == 1


def test_a_linked_folder_is_not_entered_a_linked_yaml_file_is_refused(backend, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.yaml").write_text(yaml.safe_dump(listener("linked")))
    put(backend, "Listener-real.yaml", yaml.safe_dump(listener("real")))
    # DirectoryReader does not enter a linked folder (internal/utils/files.go): neither do we.
    os.symlink(str(elsewhere), os.path.join(resources(backend), "folder"))
    assert sorted(backend.list(LISTENER, "default")) == ["real"]
    # The loader opens a linked .yaml file (os.Open follows it): refused, never read through.
    os.symlink(str(elsewhere / "x.yaml"), os.path.join(resources(backend), "link.yaml"))
    fresh = system_site.SystemSiteBackend(backend.data_home)
    with pytest.raises(SkupperError, match="link.yaml: it is a symbolic link, which Skupper's loader follows"):
        fresh.list(LISTENER, "default")


def test_files_come_in_directory_order_depth_first(backend):
    """The order DirectoryReader returns (directory order, subfolders where met), hence the winner."""
    for name in ("one.yaml", "two.yaml", "three.yaml"):
        put(backend, name, yaml.safe_dump(listener("twin", port=len(name))))
    put(backend, "deep/four.yaml", yaml.safe_dump(listener("twin", port=4)))
    order = []

    def walk(folder):
        for entry in os.listdir(folder):
            path = os.path.join(folder, entry)
            if os.path.isdir(path):
                walk(path)
            else:
                order.append(path)
    walk(resources(backend))
    last = yaml.safe_load(read(order[-1]))["spec"]["port"]
    assert backend.get(LISTENER, "default", "twin")["spec"]["port"] == last
    assert backend.location(LISTENER, "default", "twin") == order[-1]


# -- duplicates ----------------------------------------------------------------------

def test_a_duplicate_is_reported_on_read_and_refused_on_write(backend, stuff):
    other = put(backend, "Listener-backend.yaml", yaml.safe_dump(listener("backend", port=1)))
    before = (read(stuff), read(other))
    found = backend.get(LISTENER, "default", "backend")
    assert found is not None
    warning, = backend.warnings
    assert "Listener backend is declared more than once" in warning
    assert "input/resources/sub/my-stuff.yaml (document 3)" in warning
    assert "input/resources/Listener-backend.yaml (document 1)" in warning
    for write in (lambda: backend.replace(LISTENER, "default", listener()),
                  lambda: backend.delete(LISTENER, "default", "backend"),
                  lambda: backend.create(LISTENER, "default", listener())):
        with pytest.raises(SkupperError) as caught:
            write()
        assert "sub/my-stuff.yaml" in caught.value.msg and "Listener-backend.yaml" in caught.value.msg
        assert "Remove one of them" in caught.value.msg and "nothing was written" in caught.value.msg
    assert (read(stuff), read(other)) == before


def test_a_duplicate_within_one_file_is_named_too(backend):
    path = put(backend, "both.yaml", yaml.safe_dump(listener(port=1)) + "---\n" + yaml.safe_dump(listener(port=2)))
    assert backend.get(LISTENER, "default", "backend")["spec"]["port"] == 2
    assert "both.yaml (document 1) and input/resources/both.yaml (document 2)" in backend.warnings[0]
    with pytest.raises(SkupperError, match="declared more than once"):
        backend.replace(LISTENER, "default", listener(port=3))
    assert yaml.safe_load_all(read(path)) is not None and read(path).count("port: ") == 2


def test_two_sites_are_reported_as_skupper_refuses_them(backend, stuff):
    put(backend, "Site-west.yaml", SITE_DOC)
    backend.list(SITE, "default")
    assert "multiple sites found" in backend.warnings[0]


# -- writing in place ------------------------------------------------------------------

def test_replace_changes_only_its_document(backend, stuff):
    original = read(stuff)
    os.chmod(stuff, 0o600)
    obj = backend.get(LISTENER, "default", "backend")
    obj["spec"]["port"] = 9999
    backend.replace(LISTENER, "default", obj)
    text = read(stuff)
    assert text.startswith(SITE_DOC + CONNECTOR_DOC + "---\n")
    assert text.endswith("  # a note under the listener\n" + TRAILER)
    documents = list(yaml.safe_load_all(text))
    assert documents[2]["spec"]["port"] == 9999 and documents[2]["metadata"]["labels"] == {"team": "a"}
    assert documents[0:2] == list(yaml.safe_load_all(original))[0:2]
    assert oct(os.stat(stuff).st_mode & 0o777) == oct(0o600)
    assert sorted(os.listdir(os.path.dirname(stuff))) == ["my-stuff.yaml"], "a temp file was left behind"
    assert not os.path.exists(backend.default_path(LISTENER, "default", "backend"))
    assert backend.get(LISTENER, "default", "backend")["spec"]["port"] == 9999


def test_replace_of_the_first_document_keeps_the_rest(backend, stuff):
    site = backend.get(SITE, "default", "west")
    site["spec"] = {"linkAccess": "none"}
    backend.replace(SITE, "default", site)
    text = read(stuff)
    assert text.endswith(CONNECTOR_DOC + LISTENER_DOC + TRAILER)
    assert next(yaml.safe_load_all(text))["spec"] == {"linkAccess": "none"}


def test_delete_removes_only_its_document_and_the_last_one_takes_the_file(backend, stuff):
    backend.delete(LISTENER, "default", "backend")
    assert read(stuff) == SITE_DOC + CONNECTOR_DOC + TRAILER
    assert backend.get(LISTENER, "default", "backend") is None
    assert backend.location(LISTENER, "default", "backend") == stuff, "the result names the file it was removed from"
    backend.delete(SITE, "default", "west")
    assert read(stuff) == "# The site, its connector and a listener, by hand\n" + CONNECTOR_DOC + TRAILER
    backend.delete(CONNECTOR, "default", "db")
    assert read(stuff).startswith("# The site") and read(stuff).endswith(TRAILER), "the ConfigMap is not ours"
    single = put(backend, "Listener-solo.yaml", yaml.safe_dump(listener("solo")))
    backend.delete(LISTENER, "default", "solo")
    assert not os.path.exists(single)
    assert backend.delete(LISTENER, "default", "solo") == single, "already gone is not an error"


def test_create_writes_the_clis_name_and_never_over_other_resources(backend, stuff):
    backend.create(LISTENER, "default", listener("fresh"))
    path = os.path.join(resources(backend), "Listener-fresh.yaml")
    assert yaml.safe_load(read(path))["metadata"]["name"] == "fresh"
    squatter = put(backend, "Listener-taken.yaml", yaml.safe_dump(dict(listener("someone-else"))))
    with pytest.raises(SkupperError) as caught:
        backend.create(LISTENER, "default", listener("taken"))
    assert squatter in caught.value.msg and "Listener someone-else" in caught.value.msg
    assert yaml.safe_load(read(squatter))["metadata"]["name"] == "someone-else"
    with pytest.raises(SkupperError, match="already declared in .*my-stuff.yaml"):
        backend.create(LISTENER, "default", listener("backend"))


def test_a_file_that_cannot_be_split_is_refused_clearly(backend):
    path = put(backend, "directives.yaml", "%YAML 1.1\n---\n" + yaml.safe_dump(listener("a")) +
               "---\n" + yaml.safe_dump(listener("b", port=2)))
    before = read(path)
    with pytest.raises(SkupperError) as caught:
        backend.replace(LISTENER, "default", listener("a", port=7))
    assert "cannot update Listener a in %s" % path in caught.value.msg and "directives" in caught.value.msg
    assert "Move it to a file of its own" in caught.value.msg
    with pytest.raises(SkupperError, match="cannot remove Listener b from"):
        backend.delete(LISTENER, "default", "b")
    assert read(path) == before


def test_a_file_changed_by_someone_else_is_read_again(backend, stuff):
    from ansible_collections.skupperlabs.network.plugins.module_utils.errors import ConflictError
    backend.get(LISTENER, "default", "backend")
    with open(stuff, "a") as handle:
        handle.write("# edited meanwhile\n")
    with pytest.raises(ConflictError):
        backend.replace(LISTENER, "default", listener())
    assert read(stuff).endswith("# edited meanwhile\n")


@pytest.mark.parametrize("text", [
    "a: 1\n---\nb: |\n  x\n  # not a comment\n---\nc: 3\n",
    "# head\n---\na: 1\n...\n# between\n---\nb: 2",
    "--- {a: 1}\n--- # two\nb: 2\r\n",
    "\ufeffa: 1\n---\nb: 2\n",
])
def test_splitting_keeps_every_byte(text):
    preamble, parts, documents = system_site.split_documents(text)
    assert preamble + "".join(part.text for part in parts) == text
    assert len(parts) == len(documents)
    for index in range(len(documents)):
        replaced = system_site.replaced_text(text, index, {"new": index})
        assert list(yaml.safe_load_all(replaced))[index] == {"new": index}
        others = [doc for position, doc in enumerate(yaml.safe_load_all(replaced)) if position != index]
        assert others == [doc for position, doc in enumerate(documents) if position != index]


def test_a_block_scalar_line_that_looks_like_a_comment_stays_in_its_document():
    text = "a: 1\n---\nscript: |\n  echo hi\n  # done\n---\nc: 3\n"
    removed = system_site.removed_text(text, 1)
    assert removed == "a: 1\n---\nc: 3\n"
    replaced = system_site.replaced_text(text, 0, {"a": 2})
    assert replaced == "a: 2\n---\nscript: |\n  echo hi\n  # done\n---\nc: 3\n"


# -- the running site ------------------------------------------------------------------

def runtime_path(backend, name="backend"):
    return os.path.join(backend.runtime_dir("default"), "Listener-%s.yaml" % name)


def write_runtime(backend, text, name="backend"):
    os.makedirs(backend.runtime_dir("default"), exist_ok=True)
    with open(runtime_path(backend, name), "w") as handle:
        handle.write(text)


def running_listener(status="Ready", **spec):
    obj = listener(port=8080)
    obj["spec"].update(spec)
    obj["status"] = {"status": status, "message": "as reported"}
    return obj


@pytest.mark.parametrize("broken", ["", "apiVersion: skupper.io/v2alpha1\nkind: Listener\nmetadata:\n  na",
                                    "apiVersion: skupper.io/v2alpha1\nkind: Listener\nspec: {port: 80"])
def test_an_empty_or_half_written_runtime_file_is_being_rewritten_not_an_error(backend, broken):
    write_runtime(backend, broken)
    sleeps = []
    backend._sleep = sleeps.append
    obj = backend.read_status(LISTENER, "default", "backend", listener(port=8080)["spec"])
    assert obj["status"]["status"] == "Pending"
    assert "being rewritten" in obj["status"]["message"]
    assert "runtime/resources/Listener-backend.yaml" in obj["status"]["message"]
    assert sleeps == [system_site.RUNTIME_RETRY_SECONDS] * (system_site.RUNTIME_READ_ATTEMPTS - 1)
    with pytest.raises(SkupperError, match="stayed empty or incomplete"):
        backend.running(LISTENER, "default", "backend")


def test_a_rewrite_that_completes_during_the_retries_is_read(tmp_path):
    backend = system_site.SystemSiteBackend(str(tmp_path))  # real sleeps
    write_runtime(backend, "")

    def finish():
        time.sleep(0.25)
        write_runtime(backend, yaml.safe_dump(running_listener()))
    thread = threading.Thread(target=finish)
    thread.start()
    obj = backend.read_status(LISTENER, "default", "backend", listener(port=8080)["spec"])
    thread.join()
    assert obj["status"] == {"status": "Ready", "message": "as reported"}


def test_omitted_zero_values_are_not_reload_pending(backend):
    write_runtime(backend, yaml.safe_dump(running_listener()))
    desired = listener(port=8080, settings={}, exposePodsByName=False, type="tcp")["spec"]
    assert backend.read_status(LISTENER, "default", "backend", desired)["status"]["status"] == "Ready"
    moved = listener(port=8081)["spec"]
    pending = backend.read_status(LISTENER, "default", "backend", moved)["status"]
    assert pending["status"] == "Pending" and pending["message"].startswith("reload pending")


def test_an_error_status_comes_through_unchanged(backend):
    error = running_listener(status="Error")
    error["status"]["message"] = "Listener x with host 0.0.0.0 and port 8080 already exists"
    write_runtime(backend, yaml.safe_dump(error))
    assert backend.read_status(LISTENER, "default", "backend", listener(port=8080)["spec"])["status"] == \
        error["status"]
    assert backend.running(LISTENER, "default", "backend") == error
    assert backend.running(LISTENER, "default", "nothing") is None
