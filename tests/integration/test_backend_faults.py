"""Real OS and HTTP faults under both back ends: each ends in a clear failure naming what failed, never a traceback.

System sites: a full disk (a 64 KiB tmpfs, as root), files and folders of another user (the module
run as ``nobody`` through runuser, since root passes every mode bit), links planted under
namespaces/, temp files left by killed runs. Kubernetes: a server answering HTML or non-JSON with
200, a connection lost on every try, a server that accepts and never answers.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from tests.integration.test_namespace_lock import COLLECTIONS, MODULES, module_env, parse_output, run_module

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IS_ROOT = os.geteuid() == 0
RUNUSER = shutil.which("runuser")
LISTENER = {"name": "backend", "routing_key": "backend", "host": "backend", "port": 8080}


def system_args(data_home, namespace="default", **options):
    args = {"platform": "linux", "data_home": str(data_home), "namespace": namespace}
    args.update(LISTENER)
    args.update(options)
    return args


def assert_clean_failure(answer, *expected):
    assert answer.get("failed") is True, answer
    assert "Traceback" not in answer["msg"] and "exception" not in answer, answer
    for text in expected:
        assert text in answer["msg"], (text, answer["msg"])


def temp_files(folder):
    return [os.path.join(path, name) for path, _dirs, names in os.walk(folder) for name in names
            if name.endswith(".tmp")]


# -- system sites: a full disk ---------------------------------------------------

@pytest.fixture
def tiny_disk():
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs for the full-disk case needs root")
    mount_point = tempfile.mkdtemp(prefix="skupper-full-")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount_point],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        os.rmdir(mount_point)
        pytest.skip("cannot mount a tmpfs here: %s" % mounted.stderr.strip())
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", mount_point], check=False)
        os.rmdir(mount_point)


def fill(folder):
    """Write a file until the disk is full."""
    fd = os.open(os.path.join(folder, "filler"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"x" * 1024)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_a_full_disk_fails_naming_the_file_and_leaves_it_unchanged(tiny_disk, tmp_path):
    data_home = os.path.join(tiny_disk, "skupper")
    first = run_module("listener", system_args(data_home), tmp_path)
    assert first["changed"] is True
    path = first["path"]
    before = open(path).read()
    fill(tiny_disk)
    created = run_module("listener", system_args(data_home, name="second", port=9000), tmp_path)
    assert_clean_failure(created, "Listener-second.yaml", "No space left on device", "it was not created")
    updated = run_module("listener", system_args(data_home, port=9191), tmp_path)
    assert_clean_failure(updated, path, "No space left on device", "unchanged")
    assert open(path).read() == before
    assert temp_files(data_home) == []
    assert sorted(os.listdir(os.path.dirname(path))) == ["Listener-backend.yaml"]


def test_a_full_disk_before_the_first_write_of_a_namespace_fails_clearly(tiny_disk, tmp_path):
    data_home = os.path.join(tiny_disk, "skupper")
    os.mkdir(data_home)
    fill(tiny_disk)
    # A tmpfs full of data still has inodes: the lock and folders can be made, the file cannot be written.
    answer = run_module("listener", system_args(data_home), tmp_path)
    assert_clean_failure(answer, "No space left on device")
    assert temp_files(data_home) == []


# -- system sites: files and folders of another user ------------------------------

@pytest.fixture
def as_nobody(tmp_path):
    """Runs a module as the user nobody (root passes every permission check); a world-readable work folder."""
    if not IS_ROOT or not RUNUSER:
        pytest.skip("needs root and runuser to run the module as another user (root bypasses mode bits)")
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else None
    if python is None:
        pytest.skip("no system Python another user can execute")
    site_packages = os.path.join(ROOT, ".venv", "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    work = tempfile.mkdtemp(prefix="skupper-nobody-")
    os.chmod(work, 0o755)
    probe = subprocess.run([RUNUSER, "-u", "nobody", "--", python, "-c", "import ansible, yaml"],
                           env=dict(os.environ, PYTHONPATH=site_packages), capture_output=True, text=True,
                           check=False)
    if probe.returncode != 0:
        shutil.rmtree(work)
        pytest.skip("the user nobody cannot run Ansible here: %s" % probe.stderr.strip()[-200:])

    def run(module, args):
        path = os.path.join(work, "args-%s.json" % time.monotonic_ns())
        with open(path, "w") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
        os.chmod(path, 0o644)
        env = module_env({"PYTHONPATH": COLLECTIONS + os.pathsep + site_packages, "HOME": work})
        process = subprocess.run([RUNUSER, "-u", "nobody", "--", python, "-m", MODULES + module, path],
                                 capture_output=True, text=True, env=env, timeout=120, check=False, cwd=work)
        return parse_output(process)

    run.work = work
    try:
        yield run
    finally:
        shutil.rmtree(work, ignore_errors=True)


def nobody_owns(*paths):
    import pwd
    user = pwd.getpwnam("nobody")
    for path in paths:
        os.chown(path, user.pw_uid, user.pw_gid)


def write_listener(path, port=8080):
    with open(path, "w") as handle:
        yaml.safe_dump({"apiVersion": "skupper.io/v2alpha1", "kind": "Listener",
                        "metadata": {"name": "backend", "namespace": "default"},
                        "spec": {"routingKey": "backend", "host": "backend", "port": port}}, handle)


def test_a_root_owned_file_in_a_sticky_folder_fails_naming_it(as_nobody):
    data_home = os.path.join(as_nobody.work, "skupper")
    resources = os.path.join(data_home, "namespaces", "default", "input", "resources")
    os.makedirs(resources)
    nobody_owns(data_home, os.path.join(data_home, "namespaces"), os.path.dirname(os.path.dirname(resources)),
                os.path.dirname(resources))
    os.chmod(resources, 0o1777)  # root's sticky folder: others may add files, never replace root's
    path = os.path.join(resources, "Listener-backend.yaml")
    write_listener(path)
    os.chmod(path, 0o666)
    before = open(path).read()
    answer = as_nobody("listener", system_args(data_home, port=9191))
    assert_clean_failure(answer, path, "Operation not permitted", "unchanged")
    assert open(path).read() == before
    assert temp_files(resources) == []


def test_a_read_only_resources_folder_fails_before_writing(as_nobody):
    data_home = os.path.join(as_nobody.work, "skupper")
    resources = os.path.join(data_home, "namespaces", "default", "input", "resources")
    os.makedirs(resources)
    nobody_owns(data_home)
    for check in (True, False):
        answer = as_nobody("listener", dict(system_args(data_home), _ansible_check_mode=check))
        assert_clean_failure(answer, "is not writable", resources)
    assert os.listdir(resources) == []


def test_a_root_owned_private_namespace_folder_is_a_clear_error_for_reads_and_writes(as_nobody):
    data_home = os.path.join(as_nobody.work, "skupper")
    namespace_home = os.path.join(data_home, "namespaces", "default")
    os.makedirs(os.path.join(namespace_home, "input", "resources"))
    write_listener(os.path.join(namespace_home, "input", "resources", "Listener-backend.yaml"))
    nobody_owns(data_home, os.path.join(data_home, "namespaces"))
    os.chmod(namespace_home, 0o700)
    written = as_nobody("listener", system_args(data_home, name="other", port=9000))
    assert_clean_failure(written, "cannot read namespace default", "Permission denied")
    read = as_nobody("listener_info", {"platform": "linux", "data_home": data_home, "namespace": "default"})
    assert_clean_failure(read, "cannot read namespace default", "Permission denied")


def test_an_unwritable_data_home_fails_on_the_first_write_of_a_new_namespace(as_nobody):
    data_home = os.path.join(as_nobody.work, "skupper")
    os.makedirs(data_home)  # root's, 0755
    answer = as_nobody("listener", system_args(data_home, namespace="brand-new"))
    assert_clean_failure(answer, "data home %s is not writable" % data_home)
    assert os.listdir(data_home) == []


def test_a_root_owned_lock_file_fails_the_write_not_the_read(as_nobody):
    data_home = os.path.join(as_nobody.work, "skupper")
    os.makedirs(os.path.join(data_home, "namespaces"))
    os.makedirs(os.path.join(data_home, ".skupperlabs.network.lock.d"), 0o700)
    open(os.path.join(data_home, ".skupperlabs.network.lock.d", "default.lock"), "w").close()
    nobody_owns(data_home, os.path.join(data_home, "namespaces"))
    read = as_nobody("listener_info", {"platform": "linux", "data_home": data_home})
    assert read.get("failed") is not True and read["listeners"] == [], read
    written = as_nobody("listener", system_args(data_home))
    assert_clean_failure(written, "namespace lock", "Permission denied", "not writable")
    assert os.listdir(os.path.join(data_home, "namespaces")) == []


# -- system sites: links under namespaces/ and temp files of killed runs -----------

def ready_runtime(folder):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "Listener-backend.yaml"), "w") as handle:
        yaml.safe_dump({"apiVersion": "skupper.io/v2alpha1", "kind": "Listener",
                        "metadata": {"name": "backend", "namespace": "default"},
                        "spec": {"routingKey": "backend", "host": "backend", "port": 8080},
                        "status": {"status": "Ready", "message": "OK"}}, handle)


@pytest.mark.parametrize("linked", ["runtime", "runtime/resources"])
def test_a_planted_runtime_link_is_refused_by_info_and_wait(tmp_path, linked):
    data_home = tmp_path / "data"
    assert run_module("listener", system_args(data_home), tmp_path)["changed"] is True
    planted = tmp_path / "planted"
    ready_runtime(str(planted / "resources") if linked == "runtime" else str(planted))
    link = data_home / "namespaces" / "default" / linked
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(str(planted), str(link))
    info = run_module("listener_info", {"platform": "linux", "data_home": str(data_home)}, tmp_path)
    assert_clean_failure(info, str(link), "symbolic link")
    waited = run_module("listener", system_args(data_home, wait=True, wait_timeout=3), tmp_path)
    assert_clean_failure(waited, str(link), "symbolic link")


def test_a_linked_namespaces_folder_is_refused_for_reads_and_writes(tmp_path):
    data_home = tmp_path / "data"
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "default" / "input" / "resources").mkdir(parents=True)
    data_home.mkdir()
    os.symlink(str(elsewhere), str(data_home / "namespaces"))
    written = run_module("listener", system_args(data_home), tmp_path)
    assert_clean_failure(written, str(data_home / "namespaces"), "symbolic link")
    assert os.listdir(str(elsewhere / "default" / "input" / "resources")) == []
    read = run_module("listener_info", {"platform": "linux", "data_home": str(data_home)}, tmp_path)
    assert_clean_failure(read, "symbolic link")


def test_temp_files_of_killed_runs_are_removed_at_the_next_write_and_nothing_else(tmp_path):
    data_home = tmp_path / "data"
    assert run_module("listener", system_args(data_home), tmp_path)["changed"] is True
    resources = data_home / "namespaces" / "default" / "input" / "resources"
    (resources / "sub").mkdir()
    stale = [resources / ".Listener-backend.yaml.a1b2c3d4.tmp", resources / "sub" / ".mine.yml.zz_9x8w7.tmp"]
    kept = [resources / ".Listener-backend.yaml.tmp", resources / "notes.tmp", resources / "sub" / "x.yaml.tmp",
            resources / ".other.json.a1b2c3d4.tmp", resources / ".Listener-backend.yaml.TOOLONG99.tmp"]
    for path in stale + kept:
        path.write_text("partial")
    linked_folder = tmp_path / "linked"
    linked_folder.mkdir()
    (linked_folder / ".x.yaml.abcdefgh.tmp").write_text("not ours to remove")
    os.symlink(str(linked_folder), str(resources / "link"))
    # Check mode and a run that changes nothing write nothing, the cleanup included.
    assert run_module("listener", dict(system_args(data_home, port=9), _ansible_check_mode=True),
                      tmp_path)["changed"] is True
    assert run_module("listener", system_args(data_home), tmp_path)["changed"] is False
    assert all(path.exists() for path in stale)
    assert run_module("listener", system_args(data_home, port=9191), tmp_path)["changed"] is True
    assert [path for path in stale if path.exists()] == []
    assert all(path.exists() for path in kept)
    assert (linked_folder / ".x.yaml.abcdefgh.tmp").exists()


# -- Kubernetes: servers that do not answer as the API does -------------------------

class _Answer(BaseHTTPRequestHandler):
    body = b""
    content_type = "text/html"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, *args):
        pass


def kubeconfig_for(path, server):
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": {"server": server}}],
              "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "t"}}]}
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture
def odd_server(request):
    body, content_type = request.param
    handler = type("Handler", (_Answer,), {"body": body, "content_type": content_type})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("odd_server", [
    (b"<html><body><h1>Welcome to nginx!</h1></body></html>", "text/html"),
    (b"{not json", "application/json"),
    (b'{"hello": "world"}', "application/json"),
], indirect=True, ids=["html", "not-json", "other-json"])
def test_a_server_that_does_not_speak_the_kubernetes_api_is_named(tmp_path, odd_server):
    kubeconfig = kubeconfig_for(tmp_path / "kubeconfig", odd_server)
    for module, args in (("listener", dict(LISTENER, kubeconfig=kubeconfig)),
                         ("listener_info", {"kubeconfig": kubeconfig})):
        answer = run_module(module, args, tmp_path)
        assert_clean_failure(answer, "does not speak the Kubernetes API", odd_server, "listeners.skupper.io")


def test_a_connection_lost_on_every_try_is_a_clear_error(kube_api, tmp_path):
    kube_api.create_namespace("t")
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig", namespace="t")
    kube_api.drop_next(20)
    answer = run_module("listener", dict(LISTENER, kubeconfig=str(kubeconfig)), tmp_path)
    assert_clean_failure(answer, "connection to the Kubernetes API server", "get listeners.skupper.io backend")
    # The module's own policy: the first try and one per retry delay (TRANSIENT_RETRY_DELAYS), no more.
    assert len(kube_api.requests) == 4


def test_a_hung_server_costs_one_request_timeout_not_four(tmp_path):
    """A server that accepts and never answers: one connection, one timeout, a clear message."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []

    def accept_and_hold():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    stop = threading.Event()
    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    server = "http://127.0.0.1:%d" % listener.getsockname()[1]
    kubeconfig = kubeconfig_for(tmp_path / "kubeconfig", server)
    try:
        answer = run_module("listener", dict(LISTENER, kubeconfig=kubeconfig), tmp_path,
                            env={"SKUPPERLABS_NETWORK_TEST_REQUEST_TIMEOUT": "2"})
    finally:
        stop.set()
        thread.join(5)
        for connection in accepted:
            connection.close()
        listener.close()
    assert_clean_failure(answer, "did not answer get listeners.skupper.io backend", "within 2 s", server)
    # urllib3's default Retry would have opened a new connection for each of its 3 retries.
    assert len(accepted) == 1
