"""System sites: resources wherever Skupper's loader finds them, through real ansible-playbook runs.

Skupper loads every .yaml/.yml file under input/resources, subfolders and multi-document files
included, never .json (internal/nonkube/common/site_state_loader.go, internal/utils/files.go),
and rewrites runtime files in place (pkg/nonkube/api/site_state.go, os.Create).
"""

import os
import threading
import time

import yaml

from tests.integration.test_listener import SEED, listener
from tests.support.playbook import merged

LISTENER_INFO = "skupperlabs.network.listener_info"
SITE = "skupperlabs.network.site"

SITE_DOC = """\
# my stuff: the site, a connector and a listener, by hand
apiVersion: skupper.io/v2alpha1
kind: Site
metadata:
  name: west
spec:
  linkAccess: default
"""
CONNECTOR_DOC = """\
---
# the database
apiVersion: skupper.io/v2alpha1
kind: Connector
metadata: {name: db, namespace: default}
spec: {routingKey: db, host: 10.0.0.5, port: 5432}
"""
LISTENER_DOC = """\
---
apiVersion: skupper.io/v2alpha1
kind: Listener
metadata:
  name: backend
  namespace: default
spec:
  routingKey: backend
  host: backend
  port: 8080
"""
READY = {"status": "Ready", "message": "OK", "hasMatchingConnector": True,
         "conditions": [{"type": t, "status": "True", "reason": "Ready", "message": "OK",
                         "lastTransitionTime": "2026-01-01T00:00:00Z"} for t in ("Configured", "Matched", "Ready")]}


def put(site, relative, text):
    path = os.path.join(site.resources_dir(), relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    return path


def read(path):
    with open(path) as handle:
        return handle.read()


def info(site, **options):
    return {LISTENER_INFO: merged(site.args, **options)}


def warnings_of(result):
    """The Ansible warnings of a task, as the registered result carries them."""
    return " ".join(result.get("warnings") or [])


def my_stuff(site):
    return put(site, "sub/my-stuff.yaml", SITE_DOC + CONNECTOR_DOC + LISTENER_DOC)


def test_a_listener_in_a_multi_document_file_of_a_subfolder_is_read_updated_and_deleted_in_place(
        system_site, runner):
    stuff = my_stuff(system_site)
    found, updated = runner.run(info(system_site, name="backend"),
                                listener(system_site, **merged(SEED, port=9090))).results
    assert [entry["name"] for entry in found["listeners"]] == ["backend"]
    assert found["listeners"][0]["port"] == 8080
    assert updated["failed"] is False, updated.get("msg")
    assert updated["changed"] is True and updated["action"] == "update"
    assert updated["path"] == stuff
    text = read(stuff)
    assert text.startswith(SITE_DOC + CONNECTOR_DOC + "---\n"), "another document of the file changed"
    assert list(yaml.safe_load_all(text))[2]["spec"]["port"] == 9090
    assert os.listdir(system_site.resources_dir()) == ["sub"], "a second definition was written"
    assert os.listdir(os.path.dirname(stuff)) == ["my-stuff.yaml"]

    again, removed = runner.run(listener(system_site, **merged(SEED, port=9090)),
                                listener(system_site, name="backend", state="absent")).results
    assert again["changed"] is False
    assert removed["changed"] is True and removed["path"] == stuff
    assert read(stuff) == SITE_DOC + CONNECTOR_DOC


def test_a_json_resource_is_reported_as_ignored_and_never_written(system_site, runner):
    json_path = put(system_site, "Listener-backend.json",
                    '{"apiVersion": "skupper.io/v2alpha1", "kind": "Listener", '
                    '"metadata": {"name": "backend"}, "spec": {"routingKey": "backend", "host": "backend", '
                    '"port": 8080}}\n')
    before = read(json_path)
    listed, created = runner.run(info(system_site), listener(system_site, **SEED)).results
    assert listed["failed"] is False and listed["listeners"] == [], "a .json file is not part of the site"
    assert created["changed"] is True and created["action"] == "create"
    assert created["path"] == system_site.path("Listener", "backend")  # .yaml, never .json
    assert read(json_path) == before
    for result in (listed, created):
        assert "Listener-backend.json is ignored by Skupper" in warnings_of(result)


def test_a_duplicate_definition_is_refused_naming_both_files(system_site, runner):
    system_site.put("Listener", "backend", {"routingKey": "backend", "host": "backend", "port": 8080})
    stuff = my_stuff(system_site)
    before = system_site.snapshot()
    updated, removed, listed = runner.run(listener(system_site, **merged(SEED, port=9090)),
                                          listener(system_site, name="backend", state="absent"),
                                          info(system_site, name="backend")).results
    for result in (updated, removed):
        assert result["failed"] is True
        assert "input/resources/Listener-backend.yaml" in result["msg"]
        assert "sub/my-stuff.yaml" in result["msg"] and "Remove one" in result["msg"]
    assert listed["failed"] is False and [e["name"] for e in listed["listeners"]] == ["backend"]
    assert "Listener backend is declared more than once" in warnings_of(listed)
    assert system_site.snapshot() == before
    assert os.path.exists(stuff)


def test_the_one_site_and_host_port_checks_see_every_file(system_site, runner):
    my_stuff(system_site)
    before = system_site.snapshot()
    second_site, clash = runner.run(
        {SITE: merged(system_site.args, name="east")},
        listener(system_site, **merged(SEED, name="other", routing_key="other"))).results
    assert second_site["failed"] is True and "already has the Site west" in second_site["msg"]
    assert clash["failed"] is True
    assert "host/port: Listener backend already uses host backend and port 8080" in clash["msg"]
    assert system_site.snapshot() == before


def runtime_path(site, name="backend"):
    return os.path.join(site.data_home, "namespaces", site.namespace, "runtime", "resources",
                        "Listener-%s.yaml" % name)


def write_in_place(path, text):
    """As Skupper does (os.Create): truncate, then write, in the same file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def test_an_empty_or_half_written_runtime_file_does_not_fail_info(system_site, runner):
    system_site.put("Listener", "backend", {"routingKey": "backend", "host": "backend", "port": 8080})
    system_site.put("Listener", "cache", {"routingKey": "cache", "host": "cache", "port": 6379})
    write_in_place(runtime_path(system_site, "backend"), "")
    write_in_place(runtime_path(system_site, "cache"), "apiVersion: skupper.io/v2alpha1\nkind: Listener\n"
                                                       "metadata:\n  name: cache\nspec: {port: 63")
    result = runner.run(info(system_site))[0]
    assert result["failed"] is False, result.get("msg")
    entries = dict((entry["name"], entry) for entry in result["listeners"])
    for name in ("backend", "cache"):
        assert entries[name]["status"] == "Pending"
        assert "being rewritten" in entries[name]["message"]


def test_wait_rides_out_a_runtime_file_being_rewritten(system_site, runner):
    path = runtime_path(system_site)
    write_in_place(path, "")  # Skupper has truncated the file and not written it yet

    def finish():
        deadline = time.time() + 60
        while time.time() < deadline:
            stored = system_site.read("Listener", "backend")
            if stored:
                time.sleep(0.3)
                write_in_place(path, yaml.safe_dump(merged(stored, status=READY)))
                return
            time.sleep(0.05)

    thread = threading.Thread(target=finish, daemon=True)
    thread.start()
    result = runner.run(listener(system_site, wait=True, wait_for="ready", wait_timeout=30, **SEED))[0]
    thread.join()
    assert result["failed"] is False, result.get("msg")
    assert result["resource"]["status"]["status"] == "Ready"
