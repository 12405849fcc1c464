"""The system-site test doubles pinned to what Skupper's source does.

Each test names, in its docstring, the file of Skupper's source
(github ``skupperproject/skupper``, tags 2.0.0 to 2.2.1 and main) that the
behaviour comes from. A double that drifts back to an earlier, wrong reading of
Skupper fails here. The doubles: ``tests/bin/skupper`` (the CLI, run in a
subprocess against a private root) and ``tests/support/system_controller.py``
(called directly).
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.support import system_controller
from tests.support.system_controller import SystemSiteError

ROOT = Path(__file__).resolve().parents[2]
SKUPPER = ROOT / "tests" / "bin" / "skupper"
API = "skupper.io/v2alpha1"


def resource(kind, name, spec=None, namespace=None, api_version=API):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
    if namespace:
        obj["metadata"]["namespace"] = namespace
    if spec is not None:
        obj["spec"] = spec
    return obj


def site(name="west", namespace=None, **spec):
    return resource("Site", name, spec, namespace)


def listener(name, key="backend", host="127.0.0.1", port=8080, namespace=None, **extra):
    return resource("Listener", name, dict({"routingKey": key, "host": host, "port": port}, **extra), namespace)


def connector(name, key="backend", host="127.0.0.1", port=8080, namespace=None, **extra):
    return resource("Connector", name, dict({"routingKey": key, "host": host, "port": port}, **extra), namespace)


def priority_mkl(name, keys, host="127.0.0.1", port=5432, namespace=None):
    return resource("MultiKeyListener", name,
                    {"host": host, "port": port, "strategy": {"priority": {"routingKeys": list(keys)}}}, namespace)


def weighted_mkl(name, weights, host="127.0.0.1", port=5432, namespace=None):
    return resource("MultiKeyListener", name,
                    {"host": host, "port": port, "strategy": {"weighted": {"routingKeys": dict(weights)}}}, namespace)


def condition(obj, ctype):
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item["type"] == ctype:
            return item
    return None


class Cli:
    """Runs the CLI double against a private root, as root or as this user."""

    def __init__(self, base):
        self.base = Path(base)
        (self.base / "root").mkdir(parents=True, exist_ok=True)
        (self.base / "home").mkdir(parents=True, exist_ok=True)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.base / "home"),
                    "LANG": "C.UTF-8", "SKUPPER_DOUBLE_ROOT": str(self.base / "root"), "SKUPPER_PLATFORM": "podman"}

    @property
    def data_home(self):
        if os.getuid() == 0:
            return self.base / "root" / "var" / "lib" / "skupper"
        return self.base / "home" / ".local" / "share" / "skupper"

    @property
    def unit_dir(self):
        if os.getuid() == 0:
            return self.base / "root" / "etc" / "systemd" / "system"
        return self.base / "home" / ".config" / "systemd" / "user"

    def ns_home(self, namespace="default"):
        return self.data_home / "namespaces" / namespace

    def input_dir(self, namespace="default"):
        return self.ns_home(namespace) / "input" / "resources"

    def run(self, *args, stdin=None, expect=0, env=None):
        run_env = dict(self.env, **(env or {}))
        result = subprocess.run([sys.executable, str(SKUPPER)] + list(args), input=stdin, capture_output=True,
                                text=True, env=run_env, cwd=str(self.base), timeout=60, check=False)
        if expect is not None:
            assert result.returncode == expect, (args, result.returncode, result.stdout, result.stderr)
        return result

    def apply(self, *objects, namespace=None, expect=0):
        args = ["system", "apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        return self.run(*args, stdin=yaml.safe_dump_all(list(objects)), expect=expect)

    def write(self, relative, objects, namespace="default"):
        """Write input the way a user (or the collection) would: any file name, one or several documents."""
        path = self.input_dir(namespace) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all(objects) if isinstance(objects, list) else objects)
        return path

    def runtime(self, kind, name, namespace="default"):
        path = self.ns_home(namespace) / "runtime" / "resources" / ("%s-%s.yaml" % (kind, name))
        return yaml.safe_load(path.read_text()) if path.exists() else None


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def write_input(data_home, relative, objects, namespace="default"):
    path = Path(system_controller.input_dir(data_home, namespace)) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(objects) if isinstance(objects, list) else objects)
    return path


# ---- 1. stop removes the whole namespace home -------------------------------------------------------------

def test_stop_removes_the_whole_namespace_home_input_included(cli):
    """internal/nonkube/bootstrap/teardown.go: Teardown removes the unit (removeService), then
    removeDefinition does os.RemoveAll of the namespace home: input/ goes too, in 2.0.0 to 2.2.1 and main."""
    cli.apply(site(), listener("backend"), namespace="east")
    extra = cli.write("hand-written.yaml", [connector("db", key="db", namespace="east")], namespace="east")
    (cli.ns_home("east") / "input" / "certs").mkdir(parents=True)
    cli.run("system", "start", "-n", "east")
    unit = cli.unit_dir / "skupper-east.service"
    assert unit.exists() and extra.exists()

    result = cli.run("system", "stop", "-n", "east")
    assert result.stdout.strip() == 'Namespace "east" has been removed'
    assert not cli.ns_home("east").exists()
    assert not unit.exists()
    assert (cli.data_home / "namespaces").is_dir()  # only the namespace's own folder goes


def test_stop_of_a_namespace_not_started_refuses_and_removes_nothing(cli):
    """internal/cmd/skupper/system/nonkube/system_stop.go ValidateInput: NamespacePlatformLoader.Load
    (internal/nonkube/common/platform.go) fails without internal/platform.yaml: exit 2, nothing removed."""
    cli.apply(site())
    result = cli.run("system", "stop", expect=2)
    assert result.stdout.startswith("failed to read platform config file for namespace default: open ")
    assert "internal/platform.yaml: no such file or directory" in result.stdout
    assert (cli.input_dir() / "Site-west.yaml").exists()


def test_stop_with_another_platform_refuses_and_keeps_everything(cli):
    """internal/cmd/skupper/system/nonkube/system_stop.go ValidateInput: "existing namespace uses %q platform
    and it cannot change to %q" (a validation error: exit 2)."""
    cli.apply(site())
    cli.run("system", "start")
    result = cli.run("system", "stop", env={"SKUPPER_PLATFORM": "docker"}, expect=2)
    assert result.stdout.strip() == 'existing namespace uses "podman" platform and it cannot change to "docker"'
    assert (cli.input_dir() / "Site-west.yaml").exists() and (cli.ns_home() / "runtime").is_dir()


def test_forced_uninstall_removes_every_namespace_home(cli):
    """internal/cmd/skupper/system/nonkube/system_uninstall.go Run: with --force every folder under
    namespaces/ goes, a running one through Teardown, any other one with os.RemoveAll."""
    cli.run("system", "install")
    cli.apply(site())
    cli.run("system", "start")
    cli.apply(site("idle"), namespace="idle")
    halted = cli.run("system", "uninstall", expect=2)
    assert "The west site is active (namespace default)" in halted.stdout  # bootstrap/uninstall.go
    assert cli.ns_home().exists() and cli.ns_home("idle").exists()
    forced = cli.run("system", "uninstall", "--force")
    assert forced.stdout.splitlines()[:3] == ['Removing active site namespace "default"',
                                              'Namespace "default" has been removed',
                                              'Namespace "idle" has been removed']
    assert list((cli.data_home / "namespaces").iterdir()) == []


def test_stop_site_function_removes_the_namespace_home(tmp_path):
    """internal/nonkube/bootstrap/teardown.go removeDefinition, played by system_controller.stop_site."""
    write_input(tmp_path, "Site-here.yaml", [site("here")])
    system_controller.start_site(tmp_path, platform="linux")
    assert system_controller.stop_site(tmp_path) is True
    assert not os.path.exists(system_controller.namespace_home(tmp_path))


# ---- 2. apply sets the namespace --------------------------------------------------------------------------

def test_apply_sets_each_namespace_to_the_n_value_and_names_files_kind_name(cli):
    """internal/nonkube/client/fs/input_parser.go ParseInput sets every resource's namespace to -n (not a
    Certificate's); custom_resource_handler.go WriteFile writes input/resources/<Kind>-<name>.yaml and prints
    "File written to"; cmd/skupper/common/utils/encode.go leaves empty values out."""
    result = cli.apply(site(namespace="elsewhere"), listener("backend", namespace="other", tlsCredentials="",
                                                             exposePodsByName=False),
                       resource("Certificate", "cert", {"ca": "x"}, namespace="other"), namespace="east")
    folder = cli.input_dir("east")
    assert sorted(p.name for p in folder.iterdir()) == ["Certificate-cert.yaml", "Listener-backend.yaml",
                                                        "Site-west.yaml"]
    assert "File written to %s" % (folder / "Listener-backend.yaml") in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1] == "Custom resources are applied."
    written = yaml.safe_load((folder / "Listener-backend.yaml").read_text())
    assert written["metadata"] == {"name": "backend", "namespace": "east"}
    assert written["spec"] == {"routingKey": "backend", "host": "127.0.0.1", "port": 8080}
    assert yaml.safe_load((folder / "Site-west.yaml").read_text())["metadata"]["namespace"] == "east"
    assert yaml.safe_load((folder / "Certificate-cert.yaml").read_text())["metadata"]["namespace"] == "other"


# ---- 3. the loader ----------------------------------------------------------------------------------------

def test_loader_reads_every_yaml_and_yml_file_in_subfolders_and_every_document(tmp_path):
    """internal/nonkube/common/site_state_loader.go (filter .yaml/.yml, LoadIntoSiteState reads every
    document) with internal/utils/files.go DirectoryReader (recursive); never .json; other apiVersions
    ignored; core v1 Secret and ConfigMap read."""
    write_input(tmp_path, "site.yml", [site()])
    write_input(tmp_path, "apps/db/all.yaml", [listener("a", port=1), connector("c"), listener("b", port=2)])
    write_input(tmp_path, "Listener-json.json", json.dumps(listener("json", port=3)))
    write_input(tmp_path, "other-api.yaml", [resource("Listener", "v1alpha", {"routingKey": "k"},
                                                      api_version="skupper.io/v1alpha1"),
                                             resource("Deployment", "app", {}, api_version="apps/v1")])
    write_input(tmp_path, "secret.yaml", [resource("Secret", "s", None, api_version="v1"),
                                          resource("ConfigMap", "cm", None, api_version="v1")])
    state, declared = system_controller.load_dir(system_controller.input_dir(tmp_path), with_files=True)
    assert sorted(state["Listener"]) == ["a", "b"]
    assert sorted(state["Connector"]) == ["c"] and sorted(state["Secret"]) == ["s"]
    assert sorted(state["ConfigMap"]) == ["cm"]
    assert declared[("Listener", "b")] == [os.path.join(system_controller.input_dir(tmp_path), "apps/db/all.yaml")]
    system_controller.start_site(tmp_path, platform="linux")
    assert system_controller.read_runtime(tmp_path, "default", "Listener", "b") is not None
    assert system_controller.read_runtime(tmp_path, "default", "Listener", "json") is None


def test_loader_duplicate_names_the_last_loaded_wins(tmp_path):
    """internal/nonkube/common/site_state_loader.go: resources kept in a map by metadata.name (the double
    loads in name order; Skupper in the file system's order)."""
    write_input(tmp_path, "Site-west.yaml", [site()])
    write_input(tmp_path, "a.yaml", [listener("web", port=1111)])
    write_input(tmp_path, "b/web.yaml", [listener("web", port=2222)])
    state, declared = system_controller.load_dir(system_controller.input_dir(tmp_path), with_files=True)
    assert state["Listener"]["web"]["spec"]["port"] == 2222
    assert [os.path.basename(p) for p in declared[("Listener", "web")]] == ["a.yaml", "web.yaml"]


def test_loader_messages(tmp_path):
    """internal/nonkube/common/site_state_loader.go: "multiple sites found ...", "no valid site definition has
    been found", "multiple namespaces found ..."; bootstrap.go: "namespace must be ..."."""
    directory = system_controller.input_dir(tmp_path)
    write_input(tmp_path, "sites.yaml", [site("one"), site("two")])
    with pytest.raises(SystemSiteError) as error:
        system_controller.load_dir(directory)
    assert str(error.value) == ('error loading "%s": multiple sites found, but only one site is allowed for '
                                "bootstrapping" % os.path.join(directory, "sites.yaml"))
    assert error.value.bootstrap_error.startswith("failed to load site state: error loading ")
    write_input(tmp_path, "sites.yaml", [listener("web")])
    with pytest.raises(SystemSiteError, match="^no valid site definition has been found$"):
        system_controller.load_dir(directory)
    write_input(tmp_path, "site.yaml", [site(namespace="east")])
    with pytest.raises(SystemSiteError, match=r"^multiple namespaces found, but only a unique namespace must be "
                                              r"used across all resources - namespaces found: \[default east\]$"):
        system_controller.load_dir(directory)
    write_input(tmp_path, "sites.yaml", [listener("web", namespace="east")])
    with pytest.raises(SystemSiteError, match='^namespace must be "default", but sources are defined using "east"$'):
        system_controller.start_site(tmp_path)
    assert not system_controller.is_started(tmp_path)


# ---- 4. validation against the running state --------------------------------------------------------------

VALIDATOR_CASES = [
    ([listener("l", host="")], "invalid listener: l - host and port are required"),
    ([listener("l", host="Bad_Host")],
     'invalid listener host: Bad_Host - a valid IP address or hostname is expected (listener: "l")'),
    ([listener("a"), listener("b", key="k2")], 'port 8080 is already mapped for host "127.0.0.1" (listener: "b")'),
    ([listener("l", key="")], "routingKey is missing for listener: l"),
    ([connector("c", port=0)], 'connector host and port are required (connector: "c")'),
    ([connector("c", key="")], "routingKey is missing for connector: c"),
    ([listener("a", port=5432), priority_mkl("m", ["k"])],
     'port 5432 is already mapped for host "127.0.0.1" (multikeylistener: "m")'),
    ([resource("MultiKeyListener", "m", {"host": "db", "port": 1, "strategy": {}})],
     "invalid multikeylistener: m - either strategy.priority or strategy.weighted is required"),
    ([resource("MultiKeyListener", "m", {"host": "db", "port": 1, "strategy": {
        "priority": {"routingKeys": ["a"]}, "weighted": {"routingKeys": {"a": 1}}}})],
     "invalid multikeylistener: m - only one of strategy.priority or strategy.weighted must be defined"),
    ([priority_mkl("m", [])], "invalid multikeylistener: m - routingKeys must not be empty"),
    ([priority_mkl("m", ["a", ""])], "invalid multikeylistener: m - routingKey must not be empty"),
    ([weighted_mkl("m", {"a": 0})], "invalid multikeylistener: m - weight value must be positive"),
    ([listener("Web")], 'invalid listener name: invalid name "Web": a lowercase RFC 1123 name must consist of '
                        "lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
                        "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
                        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
    ([resource("Link", "l", {"tlsCredentials": "s", "endpoints": []})], "unable to process links (no secrets found)"),
    ([resource("RouterAccess", "ra", {"roles": [{"name": "normal", "port": 1}]})],
     "invalid router access: ra - invalid role: normal (valid roles: [edge inter-router])"),
]


@pytest.mark.parametrize("objects, message", VALIDATOR_CASES)
def test_validator_messages_word_for_word(tmp_path, objects, message):
    """internal/nonkube/common/site_state_validator.go: each refusal, as Skupper words it; nothing is written."""
    write_input(tmp_path, "site.yaml", [site()] + objects)
    with pytest.raises(SystemSiteError) as error:
        system_controller.start_site(tmp_path)
    assert str(error.value) == message
    assert error.value.bootstrap_error == "failed to render site state: " + message
    assert not os.path.exists(os.path.join(system_controller.namespace_home(tmp_path), "runtime"))


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in Path(folder).rglob("*") if p.is_file()}


def test_strategy_type_checked_against_the_running_state_even_after_delete_and_rewrite(tmp_path):
    """internal/nonkube/common/site_state_validator.go validateMultiKeyListeners compares with currentSiteState,
    loaded from runtime/resources (LoadCurrentSiteState): deleting and rewriting the input file does not help;
    remove, reload, create, reload does. A failed reload leaves the running site as it was."""
    write_input(tmp_path, "site.yaml", [site()])
    mkl_file = write_input(tmp_path, "MultiKeyListener-db.yaml", [priority_mkl("db", ["a", "b"])])
    system_controller.start_site(tmp_path, platform="linux")
    running = snapshot(system_controller.namespace_home(tmp_path) + "/runtime")

    mkl_file.unlink()
    write_input(tmp_path, "elsewhere/db.yml", [weighted_mkl("db", {"a": 1})])
    with pytest.raises(SystemSiteError, match="^invalid multikeylistener: db - strategy cannot be changed$"):
        system_controller.reload_site(tmp_path)
    assert snapshot(system_controller.namespace_home(tmp_path) + "/runtime") == running

    moved = Path(system_controller.input_dir(tmp_path)) / "elsewhere" / "db.yml"
    kept = moved.read_text()
    moved.unlink()
    system_controller.reload_site(tmp_path)  # removed and reloaded: no longer running
    assert system_controller.read_runtime(tmp_path, "default", "MultiKeyListener", "db") is None
    moved.write_text(kept)
    system_controller.reload_site(tmp_path)
    running = system_controller.read_runtime(tmp_path, "default", "MultiKeyListener", "db")
    assert running["spec"]["strategy"] == {"weighted": {"routingKeys": {"a": 1}}}


# ---- 5. render-time status, then the system controller's --------------------------------------------------

def test_render_time_status_as_the_cli_writes_it(tmp_path):
    """pkg/nonkube/api/site_state.go bindings() (SetConfigured) and internal/nonkube/common/fs_config_renderer.go
    Render (Site SetConfigured, SetRunning Ready, SetEndpoints): what start/reload write before any controller."""
    write_input(tmp_path, "all.yaml", [site(linkAccess="default"), listener("l"), connector("c", key="other"),
                                       priority_mkl("m", ["k"])])
    system_controller.start_site(tmp_path, platform="linux", controller_running=False, now="2026-01-01T00:00:00Z")

    def read(kind, name):
        return system_controller.read_runtime(tmp_path, "default", kind, name)

    ready = {"status": "True", "reason": "Ready", "message": "OK", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    not_matched = {"status": "False", "reason": "Pending", "message": "Not Matched",
                   "lastTransitionTime": "2026-01-01T00:00:00Z"}
    for kind, name in (("Listener", "l"), ("Connector", "c")):
        status = read(kind, name)["status"]
        assert status["conditions"] == [dict(ready, type="Configured"), dict(not_matched, type="Ready")]
        assert (status["status"], status["message"]) == ("Pending", "Not Matched")
    mkl = read("MultiKeyListener", "m")["status"]
    assert mkl == {"conditions": [dict(ready, type="Configured")], "status": "Pending", "message": "Not Operational"}
    site_status = read("Site", "west")["status"]
    assert [c["type"] for c in site_status["conditions"]] == ["Configured", "Ready", "Running", "Resolved"]
    assert (site_status["status"], site_status["message"]) == ("Ready", "OK")
    assert {e["name"] for e in site_status["endpoints"]} == {"west-inter-router", "west-edge"}
    assert "defaultIssuer" not in site_status
    assert read("Site", "west")["metadata"]["uid"]  # api/site_state.go MarshalSiteState: the site id


def test_system_controller_status_from_the_network(tmp_path):
    """internal/nonkube/controller/network_status_handler.go with pkg/nonkube/api/site_state.go UpdateStatus:
    Matched from the network's listeners and connectors, hasDestination and routingKeysReachable for multi-key
    listeners (Operational only once hasDestination changed, as 2.2.1 multikeylistener_types.go)."""
    write_input(tmp_path, "all.yaml", [site(), listener("l"), priority_mkl("m", ["x", "y"]),
                                       priority_mkl("none", ["nobody"], port=5433)])
    system_controller.start_site(tmp_path, platform="linux", network_connector_keys={"backend", "y"},
                                 network_listener_keys=set())
    listener_obj = system_controller.read_runtime(tmp_path, "default", "Listener", "l")
    assert [c["type"] for c in listener_obj["status"]["conditions"]] == ["Configured", "Ready", "Matched"]
    assert (listener_obj["status"]["status"], listener_obj["status"]["hasMatchingConnector"]) == ("Ready", True)
    mkl = system_controller.read_runtime(tmp_path, "default", "MultiKeyListener", "m")["status"]
    assert mkl["strategy"] == {"priority": {"routingKeysReachable": ["y"]}} and mkl["hasDestination"] is True
    lonely = system_controller.read_runtime(tmp_path, "default", "MultiKeyListener", "none")["status"]
    assert lonely["strategy"] == {"priority": {"routingKeysReachable": []}}  # no omitempty on the list
    assert (lonely["status"], lonely["message"]) == ("Pending", "Not Operational")


# ---- 6. omitempty -----------------------------------------------------------------------------------------

def test_runtime_files_are_marshalled_with_go_omitempty(tmp_path):
    """pkg/apis/skupper/v2alpha1/types.go and multikeylistener_types.go: false, "", 0, {} and [] fields with
    omitempty are left out; routingKey/host/port (no omitempty) stay; unknown fields are dropped by the typed
    decoding; ObjectMeta's creationTimestamp is written as null; keys sorted (sigs.k8s.io/yaml)."""
    write_input(tmp_path, "all.yaml", [
        site(ha=False, edge=False, settings={}, linkAccess=""),
        listener("l", exposePodsByName=False, settings={}, tlsCredentials="", observer="", futureField="x"),
        connector("c", useClientCert=False, verifyHostname=False, includeNotReadyPods=False, selector="")])
    system_controller.start_site(tmp_path, platform="linux", controller_running=False)
    folder = Path(system_controller.runtime_dir(tmp_path))
    listener_obj = yaml.safe_load((folder / "Listener-l.yaml").read_text())
    assert listener_obj["spec"] == {"host": "127.0.0.1", "port": 8080, "routingKey": "backend"}
    assert listener_obj["metadata"] == {"creationTimestamp": None, "name": "l"}
    assert "hasMatchingConnector" not in listener_obj["status"]
    assert yaml.safe_load((folder / "Connector-c.yaml").read_text())["spec"] == {
        "host": "127.0.0.1", "port": 8080, "routingKey": "backend"}
    assert yaml.safe_load((folder / "Site-west.yaml").read_text())["spec"] == {}
    text = (folder / "Listener-l.yaml").read_text()
    assert text.startswith("apiVersion: ") and "futureField" not in text
    for condition_item in listener_obj["status"]["conditions"]:
        assert "observedGeneration" not in condition_item  # generation 0: omitempty


# ---- 7. in-place rewrites, racy on purpose ----------------------------------------------------------------

def _watch(path, stop, seen):
    while not stop.is_set():
        try:
            seen.append(Path(path).read_text())
        except FileNotFoundError:
            seen.append(None)
        time.sleep(0.01)


def test_write_in_place_truncates_and_the_racy_knob_shows_empty_and_half_files(tmp_path):
    """pkg/nonkube/api/site_state.go marshal: os.Create (truncate) then write, not atomic: same inode; the
    TEST-ONLY racy_pause widens the window so a reader meets an empty and a half-written file."""
    path = tmp_path / "Listener-l.yaml"
    system_controller.write_in_place(str(path), "old: content\n")
    inode = path.stat().st_ino
    text = yaml.safe_dump({"spec": {"routingKey": "backend", "host": "127.0.0.1", "port": 8080}})
    stop, seen = threading.Event(), []
    watcher = threading.Thread(target=_watch, args=(path, stop, seen))
    watcher.start()
    try:
        system_controller.write_in_place(str(path), text, racy_pause=0.2)
    finally:
        time.sleep(0.05)
        stop.set()
        watcher.join()
    assert path.stat().st_ino == inode and path.read_text() == text
    assert "" in seen and text[:len(text) // 2] in seen and seen[-1] == text


def test_racy_env_knob_reaches_the_cli_reload(cli):
    """The TEST-ONLY SKUPPER_DOUBLE_RACY_WRITES makes the CLI double's runtime writes racy: a reader polling
    runtime/resources during a reload meets an empty file (the system controller rewrites in place:
    internal/nonkube/controller/network_status_handler.go -> api.MarshalSiteState)."""
    cli.run("system", "install")
    cli.apply(site(), listener("l"))
    cli.run("system", "start")
    path = cli.ns_home() / "runtime" / "resources" / "Listener-l.yaml"
    stop, seen = threading.Event(), []
    watcher = threading.Thread(target=_watch, args=(path, stop, seen))
    watcher.start()
    try:
        cli.run("system", "reload", env={"SKUPPER_DOUBLE_RACY_WRITES": "0.15"})
    finally:
        stop.set()
        watcher.join()
    assert "" in seen
    assert yaml.safe_load(path.read_text())["status"]["message"] == "No matching connectors"
