# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""System-site back end: Skupper resources as files under the data home.

Layout (Skupper's own): ``<data home>/namespaces/<ns>/input/resources/
<Kind>-<name>.yaml`` is what the user declares; ``runtime/resources/`` is
what the running site reports, with status.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import fcntl
import json
import os
import re
import stat
import tempfile
import traceback

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.skupperlabs.network.plugins.module_utils import validation
from ansible_collections.skupperlabs.network.plugins.module_utils.backend import Backend
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import SkupperError

RESOURCE_FILE = re.compile(r"^([A-Z][a-zA-Z]*)-(.+)\.(yaml|yml|json)$")
EXTENSIONS = ("yaml", "yml", "json")


def default_data_home(environ=None, uid=None):
    """Skupper's own choice: /var/lib/skupper for root, else the XDG data home."""
    environ = os.environ if environ is None else environ
    uid = os.getuid() if uid is None else uid
    if uid == 0:
        return "/var/lib/skupper"
    xdg = environ.get("XDG_DATA_HOME")
    if xdg:
        return os.path.join(xdg, "skupper")
    return os.path.join(os.path.expanduser("~"), ".local", "share", "skupper")


class SystemSiteBackend(Backend):
    """Reads and writes resource files of a Skupper system site.

    Writes are atomic (temp file in the same folder, fsync, rename) and
    happen under a per-namespace lock; nothing is read or written through a
    symbolic link inside the namespace home.
    """

    name = "system"
    server_dry_run = False
    # Skupper's validator checks a multi-key listener's strategy against the RUNNING site
    # (internal/nonkube/common/site_state_validator.go, validateMultiKeyListeners).
    immutable_base = "running"
    # Connectors on a system site reach a host and port; there are no pods to select.
    supports_selector = False
    default_namespace = "default"

    def __init__(self, data_home=None):
        if not HAS_YAML:
            raise SkupperError("PyYAML is required on the managed host", missing_lib="PyYAML",
                               exception=YAML_IMPORT_ERROR)
        Backend.__init__(self)
        self.data_home = os.path.abspath(os.path.expanduser(data_home or default_data_home()))
        self._locks = {}

    # -- platform rules (used before any I/O) ---------------------------
    @staticmethod
    def host_error(value):
        return validation.system_host(value)

    @staticmethod
    def name_error(value):
        return validation.system_name(value)

    # Why two resources may not share a host and port here (kinds.Kind.host_port_rivals says which).
    host_port_reason = ("a system site binds each host and port once (Skupper's validator refuses the reload: "
                        "'port P is already mapped for host H')")

    # -- paths -----------------------------------------------------------
    def namespace_home(self, namespace):
        return os.path.join(self.data_home, "namespaces", namespace)

    def resource_dir(self, namespace):
        return os.path.join(self.namespace_home(namespace), "input", "resources")

    def runtime_dir(self, namespace):
        return os.path.join(self.namespace_home(namespace), "runtime", "resources")

    def path(self, kind, namespace, name):
        """Where the resource lives: an existing .yml/.json spelling wins over .yaml."""
        for ext in EXTENSIONS:
            candidate = os.path.join(self.resource_dir(namespace), "%s-%s.%s" % (kind.kind, name, ext))
            if os.path.lexists(candidate):
                return candidate
        return os.path.join(self.resource_dir(namespace), "%s-%s.yaml" % (kind.kind, name))

    def _refuse_links(self, namespace, path=None):
        home = self.namespace_home(namespace)
        for candidate in (home, os.path.join(home, "input"), self.resource_dir(namespace), path):
            if candidate and os.path.islink(candidate):
                raise SkupperError("refusing to use %s: it is a symbolic link (resources are never read or "
                                   "written through a link)" % candidate)

    # -- reading ---------------------------------------------------------
    def _load(self, path):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            if exc.errno == errno.ELOOP:
                raise SkupperError("refusing to read %s: it is a symbolic link" % path)
            raise SkupperError("cannot read %s: %s" % (path, exc.strerror))
        with os.fdopen(fd, "r") as handle:
            text = handle.read()
        try:
            documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
        except yaml.YAMLError as exc:
            raise SkupperError("cannot parse %s: %s" % (path, exc))
        if len(documents) != 1 or not isinstance(documents[0], dict):
            raise SkupperError("%s must hold exactly one resource (Skupper reads one resource per file)" % path)
        return documents[0]

    def get(self, kind, namespace, name):
        path = self.path(kind, namespace, name)
        self._refuse_links(namespace, path)
        return self._load(path)

    def list(self, kind, namespace, label_selector=None):
        """Resources of a kind in the namespace, keyed by metadata.name."""
        directory = self.resource_dir(namespace)
        terms = validation.parse_label_selector(label_selector) if label_selector else None
        self._refuse_links(namespace)
        try:
            entries = sorted(os.listdir(directory))
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return {}
            raise SkupperError("cannot list %s: %s" % (directory, exc.strerror))
        found = {}
        for entry in entries:
            match = RESOURCE_FILE.match(entry)
            if not match or match.group(1) != kind.kind:
                continue
            path = os.path.join(directory, entry)
            if os.path.islink(path):
                continue
            obj = self._load(path)
            if obj is None or obj.get("kind", kind.kind) != kind.kind:
                continue
            name = (obj.get("metadata") or {}).get("name") or match.group(2)
            labels = (obj.get("metadata") or {}).get("labels") or {}
            if terms and not validation.labels_match(labels, terms):
                continue
            found[name] = obj
        return found

    def read_status(self, kind, namespace, name, desired_spec):
        """The resource as the running site reports it, or a synthetic Pending one."""
        runtime_path = os.path.join(self.runtime_dir(namespace), "%s-%s.yaml" % (kind.kind, name))
        running = self._load(runtime_path) if os.path.isdir(self.runtime_dir(namespace)) else None
        if running is None:
            if not os.path.isdir(self.runtime_dir(namespace)):
                message = "site not initialized: the site has not been started (skupper system start)"
            else:
                message = "not running yet: the site has not been reloaded since the change (skupper system reload)"
            return {"status": {"status": "Pending", "message": message}}
        if desired_spec is not None and running.get("spec") != desired_spec:
            running = dict(running)
            running["status"] = {"status": "Pending",
                                 "message": "reload pending: the running spec differs from input/resources "
                                            "(skupper system reload)"}
        return running

    def observed(self, kind, namespace, obj):
        """The input resource with the status the running site reports for it."""
        running = self.read_status(kind, namespace, obj["metadata"]["name"], obj.get("spec"))
        merged = dict(obj)
        merged["status"] = running.get("status") or {}
        return merged

    # -- writing ---------------------------------------------------------
    def check_writable(self, namespace):
        """Fail, without writing, when the data home cannot take the change."""
        target = self.resource_dir(namespace)
        while not os.path.exists(target):
            parent = os.path.dirname(target)
            if parent == target:
                break
            target = parent
        if not os.path.isdir(target) or not os.access(target, os.W_OK | os.X_OK):
            raise SkupperError("data home %s is not writable: %s cannot be written by this user (uid %d)"
                               % (self.data_home, target, os.getuid()))

    @contextlib.contextmanager
    def locked(self, namespace):
        """Hold the namespace lock (flock on the namespace home) when it exists.

        A namespace that does not exist yet has nothing to collide with; the
        first write creates it and takes the lock then.
        """
        self._refuse_links(namespace)
        self._lock(namespace)
        try:
            yield
        finally:
            handle = self._locks.pop(namespace, None)
            if handle is not None:
                os.close(handle)

    def _lock(self, namespace):
        if namespace in self._locks:
            return
        home = self.namespace_home(namespace)
        if not os.path.isdir(home):
            return
        fd = os.open(home, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._locks[namespace] = fd

    def _ensure_dirs(self, namespace):
        self._refuse_links(namespace)
        directory = self.resource_dir(namespace)
        try:
            os.makedirs(directory, 0o755)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise SkupperError("data home %s is not writable: cannot create %s: %s"
                                   % (self.data_home, directory, exc.strerror))
        self._refuse_links(namespace)
        self._lock(namespace)
        return directory

    def location(self, kind, namespace, name):
        return self.path(kind, namespace, name)

    def create(self, kind, namespace, obj, dry_run=False):
        return self._write(kind, namespace, obj)

    def replace(self, kind, namespace, obj, dry_run=False):
        return self._write(kind, namespace, obj)

    def _write(self, kind, namespace, obj):
        name = obj["metadata"]["name"]
        directory = self._ensure_dirs(namespace)
        path = self.path(kind, namespace, name)
        self._refuse_links(namespace, path)
        if path.endswith(".json"):
            text = json.dumps(obj, indent=2, sort_keys=False) + "\n"
        else:
            text = yaml.safe_dump(obj, default_flow_style=False, sort_keys=False)
        mode = 0o644
        if os.path.exists(path):
            mode = stat.S_IMODE(os.lstat(path).st_mode)
        try:
            # A leading dot keeps Skupper's auto-reload watcher from reading the temp file.
            fd, temp_path = tempfile.mkstemp(prefix=".%s-%s." % (kind.kind, name), suffix=".tmp", dir=directory)
        except OSError as exc:
            raise SkupperError("data home %s is not writable: cannot write in %s: %s"
                               % (self.data_home, directory, exc.strerror))
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            os.rename(temp_path, path)
        except Exception:
            if os.path.exists(temp_path):
                os.unlink(temp_path)
            raise
        self._fsync_dir(directory)
        return obj

    def delete(self, kind, namespace, name, dry_run=False):
        path = self.path(kind, namespace, name)
        self._refuse_links(namespace, path)
        self._lock(namespace)
        try:
            os.unlink(path)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return path
            raise SkupperError("data home %s is not writable: cannot remove %s: %s"
                               % (self.data_home, path, exc.strerror))
        self._fsync_dir(os.path.dirname(path))
        return path

    @staticmethod
    def _fsync_dir(directory):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
