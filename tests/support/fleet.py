"""A fleet of real SSH hosts on one machine, for tests of fleet rollouts.

Each host is an sshd in a network namespace of its own, with its own IP address
on a private bridge, its own hostname (a UTS namespace) and its own
``/var/lib/skupper`` (a bind mount in a mount namespace of its own). Everything
else - the file system, /usr/bin/python3, root's home - is the machine's.

    ok, reason = fleet_available()
    if not ok:
        pytest.skip(reason)
    with Fleet(count=10, workdir=tmp_path / "fleet") as fleet:
        inventory = fleet.inventory(tmp_path / "hosts.yml")
        ...  # ansible-playbook -i inventory ...
        fleet.data_home("h3")       # that host's /var/lib/skupper, seen from here
        fleet.stop_host("h3")       # the host goes down (its sshd and sessions die)
        fleet.start_host("h3")      # and comes back

Needs root, ``ip`` (iproute2), ``unshare``, ``/usr/sbin/sshd``, ``ssh`` and
``ssh-keygen`` (openssh-server and openssh-client); :func:`fleet_available`
says whether this machine can do it, and why not.

Every name a fleet creates starts with a unique short prefix (``sk`` and four
random characters), so parallel fleets and leftovers of a killed run never
collide. Teardown kills the processes it started by PID (and the processes
inside its own namespaces) and deletes the namespaces and links it created by
name, never by a pattern. The names and PIDs are also kept in
``<workdir>/fleet.json``, so ``tests/support/fleet-cli.py down WORKDIR`` can
clean up after a run that was killed before it could do so itself.
"""

import atexit
import dataclasses
import ipaddress
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple, Union

import yaml

SSHD = "/usr/sbin/sshd"
DATA_HOME = "/var/lib/skupper"
PYTHON = "/usr/bin/python3"
STATE_FILE = "fleet.json"
MAX_HOSTS = 244  # addresses .11 to .254

_NAME_ALPHABET = string.ascii_lowercase + string.digits


# ---------------------------------------------------------------------------
# Can this machine run a fleet?
# ---------------------------------------------------------------------------

_available = None  # type: Optional[Tuple[bool, str]]


def fleet_available() -> Tuple[bool, str]:
    """(True, "") when this machine can run a Fleet, else (False, why not).

    Checks root, the executables and that a network namespace with a bridge
    and a veth pair can be created (it creates one and deletes it again).
    The answer is cached for the process.
    """
    global _available
    if _available is None:
        _available = _check_available()
    return _available


def _check_available():
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False, "a fleet of SSH hosts needs root (network namespaces, bridges, mounts)"
    for tool, package in (("ip", "iproute2"), ("unshare", "util-linux"), ("ssh", "openssh-client"),
                          ("ssh-keygen", "openssh-client"), ("mount", "mount")):
        if not shutil.which(tool):
            return False, "no %s executable on PATH (install %s)" % (tool, package)
    if not os.access(SSHD, os.X_OK):
        return False, "no %s (install openssh-server)" % SSHD
    probe = "skp" + _random_chars(5)
    try:
        _run(["ip", "netns", "add", probe])
    except FleetError as error:
        return False, "cannot create a network namespace: %s" % error
    try:
        _run(["ip", "-n", probe, "link", "add", "br0", "type", "bridge"])
        _run(["ip", "-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1"])
        _run(["ip", "netns", "exec", probe, "unshare", "--mount", "--uts", "--propagation", "private",
              "hostname", "probe"])
    except FleetError as error:
        return False, "cannot set up a host in a network namespace: %s" % error
    finally:
        _run(["ip", "netns", "del", probe], check=False)
    return True, ""


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

class FleetError(RuntimeError):
    pass


def _random_chars(count):
    return "".join(secrets.choice(_NAME_ALPHABET) for _unused in range(count))


def _run(command, check=True, timeout=30):
    process = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout, check=False)
    if check and process.returncode != 0:
        raise FleetError("%s: exit %d: %s" % (" ".join(command), process.returncode,
                                              (process.stderr or process.stdout).strip()))
    return process


def _ip_json(*args):
    output = _run(["ip", "-j"] + list(args)).stdout.strip()
    return json.loads(output) if output else []


def _used_networks(exclude_dev=None):
    """Every IPv4 network this machine routes or has an address in (root namespace),
    but for those of the link ``exclude_dev``."""
    networks = []
    for route in _ip_json("-4", "route", "show", "table", "all"):
        dst = route.get("dst")
        if not dst or dst == "default" or (exclude_dev and route.get("dev") == exclude_dev):
            continue
        try:
            networks.append(ipaddress.ip_network(dst, strict=False))
        except ValueError:
            pass
    for link in _ip_json("-4", "addr"):
        if exclude_dev and link.get("ifname") == exclude_dev:
            continue
        for info in link.get("addr_info", ()):
            try:
                networks.append(ipaddress.ip_network("%s/%s" % (info["local"], info["prefixlen"]),
                                                     strict=False))
            except (KeyError, ValueError):
                pass
    return networks


def _free_prefix():
    """``sk`` and four random characters that no link or namespace here starts with."""
    taken = _run(["ip", "-o", "link"], check=False).stdout + _run(["ip", "netns", "list"], check=False).stdout
    while True:
        prefix = "sk" + _random_chars(4)
        if prefix not in taken:
            return prefix


def _pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _netns_pids(netns):
    """PIDs of the processes inside the named network namespace (all of them ours)."""
    process = _run(["ip", "netns", "pids", netns], check=False)
    if process.returncode != 0:
        return []
    return [int(pid) for pid in process.stdout.split() if pid.isdigit() and int(pid) != os.getpid()]


def _kill(pids, grace=3.0):
    """SIGTERM the given PIDs, then SIGKILL whatever still lives after ``grace`` seconds."""
    pids = [pid for pid in set(pids) if pid > 1 and pid != os.getpid()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_pid_alive(pid) for pid in pids):
        time.sleep(0.02)
    for pid in pids:
        if _pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _port_open(ip, port, timeout=0.5):
    """True when something at ip:port accepts TCP and speaks SSH."""
    try:
        with socket.create_connection((ip, port), timeout=timeout) as connection:
            connection.settimeout(timeout)
            return connection.recv(8).startswith(b"SSH-")
    except OSError:
        return False


# ---------------------------------------------------------------------------
# The fleet
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class FleetHost:
    """One host of a fleet: ``name`` (also its hostname and inventory name), ``ip`` and
    ``data_home`` (its /var/lib/skupper as seen from the test process)."""

    name: str
    ip: str
    data_home: str
    netns: str
    veth: str
    sshd_config: str
    sshd_log: str
    pid_file: str

    def __getitem__(self, key):  # also usable as a dict: host["ip"]
        return getattr(self, key)

    def as_dict(self):
        return dataclasses.asdict(self)


class Fleet:
    """``count`` SSH hosts named h1..hN on a private bridge; a context manager.

    ``workdir`` holds keys, sshd configs and logs, the state file and each host's
    data home (``<workdir>/hosts/<name>/skupper``). ``prefix`` (at most 8 characters)
    names the bridge ``<prefix>br``, the namespaces ``<prefix><name>`` and the
    host side of the veth pairs ``<prefix>v<N>``; by default it is ``sk`` and
    four random characters.
    """

    def __init__(self, count: int = 10, workdir: Union[str, os.PathLike, None] = None,
                 prefix: Optional[str] = None, start_timeout: float = 20.0):
        if not 1 <= count <= MAX_HOSTS:
            raise ValueError("count must be between 1 and %d" % MAX_HOSTS)
        prefix = prefix or _free_prefix()
        if len(prefix) > 8 or not prefix.isalnum():
            raise ValueError("prefix must be at most 8 letters or digits: %r" % prefix)
        self.count = count
        self.prefix = prefix
        self._own_workdir = workdir is None
        self.workdir = os.path.abspath(str(workdir) if workdir else tempfile.mkdtemp(prefix="fleet-"))
        self.bridge = prefix + "br"
        self.gateway = None  # type: Optional[str]  # the bridge's address, in the root namespace
        self.network = None  # type: Optional[ipaddress.IPv4Network]
        self.hosts = []  # type: List[FleetHost]
        self.start_timeout = start_timeout
        self.ssh_dir = os.path.join(self.workdir, "ssh")
        self.host_key = os.path.join(self.ssh_dir, "host_ed25519")
        self.client_key = os.path.join(self.ssh_dir, "client_ed25519")
        self.authorized_keys = os.path.join(self.ssh_dir, "authorized_keys")
        self.control_dir = self.workdir
        self._own_control_dir = False
        self._processes = {}  # type: Dict[str, subprocess.Popen]
        self._state = {"prefix": prefix, "workdir": self.workdir, "bridge": None, "netns": [],
                       "links": [], "pids": {}, "control_dir": None}
        self._lock = threading.RLock()
        self._closed = False
        atexit.register(self.close)
        try:
            self._setup()
        except BaseException:
            try:
                self.close()
            except FleetError:
                pass  # the setup error is the one to report
            raise

    # -- context manager ----------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- public API ---------------------------------------------------------

    def host(self, name: str) -> FleetHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError("no host %r in this fleet (%s)" % (name, ", ".join(h.name for h in self.hosts)))

    @property
    def names(self) -> List[str]:
        return [host.name for host in self.hosts]

    def data_home(self, host: Union[str, FleetHost]) -> str:
        """The host's /var/lib/skupper, as a path the test process can read and write."""
        return self._host(host).data_home

    def ssh_args(self) -> List[str]:
        """The ssh options of the inventory, as a list (without the ControlMaster ones)."""
        return ["-i", self.client_key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"]

    def ssh(self, host: Union[str, FleetHost], command: str, check: bool = True,
            timeout: float = 30) -> subprocess.CompletedProcess:
        """Runs a shell command on the host over SSH as root."""
        host = self._host(host)
        process = subprocess.run(["ssh"] + self.ssh_args() + ["root@" + host.ip, command],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 universal_newlines=True, timeout=timeout, check=False)
        if check and process.returncode != 0:
            raise FleetError("ssh %s %r: exit %d: %s" % (host.name, command, process.returncode,
                                                         process.stderr.strip()))
        return process

    def inventory(self, path: Union[str, os.PathLike], group: str = "skupper_sites",
                  extra_hostvars: Union[None, dict, Callable[[FleetHost], dict]] = None,
                  hosts: Optional[List[str]] = None) -> str:
        """Writes a YAML inventory of the fleet (or of the named ``hosts``) in ``group``.

        ``extra_hostvars`` is a dict of variables for every host, or a callable
        that takes a FleetHost and returns that host's extra variables.
        Returns the path.
        """
        path = os.path.abspath(str(path))
        common_args = " ".join([
            "-o StrictHostKeyChecking=no",
            "-o UserKnownHostsFile=/dev/null",
            "-o ControlMaster=auto",
            "-o ControlPersist=60s",
            # Passed to ssh as is (no ini interpolation here), so a single %.
            "-o ControlPath=%s" % os.path.join(self.control_dir, "cp-%h"),
        ])
        entries = {}
        for host in self.hosts:
            if hosts is not None and host.name not in hosts:
                continue
            hostvars = {
                "ansible_host": host.ip,
                "ansible_port": 22,
                "ansible_user": "root",
                "ansible_connection": "ssh",
                "ansible_ssh_private_key_file": self.client_key,
                "ansible_ssh_common_args": common_args,
                "ansible_ssh_pipelining": True,
                "ansible_python_interpreter": PYTHON,
            }
            extra = extra_hostvars(host) if callable(extra_hostvars) else extra_hostvars
            hostvars.update(extra or {})
            entries[host.name] = hostvars
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            yaml.safe_dump({"all": {"children": {group: {"hosts": entries}}}}, handle, sort_keys=False)
        return path

    def is_up(self, host: Union[str, FleetHost]) -> bool:
        host = self._host(host)
        process = self._processes.get(host.name)
        return process is not None and process.poll() is None and _port_open(host.ip, 22)

    def stop_host(self, host: Union[str, FleetHost]) -> None:
        """The host goes down: its sshd and every process inside its namespace
        (open SSH sessions, ControlPersist peers, whatever they started) are killed.
        Its network stays, so connecting to it is refused at once."""
        host = self._host(host)
        with self._lock:
            pids = _netns_pids(host.netns)
            process = self._processes.pop(host.name, None)
            if process is not None:
                pids.append(process.pid)
            _kill(pids)
            if process is not None:
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            self._state["pids"].pop(host.name, None)
            self._save_state()
        deadline = time.monotonic() + 5
        while _port_open(host.ip, 22, timeout=0.2) and time.monotonic() < deadline:
            time.sleep(0.05)

    def start_host(self, host: Union[str, FleetHost], wait: bool = True) -> None:
        """Starts the host's sshd again (no-op when it runs)."""
        host = self._host(host)
        with self._lock:
            process = self._processes.get(host.name)
            if process is not None and process.poll() is None:
                return
            self._start_sshd(host)
        if wait:
            self._wait_ready([host])

    def close(self) -> None:
        """Tears everything down; safe to call twice and after a failed setup."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                atexit.unregister(self.close)
            except Exception:
                pass
            errors = teardown(self._state, processes=self._processes)
            self._processes.clear()
            if not errors:
                self._remove_state()
                if self._own_workdir:
                    shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            raise FleetError("fleet %s: teardown left: %s" % (self.prefix, "; ".join(errors)))

    # -- setup ----------------------------------------------------------------

    def _host(self, host):
        return host if isinstance(host, FleetHost) else self.host(host)

    def _setup(self):
        os.makedirs(self.ssh_dir, exist_ok=True)
        os.makedirs(os.path.join(self.workdir, "run"), exist_ok=True)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        os.makedirs(DATA_HOME, exist_ok=True)  # only a mount point: each host binds its own over it
        # ssh adds ".<16 random chars>" to the ControlPath while it creates the socket, and a
        # unix socket path has at most 107 bytes: keep the sockets in a short directory.
        if len(os.path.join(self.control_dir, "cp-255.255.255.255")) + 17 > 100:
            self.control_dir = tempfile.mkdtemp(prefix="fleet-cp-")
            self._own_control_dir = True
            self._state["control_dir"] = self.control_dir
        self._keys()
        self._save_state()
        self._create_bridge()
        for index in range(1, self.count + 1):
            self._create_host(index)
        for host in self.hosts:
            self._start_sshd(host)
        self._wait_ready(self.hosts)

    def _keys(self):
        for key in (self.host_key, self.client_key):
            if not os.path.exists(key):
                _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleet-" + self.prefix, "-f", key])
        shutil.copyfile(self.client_key + ".pub", self.authorized_keys)
        self._empty_file = os.path.join(self.ssh_dir, "empty")
        open(self._empty_file, "w").close()

    def _create_bridge(self):
        """Creates the bridge and gives it 10.a.b.1/24 in a network nobody else uses here."""
        _run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self._state["bridge"] = self.bridge
        self._save_state()
        _run(["ip", "link", "set", self.bridge, "up"])
        rng = random.SystemRandom()
        for _attempt in range(64):
            network = ipaddress.ip_network("10.%d.%d.0/24" % (rng.randint(100, 254), rng.randint(1, 254)))
            if any(network.overlaps(used) for used in _used_networks()):
                continue
            gateway = str(network.network_address + 1)
            _run(["ip", "addr", "add", "%s/24" % gateway, "dev", self.bridge])
            # Another fleet may have picked the same network at the same time: then only one keeps it.
            if any(network.overlaps(used) for used in _used_networks(exclude_dev=self.bridge)):
                _run(["ip", "addr", "del", "%s/24" % gateway, "dev", self.bridge], check=False)
                continue
            self.network, self.gateway = network, gateway
            break
        else:
            raise FleetError("found no free 10.x.y.0/24 network for the fleet's bridge")
        self._state["network"] = str(self.network)
        self._save_state()

    def _create_host(self, index):
        name = "h%d" % index
        netns = self.prefix + name
        veth = "%sv%d" % (self.prefix, index)
        ip = str(self.network.network_address + 10 + index)
        host_dir = os.path.join(self.workdir, "hosts", name)
        data_home = os.path.join(host_dir, "skupper")
        os.makedirs(data_home, exist_ok=True)
        host = FleetHost(name=name, ip=ip, data_home=data_home, netns=netns, veth=veth,
                         sshd_config=os.path.join(host_dir, "sshd_config"),
                         sshd_log=os.path.join(host_dir, "sshd.log"),
                         pid_file=os.path.join(self.workdir, "run", name + ".pid"))
        _run(["ip", "netns", "add", netns])
        self._state["netns"].append(netns)
        self._save_state()
        _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
        self._state["links"].append(veth)
        self._save_state()
        _run(["ip", "link", "set", veth, "master", self.bridge, "up"])
        _run(["ip", "-n", netns, "addr", "add", "%s/24" % ip, "dev", "eth0"])
        _run(["ip", "-n", netns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", netns, "link", "set", "lo", "up"])
        with open(host.sshd_config, "w") as handle:
            handle.write("\n".join([
                "# sshd of fleet host %s (%s)" % (name, netns),
                "ListenAddress %s:22" % ip,
                "HostKey %s" % self.host_key,
                "PidFile %s" % host.pid_file,
                "AuthorizedKeysFile %s" % self.authorized_keys,
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UseDNS no",
                "PrintMotd no",
                "PrintLastLog no",
                "MaxStartups 200",
                "MaxSessions 100",
                "Subsystem sftp internal-sftp",
                "",
            ]))
        self.hosts.append(host)

    def _start_sshd(self, host):
        script = "hostname %s && mount --bind %s %s && " % (host.name, _quote(host.data_home), DATA_HOME)
        # bash sources ~/.bashrc even for `ssh host command` (Debian builds it with
        # SSH_SOURCE_BASHRC), and a developer's .bashrc (pyenv init, ...) can cost a quarter
        # of a second per command. A fresh host has none: hide it inside this host's
        # mount namespace only.
        bashrc = os.path.join(os.path.expanduser("~root"), ".bashrc")
        if os.path.isfile(bashrc):
            script += "mount --bind %s %s && " % (_quote(self._empty_file), _quote(bashrc))
        script += "exec %s -D -f %s -E %s" % (SSHD, _quote(host.sshd_config), _quote(host.sshd_log))
        # ip netns exec, unshare (without --fork) and sh's exec all exec in place, so the
        # PID of this process is sshd's own.
        with open(host.sshd_log + ".err", "ab") as errors:
            process = subprocess.Popen(
                ["ip", "netns", "exec", host.netns, "unshare", "--mount", "--uts", "--propagation", "private",
                 "sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                start_new_session=True, close_fds=True)
        self._processes[host.name] = process
        self._state["pids"][host.name] = {"pid": process.pid, "config": host.sshd_config}
        self._save_state()

    def _wait_ready(self, hosts):
        deadline = time.monotonic() + self.start_timeout
        waiting = list(hosts)
        while waiting:
            for host in list(waiting):
                process = self._processes.get(host.name)
                if process is None or process.poll() is not None:
                    log = _tail(host.sshd_log, host.sshd_log + ".err")
                    raise FleetError("sshd of %s exited (%s): %s" % (host.name, process and process.returncode, log))
                if _port_open(host.ip, 22, timeout=0.3):
                    waiting.remove(host)
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise FleetError("sshd did not answer on %s within %.0f s: %s" % (
                    ", ".join("%s (%s)" % (h.name, h.ip) for h in waiting), self.start_timeout,
                    _tail(waiting[0].sshd_log, waiting[0].sshd_log + ".err")))
            time.sleep(0.05)

    # -- state file -------------------------------------------------------------

    def _save_state(self):
        path = os.path.join(self.workdir, STATE_FILE)
        with open(path + ".tmp", "w") as handle:
            json.dump(self._state, handle, indent=1)
        os.replace(path + ".tmp", path)

    def _remove_state(self):
        try:
            os.remove(os.path.join(self.workdir, STATE_FILE))
        except OSError:
            pass


def _quote(value):
    return shlex.quote(str(value))


def _tail(*paths):
    text = []
    for path in paths:
        try:
            with open(path, errors="replace") as handle:
                text.append(handle.read()[-1000:].strip())
        except OSError:
            pass
    return " | ".join(t for t in text if t) or "(no log)"


def teardown(state: dict, processes: Optional[Dict[str, subprocess.Popen]] = None) -> List[str]:
    """Removes what a fleet's state (its ``fleet.json``) records; returns what could not be removed.

    Kills the recorded sshd PIDs (only when the PID still runs that host's sshd
    config) and every process inside the recorded namespaces, then deletes the
    recorded veth links, namespaces and bridge by name.
    """
    errors = []
    processes = processes or {}
    pids = []
    for name, entry in (state.get("pids") or {}).items():
        pid = entry.get("pid")
        process = processes.get(name)
        if process is not None and process.poll() is None:
            pids.append(process.pid)
        elif pid and entry.get("config") and entry["config"] in _cmdline(pid):
            pids.append(pid)
    existing_netns = set(_run(["ip", "netns", "list"], check=False).stdout.split())
    for netns in state.get("netns") or ():
        if netns in existing_netns:
            pids.extend(_netns_pids(netns))
    _kill(pids)
    for process in processes.values():
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            errors.append("process %d" % process.pid)
    for link in state.get("links") or ():
        if _run(["ip", "link", "show", "dev", link], check=False).returncode == 0:
            process = _run(["ip", "link", "del", "dev", link], check=False)
            if process.returncode != 0:
                errors.append("link %s: %s" % (link, process.stderr.strip()))
    for netns in state.get("netns") or ():
        if netns in existing_netns:
            process = _run(["ip", "netns", "del", netns], check=False)
            if process.returncode != 0:
                errors.append("netns %s: %s" % (netns, process.stderr.strip()))
    bridge = state.get("bridge")
    if bridge and _run(["ip", "link", "show", "dev", bridge], check=False).returncode == 0:
        process = _run(["ip", "link", "del", "dev", bridge], check=False)
        if process.returncode != 0:
            errors.append("bridge %s: %s" % (bridge, process.stderr.strip()))
    control_dir = state.get("control_dir")
    if control_dir and os.path.basename(control_dir).startswith("fleet-cp-"):
        shutil.rmtree(control_dir, ignore_errors=True)
    return errors


def teardown_workdir(workdir: Union[str, os.PathLike]) -> List[str]:
    """Tears down the fleet recorded in ``<workdir>/fleet.json`` (after a killed run)."""
    path = os.path.join(str(workdir), STATE_FILE)
    with open(path) as handle:
        state = json.load(handle)
    errors = teardown(state)
    if not errors:
        os.remove(path)
    return errors
