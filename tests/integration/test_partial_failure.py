"""A list task that fails after some of its writes says what was applied and what was not, through real
ansible-playbook runs: on Kubernetes under an API fault storm (the test double's fault switches), on a system
site with a full disk (a tiny tmpfs) and a folder that refuses writes.

What a user checks: the task failed; ``changed`` is true when something was written; ``msg`` names the
applied items, the failed one with its reason, and those not attempted; ``results`` has every item with its
``action``; the site holds exactly the applied items; a re-run once the fault is gone finishes the work.
"""

import contextlib
import os
import subprocess

import pytest

MODULES = "skupperlabs.network."
OLD_PORT, NEW_PORT = 7000, 9000


def task(module, site, **options):
    return {MODULES + module: dict(site.args, **options)}


def items(count, port=NEW_PORT):
    return [{"name": "item-%d" % index, "routing_key": "rk%d" % index, "host": "host%d" % index,
             "port": port + index} for index in range(count)]


def assert_report(result, applied, failed, not_attempted, reason_words):
    """``applied``/``failed``/``not_attempted``: (name, action) pairs in order."""
    def named(pairs):
        return ", ".join("%s (%s)" % pair for pair in pairs)
    writes = len(applied) + 1 + len(not_attempted)
    assert result["failed"] is True, result
    assert result["changed"] is bool(applied), result
    expected = "listeners: %d of %d changes applied%s; failed at %s: " % (
        len(applied), writes, (": " + named(applied)) if applied else "", named([failed]))
    assert result["msg"].startswith(expected), result["msg"]
    assert reason_words in result["msg"], result["msg"]
    if not_attempted:
        assert result["msg"].endswith("; not attempted: " + named(not_attempted)), result["msg"]
    by_name = dict((entry["name"], entry) for entry in result["results"])
    for name, action in applied:
        assert by_name[name]["action"] == action and by_name[name]["changed"] is True, by_name[name]
        assert "failed" not in by_name[name]
    entry = by_name[failed[0]]
    assert entry["action"] == failed[1] and entry["failed"] is True and entry["changed"] is False, entry
    assert reason_words in entry["msg"]
    for name, action in not_attempted:
        assert by_name[name]["action"] == "not attempted" and by_name[name]["planned_action"] == action
        assert by_name[name]["changed"] is False
    # The module's own failure, not a crash.
    assert "MODULE FAILURE" not in result["msg"] and "Traceback" not in result.get("module_stderr", ""), result


# -- Kubernetes: the API double's fault switches ---------------------------------------------------------

@pytest.fixture
def storm_site(kube_site, requires_double):
    """Ten listeners, item-5..item-9 stored with old ports, so those five are updates (PUT item-N)."""
    for index in range(5, 10):
        kube_site.put("Listener", "item-%d" % index, {"routingKey": "rk%d" % index, "host": "host%d" % index,
                                                      "port": OLD_PORT + index},
                      labels={"app.kubernetes.io/managed-by": "skupperlabs.network"})
    return kube_site


def ports(site):
    return dict((name, (site.read("Listener", name) or {}).get("spec", {}).get("port"))
                for name in ["item-%d" % index for index in range(10)])


@pytest.mark.parametrize("fault", ["unavailable", "conflict"])
def test_kubernetes_fault_storm_mid_list_is_reported(storm_site, runner, fault):
    double = storm_site.double
    # Every update of item-7 meets the storm (retries included); all else goes through.
    if fault == "unavailable":
        double.fail_next(1000, status=503, path_contains="/listeners/item-7", methods="PUT")
        reason = "HTTP 503"
    else:
        double.conflict_next(1000, methods="PUT", path_contains="/listeners/item-7")
        reason = "conflict (409)"
    run = runner.run(task("listener", storm_site, listeners=items(10)))
    assert_report(
        run[0],
        applied=[("item-%d" % i, "create") for i in range(5)] + [("item-5", "update"), ("item-6", "update")],
        failed=("item-7", "update"), not_attempted=[("item-8", "update"), ("item-9", "update")],
        reason_words=reason)
    stored = ports(storm_site)
    assert stored == dict([("item-%d" % i, NEW_PORT + i) for i in range(7)] +
                          [("item-%d" % i, OLD_PORT + i) for i in range(7, 10)])
    # The storm over, a re-run finishes the work and touches only what was left.
    double.clear_faults()
    again = runner.run(task("listener", storm_site, listeners=items(10)))[0]
    assert again.get("failed") is not True and again["changed"] is True, again
    assert [entry["action"] for entry in again["results"]] == ["none"] * 7 + ["update"] * 3
    assert ports(storm_site) == dict(("item-%d" % i, NEW_PORT + i) for i in range(10))


def test_kubernetes_first_write_failing_is_no_change(storm_site, runner):
    storm_site.double.fail_next(1000, status=503, methods="POST")
    result = runner.run(task("listener", storm_site, listeners=items(10)))[0]
    assert_report(result, applied=[], failed=("item-0", "create"),
                  not_attempted=[("item-%d" % i, "create") for i in range(1, 5)] +
                  [("item-%d" % i, "update") for i in range(5, 10)], reason_words="HTTP 503")
    assert storm_site.names("Listener") == ["item-%d" % i for i in range(5, 10)]


# -- system sites: a full disk, a folder that refuses writes -----------------------------------------------

def _root():
    return os.geteuid() == 0


@contextlib.contextmanager
def tiny_tmpfs(folder, free_pages):
    """A tmpfs on ``folder`` with ``free_pages`` pages of 4 KiB left (as root only)."""
    os.makedirs(folder, exist_ok=True)
    size = (free_pages + 1) * 4096
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % size, "tmpfs", folder],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs: %s" % mounted.stderr.strip())
    try:
        # One page taken by a filler (a dot file: Skupper's loader reads .yaml/.yml only).
        with open(os.path.join(folder, ".filler"), "wb") as handle:
            handle.write(b"x" * 4096)
        yield
    finally:
        subprocess.run(["umount", "-l", folder], check=False)


@pytest.mark.skipif(not _root(), reason="mounting a tmpfs takes root")
def test_system_site_disk_full_mid_list_is_reported(system_site, runner):
    resources = system_site.resources_dir()
    with tiny_tmpfs(resources, free_pages=2):
        before = set(os.listdir(resources))
        run = runner.run(task("listener", system_site, listeners=items(6)))
        result = run[0]
        left = sorted(set(os.listdir(resources)) - before)
        written = dict((name, system_site.read("Listener", name)) for name in system_site.names("Listener"))
    assert_report(result, applied=[("item-0", "create"), ("item-1", "create")], failed=("item-2", "create"),
                  not_attempted=[("item-%d" % i, "create") for i in range(3, 6)],
                  reason_words="No space left on device")
    # Exactly the applied items are on disk, whole; no temp file is left behind.
    assert left == ["Listener-item-0.yaml", "Listener-item-1.yaml"]
    assert [written[name]["spec"]["port"] for name in ("item-0", "item-1")] == [NEW_PORT, NEW_PORT + 1]
    assert result["results"][0]["path"] == system_site.path("Listener", "item-0")


@contextlib.contextmanager
def refusing_writes(folder):
    """``folder`` refuses new files: immutable as root (chattr +i), else read-only."""
    if _root():
        made = subprocess.run(["chattr", "+i", folder], capture_output=True, text=True, check=False)
        if made.returncode != 0:
            pytest.skip("chattr +i is not available here: %s" % made.stderr.strip())
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", folder], check=False)
    else:
        os.chmod(folder, 0o555)
        try:
            yield
        finally:
            os.chmod(folder, 0o755)


def test_system_site_permission_refused_mid_list_is_reported(system_site, runner):
    # item-2 is declared in a sub-folder of input/resources (Skupper loads them too), which then refuses writes.
    sub = os.path.join(system_site.resources_dir(), "team")
    os.makedirs(sub)
    declared = os.path.join(sub, "Listener-item-2.yaml")
    with open(declared, "w") as handle:
        handle.write("apiVersion: skupper.io/v2alpha1\nkind: Listener\nmetadata:\n  name: item-2\n"
                     "spec:\n  routingKey: rk2\n  host: host2\n  port: %d\n" % (OLD_PORT + 2))
    with refusing_writes(sub):
        result = runner.run(task("listener", system_site, listeners=items(5)))[0]
    assert_report(result, applied=[("item-0", "create"), ("item-1", "create")], failed=("item-2", "update"),
                  not_attempted=[("item-3", "create"), ("item-4", "create")],
                  reason_words="ermi" if not _root() else "not permitted")
    assert system_site.names("Listener") == ["item-0", "item-1"]
    with open(declared) as handle:
        assert "port: %d" % (OLD_PORT + 2) in handle.read()
    assert sorted(os.listdir(sub)) == ["Listener-item-2.yaml"]
    # Writable again, a re-run finishes the work.
    again = runner.run(task("listener", system_site, listeners=items(5)))[0]
    assert again.get("failed") is not True, again
    assert [entry["action"] for entry in again["results"]] == ["none", "none", "update", "create", "create"]
