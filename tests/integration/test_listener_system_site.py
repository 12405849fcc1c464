"""What only system sites have: shared host ports, files, links, and the data home."""

import os

from tests.integration.test_listener import SEED, listener
from tests.support.playbook import merged


def test_second_listener_on_the_same_host_and_port_is_refused(system_site, runner):
    runner.run(listener(system_site, **SEED))
    before = system_site.snapshot()
    result = runner.run(listener(system_site, **merged(SEED, name="other", routing_key="other")))[0]
    assert result["failed"] is True
    assert "host/port: Listener backend already uses host backend and port 8080 in namespace default" \
        in result["msg"]
    assert system_site.snapshot() == before
    # The same host on another port is fine, and so is the listener itself re-applied.
    assert runner.run(listener(system_site, **merged(SEED, name="other", port=8081)))[0]["changed"] is True
    assert runner.run(listener(system_site, **SEED))[0]["changed"] is False


def test_multikeylistener_files_count_for_host_and_port(system_site, runner):
    strategy = {"priority": {"routingKeys": ["a", "b"]}}
    system_site.put("MultiKeyListener", "mkl", {"host": "backend", "port": 8080, "strategy": strategy})
    before = system_site.snapshot()
    result = runner.run(listener(system_site, **SEED))[0]
    assert result["failed"] and "MultiKeyListener mkl already uses host backend and port 8080" in result["msg"]
    assert system_site.snapshot() == before


def test_two_items_of_one_list_on_the_same_host_and_port(system_site, runner):
    items = [SEED, merged(SEED, name="twin", routing_key="twin")]
    result = runner.run(listener(system_site, listeners=items))[0]
    assert result["failed"] and "listeners[1].host/port: Listener backend already uses" in result["msg"]
    assert system_site.names("Listener") == []


def test_moving_a_listener_frees_its_port_for_another_in_the_same_list(system_site, runner):
    runner.run(listener(system_site, **SEED))
    items = [merged(SEED, port=9000), merged(SEED, name="newcomer", routing_key="newcomer")]
    result = runner.run(listener(system_site, listeners=items))[0]
    assert result["failed"] is False, result.get("msg")
    assert system_site.read("Listener", "newcomer")["spec"]["port"] == 8080


def test_other_namespaces_are_separate_sites(system_site, runner):
    runner.run(listener(system_site, **SEED))
    result = runner.run(listener(system_site, **merged(SEED, namespace="west")))[0]
    assert result["changed"] is True
    assert result["path"].endswith("/namespaces/west/input/resources/Listener-backend.yaml")


def test_file_is_replaced_atomically_and_keeps_its_mode(system_site, runner):
    runner.run(listener(system_site, **SEED))
    path = system_site.path("Listener", "backend")
    os.chmod(path, 0o600)
    inode = os.stat(path).st_ino
    runner.run(listener(system_site, **merged(SEED, port=9999)))
    assert os.stat(path).st_ino != inode, "written in place instead of renamed over"
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600)
    leftovers = [name for name in os.listdir(system_site.resources_dir()) if name.endswith(".tmp")]
    assert leftovers == []


def test_an_existing_yml_spelling_is_updated_in_place(system_site, runner):
    system_site.put("Listener", "backend", {"routingKey": "backend", "host": "backend", "port": 1})
    yml = system_site.path("Listener", "backend")[:-len(".yaml")] + ".yml"
    os.rename(system_site.path("Listener", "backend"), yml)
    result = runner.run(listener(system_site, **SEED))[0]
    assert result["changed"] is True and result["path"] == yml
    assert os.listdir(system_site.resources_dir()) == ["Listener-backend.yml"]


def test_refuses_to_write_through_a_symlink(system_site, runner, tmp_path):
    os.makedirs(system_site.resources_dir())
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("kept: true\n")
    os.symlink(str(elsewhere), system_site.path("Listener", "backend"))
    result = runner.run(listener(system_site, **SEED))[0]
    assert result["failed"] is True and "symbolic link" in result["msg"]
    assert elsewhere.read_text() == "kept: true\n"
    assert os.path.islink(system_site.path("Listener", "backend"))


def test_refuses_a_linked_resources_folder(system_site, runner, tmp_path):
    target = tmp_path / "other-resources"
    target.mkdir()
    os.makedirs(os.path.dirname(system_site.resources_dir()))
    os.symlink(str(target), system_site.resources_dir())
    result = runner.run(listener(system_site, **SEED))[0]
    assert result["failed"] is True and "symbolic link" in result["msg"]
    assert os.listdir(str(target)) == []


def test_data_home_not_writable(system_site, runner, tmp_path):
    # A file where the data home should be a folder: no user, root included, can write there.
    blocker = tmp_path / "blocked"
    blocker.write_text("")
    site_args = merged(system_site.args, data_home=str(blocker / "skupper"))
    for check in (True, False):
        result = runner.run({"skupperlabs.network.listener": merged(site_args, **SEED)}, check=check)[0]
        assert result["failed"] is True
        assert "data home %s/skupper is not writable" % blocker in result["msg"]
    assert blocker.read_text() == ""


def test_unparseable_resource_file_is_reported(system_site, runner):
    os.makedirs(system_site.resources_dir())
    with open(system_site.path("Listener", "backend"), "w") as handle:
        handle.write("spec: [unclosed\n")
    result = runner.run(listener(system_site, **SEED))[0]
    assert result["failed"] is True and "cannot parse" in result["msg"]


def test_writes_wait_for_the_namespace_lock(system_site, runner):
    """Another writer holding the namespace's lock (flock on the namespace home) holds the module back."""
    import fcntl
    import threading
    import time

    runner.run(listener(system_site, **SEED))
    home = os.path.join(system_site.data_home, "namespaces", "default")
    holder = os.open(home, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    results = {}
    thread = threading.Thread(target=lambda: results.update(
        run=runner.run(listener(system_site, **merged(SEED, name="second", port=9000)))))
    thread.start()
    try:
        time.sleep(4)
        assert system_site.read("Listener", "second") is None, "written while another process held the lock"
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    thread.join(60)
    assert results["run"][0]["changed"] is True
    assert system_site.read("Listener", "second")["spec"]["port"] == 9000


def test_missing_pyyaml_on_the_managed_host_is_a_clear_error(runner, tmp_path):
    """The managed host's Python lacks PyYAML: Ansible's missing-library message, no traceback, nothing written."""
    import sys

    shadow = tmp_path / "shadow"
    (shadow / "yaml").mkdir(parents=True)
    (shadow / "yaml" / "__init__.py").write_text("raise ImportError('No module named yaml')\n")
    interpreter = tmp_path / "python-without-yaml"
    interpreter.write_text('#!/bin/sh\nPYTHONPATH="%s" exec "%s" "$@"\n' % (shadow, sys.executable))
    interpreter.chmod(0o755)
    data_home = tmp_path / "dh"
    task = {"skupperlabs.network.listener": merged(SEED, platform="linux", data_home=str(data_home)),
            "vars": {"ansible_python_interpreter": str(interpreter)}}
    result = runner.run(task)[0]
    assert result["failed"] is True
    assert "PyYAML" in result["msg"] and "Traceback" not in result["msg"]
    assert not data_home.exists()
