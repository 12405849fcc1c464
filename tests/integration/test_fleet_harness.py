"""The fleet harness (tests/support/fleet.py): real SSH hosts on one machine.

A 10-host fleet, real ansible-playbook runs over SSH: each host answers with its
own hostname and writes into its own /var/lib/skupper; a stopped host is
reported unreachable while the others go on. Skipped where the machine cannot
run a fleet (not root, no sshd, no network namespaces), except on CI (CI=true),
where that is a failure.
"""

import os
import re
import subprocess
import sys
import time

import pytest
import yaml

from tests.support.fleet import Fleet, fleet_available, teardown_workdir
from tests.support.playbook import ansible_playbook

COUNT = 10
GROUP = "skupper_sites"


def _require_fleet():
    ok, reason = fleet_available()
    if not ok:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must be able to run the SSH fleet: %s" % reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    _require_fleet()
    started = time.monotonic()
    with Fleet(count=COUNT, workdir=tmp_path_factory.mktemp("fleet")) as fleet:
        elapsed = time.monotonic() - started
        print("\nfleet %s of %d hosts up in %.2f s on %s" % (fleet.prefix, COUNT, elapsed, fleet.network))
        yield fleet
    print("fleet torn down; total %.2f s" % (time.monotonic() - started))


@pytest.fixture(scope="module")
def playbooks(tmp_path_factory, fleet):
    workdir = tmp_path_factory.mktemp("playbooks")
    return PlaybookRuns(workdir, fleet.inventory(workdir / "hosts.yml", group=GROUP))


class PlaybookRuns:
    """Runs playbooks over SSH against the fleet's inventory; parses the recap."""

    RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

    def __init__(self, workdir, inventory):
        self.workdir = str(workdir)
        self.inventory = inventory
        self.count = 0
        self.env = dict(os.environ)
        self.env.update({
            "ANSIBLE_HOME": os.path.join(self.workdir, "ansible-home"),
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_FORKS": str(COUNT),
            "ANSIBLE_LOCAL_TEMP": os.path.join(self.workdir, "ansible-tmp"),
        })

    def run(self, tasks, marker):
        """Runs ``tasks`` on every host, then records each host's ``reported`` variable."""
        self.count += 1
        summary = os.path.join(self.workdir, "summary-%d.txt" % self.count)
        plays = [
            {"name": "Fleet", "hosts": GROUP, "gather_facts": False, "tasks": tasks},
            {"name": "Summary", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
             "tasks": [{"ansible.builtin.copy": {
                 "dest": summary,
                 "content": "{%% for name in groups['%s'] %%}{{ name }} "
                            "{{ hostvars[name].hostname_result.stdout | default('-') }}\n{%% endfor %%}" % GROUP}}]},
        ]
        path = os.path.join(self.workdir, "%s.yml" % marker)
        with open(path, "w") as handle:
            yaml.safe_dump(plays, handle, sort_keys=False)
        started = time.monotonic()
        process = subprocess.run([ansible_playbook(), "-i", self.inventory, path], env=self.env, check=False,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 universal_newlines=True, timeout=300)
        elapsed = time.monotonic() - started
        print("ansible-playbook %s: rc=%d in %.2f s" % (marker, process.returncode, elapsed))
        with open(os.path.join(self.workdir, "%s.out" % marker), "w") as handle:
            handle.write(process.stdout + process.stderr)
        recap = {name: {"ok": int(ok), "changed": int(changed), "unreachable": int(unreachable),
                        "failed": int(failed)}
                 for name, ok, changed, unreachable, failed in self.RECAP.findall(process.stdout)}
        reported = {}
        if os.path.exists(summary):
            with open(summary) as handle:
                for line in handle:
                    name, answer = line.split()
                    reported[name] = None if answer == "-" else answer
        return process, recap, reported, elapsed


def _ask_hostname():
    return {"name": "Ask the host its name", "ansible.builtin.command": "hostname",
            "register": "hostname_result", "changed_when": False}


def _copy_tasks(marker):
    """hostname, then a file copied into the data home (sftp transfer and the copy module)."""
    return [_ask_hostname(), {
        "name": "Write into the host's data home",
        "ansible.builtin.copy": {"dest": "/var/lib/skupper/%s.txt" % marker, "mode": "0644",
                                 "content": "{{ inventory_hostname }} {{ hostname_result.stdout }}\n"}}]


def _quick_tasks(marker):
    """hostname, then a file written in one module run (no transfer): cheaper than copy."""
    return [_ask_hostname(), {
        "name": "Write into the host's data home",
        "ansible.builtin.lineinfile": {"path": "/var/lib/skupper/%s.txt" % marker, "create": True, "mode": "0644",
                                       "line": "{{ inventory_hostname }} {{ hostname_result.stdout }}"}}]


def _files(fleet, marker):
    """{host name: content of <marker>.txt in its data home, or None}."""
    result = {}
    for host in fleet.hosts:
        path = os.path.join(host.data_home, "%s.txt" % marker)
        result[host.name] = open(path).read() if os.path.exists(path) else None
    return result


def test_each_host_has_its_own_hostname_and_data_home(fleet, playbooks):
    assert sorted(fleet.names, key=lambda n: int(n[1:])) == ["h%d" % i for i in range(1, COUNT + 1)]
    assert len({host.ip for host in fleet.hosts}) == COUNT
    for host in fleet.hosts:
        assert os.listdir(host.data_home) == []
    assert not os.path.exists("/var/lib/skupper/all-up.txt")

    process, recap, reported, _unused = playbooks.run(_copy_tasks("all-up"), "all-up")

    assert process.returncode == 0, process.stdout[-4000:] + process.stderr[-2000:]
    assert reported == {name: name for name in fleet.names}
    assert set(recap) == set(fleet.names) | {"localhost"}
    for name in fleet.names:
        assert recap[name] == {"ok": 2, "changed": 1, "unreachable": 0, "failed": 0}, recap[name]
    # Each file landed in its own host's data home, and nowhere else.
    assert _files(fleet, "all-up") == {name: "%s %s\n" % (name, name) for name in fleet.names}
    for host in fleet.hosts:
        assert os.listdir(host.data_home) == ["all-up.txt"]
    assert not os.path.exists("/var/lib/skupper/all-up.txt")


def test_a_stopped_host_is_unreachable_and_the_others_succeed(fleet, playbooks):
    down = "h4"
    # Stopping a host must also cut the open ControlPersist connections to it, as a real
    # host going down would. The previous test left them open (ControlPersist=60s, one
    # socket per host: ControlPath=<workdir>/cp-%h); when it did not run, open them now.
    sockets = [os.path.join(fleet.control_dir, "cp-" + host.ip) for host in fleet.hosts]
    if not all(os.path.exists(path) for path in sockets):
        process, recap, _reported, _unused = playbooks.run([_ask_hostname()], "before")
        assert process.returncode == 0, process.stdout[-4000:] + process.stderr[-2000:]
    assert all(os.path.exists(path) for path in sockets)

    fleet.stop_host(down)
    assert not fleet.is_up(down)
    try:
        process, recap, reported, _unused = playbooks.run(_quick_tasks("one-down"), "one-down")

        assert process.returncode == 4, process.stdout[-4000:] + process.stderr[-2000:]  # 4: unreachable hosts
        assert recap[down]["unreachable"] == 1 and recap[down]["ok"] == 0, recap[down]
        assert [name for name in fleet.names if recap[name]["unreachable"]] == [down]
        for name in fleet.names:
            if name != down:
                assert recap[name] == {"ok": 2, "changed": 1, "unreachable": 0, "failed": 0}, recap[name]
        assert reported == {name: (None if name == down else name) for name in fleet.names}
        assert _files(fleet, "one-down") == {
            name: (None if name == down else "%s %s\n" % (name, name)) for name in fleet.names}
    finally:
        fleet.start_host(down)

    # Back up: it answers again, with its data home as it left it.
    assert fleet.is_up(down)
    answer = fleet.ssh(down, "hostname; ls /var/lib/skupper").stdout.split()
    assert answer[0] == down
    assert "one-down.txt" not in answer[1:]


def test_teardown_leaves_nothing_behind(tmp_path):
    """close(), and teardown from the state file after a killed run, remove every name and process."""
    _require_fleet()

    def leftovers(fleet):
        netns = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, universal_newlines=True,
                               check=False).stdout
        links = subprocess.run(["ip", "-o", "link"], stdout=subprocess.PIPE, universal_newlines=True,
                               check=False).stdout
        found = [word for word in (netns + links).replace(":", " ").replace("@", " ").split()
                 if word.startswith(fleet.prefix)]
        alive = [pid for pid in pids if os.path.exists("/proc/%d" % pid)
                 and open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "Z"]
        return found, alive

    fleet = Fleet(count=2, workdir=tmp_path / "a")
    pids = [fleet._processes[name].pid for name in fleet.names]
    # The recorded PID is sshd itself (ip netns exec, unshare and sh all exec in place).
    for name, pid in zip(fleet.names, pids):
        assert open("/proc/%d/comm" % pid).read().strip() == "sshd"
        assert fleet.host(name).sshd_config in open("/proc/%d/cmdline" % pid).read().replace("\0", " ")
    fleet.close()
    fleet.close()  # twice is fine
    assert leftovers(fleet) == ([], [])

    # A run killed before it could close: fleet.json is enough to clean up.
    fleet = Fleet(count=2, workdir=tmp_path / "b")
    pids = [fleet._processes[name].pid for name in fleet.names]
    assert teardown_workdir(tmp_path / "b") == []
    assert leftovers(fleet) == ([], [])
    for process in fleet._processes.values():
        process.wait(timeout=5)
    fleet.close()
    assert not (tmp_path / "b" / "fleet.json").exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-s", "-v"]))
