"""Status you can trust: listeners and multi-key listeners whose status follows the connectors.

Each test runs on both back ends with Skupper's part played by a test double: on
Kubernetes the API double's controller; on a system site the system controller double,
reloading the site after every change (as ``skupper system reload``, or a controller
installed with ``--reload-type auto``, would). A real cluster's Skupper controller needs
real pods for connectors, so these tests need the doubles.
"""

import threading

import pytest

from tests.support import system_controller
from tests.support.playbook import merged


SITE = "skupperlabs.network.site"
LISTENER = "skupperlabs.network.listener"
CONNECTOR = "skupperlabs.network.connector"
MKL = "skupperlabs.network.multikeylistener"
LISTENER_INFO = "skupperlabs.network.listener_info"
MKL_INFO = "skupperlabs.network.multikeylistener_info"

BACKEND = {"name": "backend", "routing_key": "backend", "host": "backend", "port": 8080}


class RunningSite:
    """The Skupper controller of one site, played by a double; ``settle()`` waits until it has caught up."""

    def __init__(self, site):
        self.site = site
        self._stop = threading.Event()
        self._thread = None

    def start(self, runner):
        result = runner.run(self.task(SITE, name="west", link_access="default"))[0]
        assert result["changed"], result.get("msg")
        if self.site.platform == "kubernetes":
            self.site.double.controller_enabled = True
            self.site.double.run_controller()
        else:
            system_controller.start_site(self.site.data_home, self.site.namespace, platform="linux")
            self._thread = threading.Thread(target=self._auto_reload, daemon=True)
            self._thread.start()
        return self

    def _auto_reload(self):
        """As a system controller installed with --reload-type auto: reload on every input change."""
        seen = None
        while not self._stop.wait(0.2):
            current = self.site.snapshot()
            current = dict((path, value) for path, value in current.items() if "/input/" in path)
            if current != seen:
                seen = current
                self.reload()

    def reload(self):
        try:
            system_controller.reload_site(self.site.data_home, self.site.namespace)
        except system_controller.SystemSiteError:
            pass  # an invalid input stays unapplied, as with the real controller

    def settle(self):
        if self.site.platform == "kubernetes":
            assert self.site.double.wait_controller_idle(10)
        else:
            self.reload()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join()

    def task(self, module, **options):
        args = dict(self.site.args)
        args.update(options)
        return {module: args}

    def workload(self):
        """How a connector finds its workload here."""
        return {"selector": "app=backend"} if self.site.platform == "kubernetes" else {"host": "127.0.0.1"}


@pytest.fixture
def running(site, runner):
    if site.platform == "kubernetes" and site.double is None:
        pytest.skip("a real Skupper controller needs real pods behind connectors")
    controller = RunningSite(site).start(runner)
    yield controller
    controller.stop()


def listener_entry(running, runner, name="backend"):
    running.settle()
    result = runner.run(running.task(LISTENER_INFO, name=name))[0]
    entry, = result["listeners"]
    return entry


def test_listener_is_ready_only_while_a_connector_exists(running, runner):
    runner.run(running.task(LISTENER, **BACKEND))
    pending = listener_entry(running, runner)
    assert pending["status"] == "Pending"
    assert pending["message"] == "No matching connectors"
    assert pending["has_matching_connector"] is False

    connector = dict(name="backend", routing_key="backend", port=8080, **running.workload())
    made, ready = runner.run(running.task(CONNECTOR, **connector),
                             running.task(LISTENER, wait=True, wait_timeout=20, **BACKEND)).results
    assert made["changed"] is True
    assert ready["failed"] is False, ready.get("msg")
    assert ready["resource"]["status"]["status"] == "Ready"
    entry = listener_entry(running, runner)
    assert (entry["status"], entry["message"], entry["has_matching_connector"]) == ("Ready", "OK", True)
    assert sorted(c["type"] for c in entry["conditions"] if c["status"] == "True") == ["Configured", "Matched", "Ready"]

    runner.run(running.task(CONNECTOR, name="backend", state="absent"))
    again = listener_entry(running, runner)
    assert (again["status"], again["message"]) == ("Pending", "No matching connectors")


def test_wait_timeout_fails_with_the_last_status(running, runner):
    result = runner.run(running.task(LISTENER, wait=True, wait_timeout=3, **BACKEND))[0]
    assert result["failed"] is True
    assert "timed out after 3s waiting for Listener" in result["msg"]
    assert "No matching connectors" in result["msg"]


def test_wait_for_configured_needs_no_connector(running, runner):
    result = runner.run(running.task(LISTENER, wait=True, wait_for="configured", wait_timeout=20, **BACKEND))[0]
    assert result["failed"] is False, result.get("msg")
    assert result["resource"]["status"]["status"] == "Pending"


def test_weighted_reachable_keys_follow_the_connectors(running, runner):
    mkl = {"name": "mkl-backend", "host": "mkl-backend", "port": 9092,
           "strategy": {"weighted": {"routing_keys": {"east-backend": 1, "west-backend": 3}}}}
    runner.run(running.task(MKL, **mkl))
    running.settle()
    entry, = runner.run(running.task(MKL_INFO))[0]["multikeylisteners"]
    assert entry["status"] == "Pending" and entry["has_destination"] is False
    assert not entry["routing_keys_reachable"]

    runner.run(running.task(CONNECTOR, name="west", routing_key="west-backend", port=1, **running.workload()))
    running.settle()
    entry, = runner.run(running.task(MKL_INFO, routing_key="west-backend"))[0]["multikeylisteners"]
    assert entry["status"] == "Ready" and entry["has_destination"] is True
    assert entry["routing_keys_reachable"] == {"west-backend": 3}

    runner.run(running.task(CONNECTOR, name="east", routing_key="east-backend", port=1, **running.workload()))
    running.settle()
    entry, = runner.run(running.task(MKL_INFO))[0]["multikeylisteners"]
    assert entry["routing_keys_reachable"] == {"east-backend": 1, "west-backend": 3}


def test_priority_reachable_keys_keep_their_order(running, runner):
    mkl = {"name": "mkl-backend-priority", "host": "mkl-backend-priority", "port": 9095,
           "strategy": {"priority": {"routing_keys": ["east-backend-http", "west-backend-http"]}}}
    connectors = [dict(name=key, routing_key=key, port=1, **running.workload())
                  for key in ("west-backend-http", "east-backend-http")]
    runner.run(running.task(CONNECTOR, connectors=connectors), running.task(MKL, **mkl))
    running.settle()
    entry, = runner.run(running.task(MKL_INFO))[0]["multikeylisteners"]
    assert entry["routing_keys_reachable"] == ["east-backend-http", "west-backend-http"]


def test_host_port_collision_is_an_error_status_on_kubernetes(kube_site, runner):
    """internal/kube/site/site.go (CheckListener): the module refuses a second listener on a taken host
    and port; one written past it (by hand) gets the controller's Error, which info reports."""
    if kube_site.double is None:
        pytest.skip("needs the API double's controller")
    controller = RunningSite(kube_site).start(runner)
    first, second = runner.run(controller.task(LISTENER, **BACKEND),
                               controller.task(LISTENER, **merged(BACKEND, name="other", routing_key="o"))).results
    assert first["changed"] is True
    assert second["failed"] is True and "already uses host backend and port 8080" in second["msg"]
    kube_site.put("Listener", "other", {"routingKey": "o", "host": "backend", "port": 8080})
    controller.settle()
    entries = runner.run(controller.task(LISTENER_INFO))[0]["listeners"]
    status = dict((entry["name"], (entry["status"], entry["message"])) for entry in entries)
    assert status["other"] == (
        "Error", "Listener backend with host backend and port 8080 already exists in namespace")
    assert status["backend"][0] != "Error"


def test_no_site_in_the_namespace_is_reported(kube_site, runner):
    if kube_site.double is None:
        pytest.skip("needs the API double's controller")
    kube_site.double.controller_enabled = True
    runner.run({LISTENER: merged(kube_site.args, **BACKEND)})
    assert kube_site.double.wait_controller_idle(10)
    entry, = runner.run({LISTENER_INFO: kube_site.args})[0]["listeners"]
    assert entry["status"] == "Error" and "site" in entry["message"].lower()


def test_status_playbook_prints_a_table_per_site(system_site, kube_site, runner, tmp_path):
    """playbooks/status.yml over an inventory of a system site and a Kubernetes site."""
    import sys

    import yaml

    from tests.support.playbook import run_playbook

    system_site.put("Listener", "backend", {"routingKey": "backend", "host": "backend", "port": 8080})
    strategy = {"priority": {"routingKeys": ["a"]}}
    kube_site.put("MultiKeyListener", "mkl", {"host": "mkl", "port": 9092, "strategy": strategy})
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {"skupper_sites": {"hosts": {
        "linux-host": merged(local, skupper_site_platform="linux", skupper_site_data_home=system_site.data_home),
        "cluster": merged(local, skupper_site_platform="kubernetes", skupper_site_namespace=kube_site.namespace,
                          skupper_site_kubeconfig=str(kube_site.args["kubeconfig"])),
    }}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    process = run_playbook(runner, "playbooks/status.yml", path, "--check")
    assert process.returncode == 0, process.stdout + process.stderr
    assert "site linux-host/default" in process.stdout
    assert "site cluster/%s" % kube_site.namespace in process.stdout
    lines = [line.strip().strip('",') for line in process.stdout.splitlines()]
    backend = next(line for line in lines if line.startswith("backend "))
    assert "Listener" in backend and "Pending" in backend and "backend (no connector)" in backend
    assert "site not initialized" in backend
    mkl = next(line for line in lines if line.startswith("mkl "))
    assert "MultiKeyListener" in mkl and "reachable: none" in mkl
    assert "changed=0" in process.stdout and "failed=0" in process.stdout
