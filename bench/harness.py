"""What every scenario of bench/run.py shares: the environment, ansible-playbook runs, figures.

Nothing here knows a scenario: it finds (or installs) kubernetes.core, exports the collection as it
was before the fast path, writes playbooks, runs ansible-playbook and measures it, counts API
requests, and turns repeats into medians and per-repeat ratios.
"""

import glob
import json
import os
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv")
BUILD = os.path.join(ROOT, ".build")
COLLECTIONS = os.path.join(BUILD, "collections")
COLLECTION_LINK = os.path.join(COLLECTIONS, "ansible_collections", "skupperlabs", "network")
BENCH_VENV = os.path.join(BUILD, "bench-venv")
BENCH_COLLECTIONS = os.path.join(BUILD, "bench-collections")
BENCH_REQUIREMENTS = ["ansible>=10,<12", "kubernetes>=24.2"]
MANAGED_BY = {"app.kubernetes.io/managed-by": "skupperlabs.network"}
FAST_PATH_SWITCH = "SKUPPERLABS_NETWORK_FAST_PATH"
RECAP_LINE = re.compile(r"^(\S+)\s*:\s*((?:\w+=\d+\s*)+)$", re.M)
METHOD_ORDER = ("GET", "LIST", "POST", "PUT", "PATCH", "DELETE")


def log(message):
    print(message, file=sys.stderr, flush=True)


class BenchFailure(RuntimeError):
    """A playbook run failed, or this collection wrote on an unchanged re-run: the benchmark exits 1."""


# -- environment ---------------------------------------------------------------------------

def reexec_in_venv(script):
    """Run under <checkout>/.venv/bin/python when it exists (it has ansible-core and kubernetes)."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.exists(python) and os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        os.execv(python, [python, os.path.abspath(script)] + sys.argv[1:])


def ensure_collection_link():
    """.build/collections/ansible_collections/skupperlabs/network -> ../../../.. (the checkout)."""
    target = os.path.relpath(ROOT, os.path.dirname(COLLECTION_LINK))
    if os.path.islink(COLLECTION_LINK) and os.readlink(COLLECTION_LINK) == target:
        return
    os.makedirs(os.path.dirname(COLLECTION_LINK), exist_ok=True)
    if os.path.lexists(COLLECTION_LINK):
        os.unlink(COLLECTION_LINK)
    os.symlink(target, COLLECTION_LINK)


def find_kubernetes_core():
    """The kubernetes.core collection of the running venv (if it has ansible) or of the bench venv, or None."""
    for prefix in (sys.prefix, BENCH_VENV):
        for site in sorted(glob.glob(os.path.join(prefix, "lib", "python*", "site-packages"))):
            candidate = os.path.join(site, "ansible_collections", "kubernetes", "core")
            if os.path.isfile(os.path.join(candidate, "MANIFEST.json")):
                return candidate
    return None


def install_kubernetes_core():
    """Make .build/bench-venv and pip install the ansible package (it ships kubernetes.core).

    Returns None on success, or why it failed.
    """
    logfile = os.path.join(BUILD, "logs", "bench-setup.log")
    os.makedirs(os.path.dirname(logfile), exist_ok=True)
    python = os.path.join(BENCH_VENV, "bin", "python")
    base = getattr(sys, "_base_executable", sys.executable)
    steps = []
    if not os.path.exists(python):
        steps.append([base, "-m", "venv", BENCH_VENV])
    steps.append([python, "-m", "pip", "install", "-q"] + BENCH_REQUIREMENTS)
    with open(logfile, "a") as handle:
        for step in steps:
            log("setup: %s (log: %s)" % (shlex.join(step), os.path.relpath(logfile, ROOT)))
            handle.write("$ %s\n" % shlex.join(step))
            handle.flush()
            if subprocess.run(step, stdout=handle, stderr=subprocess.STDOUT, check=False).returncode != 0:
                with open(logfile) as reread:
                    lines = [line.strip() for line in reread if line.strip()]
                errors = [line for line in lines if line.startswith("ERROR")] or lines[-1:] or ["see " + logfile]
                return "'%s' failed: %s" % (shlex.join(step[:4]), errors[-1])
    return None


def link_kubernetes_core(path):
    """A collections folder holding kubernetes.core only (not the ansible package's hundred others)."""
    link = os.path.join(BENCH_COLLECTIONS, "ansible_collections", "kubernetes", "core")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.lexists(link):
        if os.path.realpath(link) == os.path.realpath(path):
            return BENCH_COLLECTIONS
        os.unlink(link)
    os.symlink(path, link)
    return BENCH_COLLECTIONS


def kubernetes_core(setup, versions):
    """The collections folder that holds kubernetes.core, and why the comparison is skipped (or None)."""
    path = find_kubernetes_core()
    failure = None
    if path is None and setup:
        failure = install_kubernetes_core()
        path = find_kubernetes_core()
    if path is None:
        if setup:
            return None, "could not install it into .build/bench-venv: %s" % (failure or "no kubernetes.core")
        return None, "the kubernetes.core collection is not installed; `python bench/run.py --setup` installs it"
    with open(os.path.join(path, "MANIFEST.json")) as handle:
        version = json.load(handle)["collection_info"]["version"]
    versions["kubernetes.core"] = "%s (%s)" % (version, os.path.relpath(path, ROOT))
    return link_kubernetes_core(path), None


def commit_before_fast_path():
    """The commit before plugins/plugin_utils/fast_path.py was added, or None (no git, no such file)."""
    try:
        added = subprocess.run(["git", "-C", ROOT, "log", "--diff-filter=A", "--format=%H", "--",
                                "plugins/plugin_utils/fast_path.py"], capture_output=True, text=True, check=True)
        first = added.stdout.split()[-1]
        parent = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", first + "^"], capture_output=True,
                                text=True, check=True)
    except (OSError, subprocess.CalledProcessError, IndexError):
        return None
    return parent.stdout.strip()


def export_collection(commit, folder):
    """The collection as it was at ``commit`` (git archive of meta/ and plugins/), as a collections folder."""
    target = os.path.join(folder, "ansible_collections", "skupperlabs", "network")
    os.makedirs(target)
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit, "galaxy.yml", "meta", "plugins"],
                             capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", target], input=archive.stdout, check=True)
    return folder


def package_version(name):
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


# -- playbooks -----------------------------------------------------------------------------

def listener_items(count, prefix="bench"):
    return [{"name": "%s-%04d" % (prefix, index), "routing_key": "%s.backend-%d" % (prefix, index),
             "host": "backend-%d" % index, "port": 1024 + index} for index in range(count)]


def write_yaml(path, data):
    import yaml
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle, sort_keys=False)
    return path


def file_states(folder):
    """path -> (inode, mtime, size) of every file under folder: what a re-run must leave alone."""
    states = {}
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            info = os.lstat(os.path.join(parent, name))
            states[os.path.join(parent, name)] = (info.st_ino, info.st_mtime_ns, info.st_size)
    return states


def changed_files(before, after):
    return sorted((set(after) ^ set(before)) | {path for path in after if before.get(path) != after[path]})


# -- running ansible-playbook --------------------------------------------------------------

def cpu_seconds(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def parse_recap(stdout):
    """host -> {ok, changed, unreachable, failed, skipped, rescued, ignored} from the PLAY RECAP."""
    if "PLAY RECAP" not in stdout:
        return {}
    tail = stdout[stdout.rindex("PLAY RECAP"):]
    return {match.group(1): {key: int(value) for key, value in
                             (pair.split("=") for pair in match.group(2).split())}
            for match in RECAP_LINE.finditer(tail)}


class Playbooks:
    """Runs ansible-playbook with the bench's environment, and measures each run."""

    def __init__(self, workdir, collection_paths):
        self.workdir = workdir
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("ANSIBLE_", "K8S_AUTH_", "SKUPPERLABS_NETWORK_"))
                    and key not in ("KUBECONFIG", "PYTHONPATH")}
        tmp = os.path.join(workdir, "tmp")
        os.makedirs(tmp)
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(collection_paths),
            "ANSIBLE_HOME": os.path.join(workdir, "ansible-home"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_REMOTE_TMP": os.path.join(workdir, "remote-tmp"),
            # kubernetes.core keeps its discovery cache in the temp folder: a private one per benchmark.
            "TMPDIR": tmp,
        })
        self.count = 0

    def inventory(self, name, interpreter=None):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as handle:
            handle.write("localhost ansible_connection=local ansible_python_interpreter=%s\n"
                         % (interpreter or sys.executable))
        return path

    def run(self, playbook, inventory, extra=None, env=None, args=(), timeout=1800, sample_rss=False):
        """One ansible-playbook run: wall and CPU seconds, recap; BenchFailure if it failed.

        sample_rss: also the peak RSS (VmHWM) of ansible-playbook, of its workers and of the
        processes under them (module processes), sampled from /proc every 20 ms (untimed runs only).
        """
        self.count += 1
        run_env = dict(self.env)
        run_env.update(env or {})
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, playbook]
        if extra:
            command += ["-e", json.dumps(extra)]
        command += list(args)
        output = os.path.join(self.workdir, "output-%d.txt" % self.count)
        children, started = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
        with open(output, "w+") as out, open(output + ".err", "w+") as err:
            process = subprocess.Popen(command, stdout=out, stderr=err, env=run_env, cwd=self.workdir)
            peaks = sample_peaks(process, timeout) if sample_rss else None
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            seconds = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        os.unlink(output)
        os.unlink(output + ".err")
        run = {"seconds": seconds, "cpu": cpu_seconds(resource.RUSAGE_CHILDREN) - children,
               "recap": parse_recap(stdout), "stdout": stdout}
        if peaks is not None:
            run["rss_kib"] = peaks
        bad = [host for host, counts in run["recap"].items() if counts.get("failed") or counts.get("unreachable")]
        if process.returncode != 0 or not run["recap"] or bad:
            raise BenchFailure("ansible-playbook %s failed (rc %s%s):\n%s\n%s" % (
                os.path.basename(playbook), process.returncode, ", hosts %s" % ", ".join(bad) if bad else "",
                stdout[-4000:], stderr[-2000:]))
        return run


def _process_table():
    """pid -> parent pid of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    table[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return table


def _high_water_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def sample_peaks(process, timeout):
    """Peak RSS in KiB while ``process`` runs: its own, its children's (Ansible's workers) and the
    largest of the processes under those (a module process, its shell)."""
    peaks = {"playbook": 0, "worker": 0, "under_worker": 0}
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        table = _process_table()
        depth = {process.pid: 0}
        changed = True
        while changed:
            changed = False
            for pid, parent in table.items():
                if pid not in depth and parent in depth:
                    depth[pid] = depth[parent] + 1
                    changed = True
        for pid, level in depth.items():
            key = ("playbook", "worker", "under_worker")[min(level, 2)]
            peaks[key] = max(peaks[key], _high_water_kib(pid))
        time.sleep(0.02)
    return peaks


def changed_tasks(run):
    return sum(counts.get("changed", 0) for counts in run["recap"].values())


# -- API requests --------------------------------------------------------------------------

def count_requests(records):
    """Requests by method (GET of a collection counted as LIST), discovery apart, and real writes."""
    counts = {"discovery": 0, "writes": 0}
    for record in records:
        if record.discovery:
            counts["discovery"] += 1
            continue
        method = "LIST" if record.method == "GET" and record.name is None else record.method
        counts[method] = counts.get(method, 0) + 1
        if record.is_write and not record.dry_run:
            counts["writes"] += 1
    return counts


def format_counts(counts, per=None):
    parts = []
    for method in METHOD_ORDER:
        if counts.get(method):
            value = counts[method] / per if per else counts[method]
            parts.append("%s %s" % (method, "%.3g" % value if per else "%d" % value))
    return ", ".join(parts) or "none"


# -- figures -------------------------------------------------------------------------------

def median(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def ratio_text(values):
    """'0.42x (0.40-0.45)': the median of per-repeat ratios, with their range."""
    values = [value for value in values if value is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return "%.2fx" % values[0]
    return "%.2fx (%.2f-%.2f)" % (statistics.median(values), min(values), max(values))


def target_text(value, limit, better="below"):
    """'reached' or 'MISSED' for a ratio against its target (at most limit, or at least)."""
    if value is None:
        return "not measured"
    reached = value <= limit if better == "below" else value >= limit
    return "reached" if reached else "MISSED"


def target_pair(wall, cpu, limit):
    """'wall 0.42x reached, CPU 0.40x reached': medians of per-repeat ratios against a target of at most limit."""
    parts = []
    for name, values in (("wall", wall), ("CPU", cpu)):
        value = median(values)
        parts.append("%s %s %s" % (name, "%.2fx" % value if value is not None else "-", target_text(value, limit)))
    return ", ".join(parts)


def machine_load():
    one, five, _fifteen = os.getloadavg()
    return "load average %.1f (1 min), %.1f (5 min), %d CPUs" % (one, five, os.cpu_count() or 0)
