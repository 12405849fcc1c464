# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""System-site back end: Skupper resources as files under the data home.

Layout (Skupper's own, ``pkg/nonkube/api/environment.go``):
``<data home>/namespaces/<ns>/input/resources/`` is what the user declares;
``runtime/resources/<Kind>-<name>.yaml`` is what the running site reports,
with status.

What counts as declared is what Skupper's loader reads
(``internal/nonkube/common/site_state_loader.go``, ``Load`` and
``LoadIntoSiteState``, through ``internal/utils/files.go`` ``DirectoryReader``):
every file whose name ends ``.yaml`` or ``.yml`` anywhere under
``input/resources`` (subfolders included), each possibly holding several
YAML documents; ``.json`` files are never loaded; only
``apiVersion: skupper.io/v2alpha1`` objects are resources of ours. A resource
is its kind and ``metadata.name``, whatever the file is called:
``<Kind>-<name>.yaml`` is only the CLI's naming
(``internal/nonkube/client/fs/custom_resource_handler.go``), which this back
end uses for the resources it creates.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import copy
import errno
import fcntl
import os
import re
import shutil
import stat
import tempfile
import time
import traceback

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.skupperlabs.network.plugins.module_utils import comparison, validation
from ansible_collections.skupperlabs.network.plugins.module_utils.backend import Backend
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import ConflictError, SkupperError

API_VERSION = "skupper.io/v2alpha1"
# site_state_loader.go LoadIntoSiteState also reads these core objects (a Link's Secret, for one).
LOADED_CORE_KINDS = (("v1", "Secret"), ("v1", "ConfigMap"))
# site_state_loader.go, Load: the filter keeps names ending in ".yaml" or ".yml" (case-sensitive).
LOADED_SUFFIXES = (".yaml", ".yml")
# Never loaded by Skupper; reported, never written.
IGNORED_SUFFIX = ".json"
# Runtime files are rewritten in place (pkg/nonkube/api/site_state.go, marshal: os.Create truncates,
# then the YAML is written), so a reader can meet an empty or half-written file: read again a few times.
RUNTIME_READ_ATTEMPTS = 5
RUNTIME_RETRY_SECONDS = 0.1


def is_loaded_name(filename):
    """Whether Skupper's loader reads a file of this name (site_state_loader.go, Load's filter)."""
    return filename.endswith(LOADED_SUFFIXES)


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


# -- documents of a multi-document file ------------------------------------------
#
# A file is cut into parts whose concatenation is its text, byte for byte: an optional
# preamble (comments before the first document), then one part per YAML document.
# Document boundaries are the lines that start with "---" followed by a blank or the end of
# the line: in YAML that sequence at column 0 always starts a document (a scalar cannot hold
# it there). Each document part is head (its "---" line and the comment lines after it, kept
# when the document is replaced), body (replaced) and tail (comment lines and "..." after
# the content, up to the next "---": comments between two documents belong to the one
# above the "---"). Every cut is checked by parsing the pieces again: a file whose pieces
# do not give back its documents exactly is refused, never guessed at.

_MARKER = re.compile(r"---(?:[ \t]|\r?\n|$)")
_BARE_MARKER = re.compile(r"---[ \t]*(?:#[^\r\n]*)?\r?\n?$")
_END_MARKER = re.compile(r"\.\.\.(?:[ \t]|\r?\n|$)")


class Unsplittable(Exception):
    """The file cannot be cut into its documents safely; the message says why."""


def _parse_all(text):
    return list(yaml.safe_load_all(text))


def _is_content(line):
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#") and not _END_MARKER.match(line)


class _DocumentPart:
    def __init__(self, head, body, tail, explicit):
        self.head = head
        self.body = body
        self.tail = tail
        self.explicit = explicit

    @property
    def text(self):
        return self.head + self.body + self.tail


def _cut_document(lines, explicit, expected):
    """head, body, tail of one document's lines, checked against the parsed ``expected``."""
    if explicit and not _BARE_MARKER.match(lines[0]):
        head_end = 0  # content on the "---" line itself: it all belongs to the body
    else:
        head_end = 1 if explicit else 0
        while head_end < len(lines) and not _is_content(lines[head_end]):
            head_end += 1
    start = head_end
    end = len(lines)
    while end > start and not _is_content(lines[end - 1]):
        end -= 1
    candidates = [(start, end), (start, len(lines))]  # the second: trailing "comments" that are scalar text
    for body_start, body_end in candidates:
        head, body, tail = "".join(lines[:body_start]), "".join(lines[body_start:body_end]), \
            "".join(lines[body_end:])
        try:
            whole = _parse_all(head + body + tail)
            alone = _parse_all(body if body.strip() else "")
        except yaml.YAMLError:
            continue
        if whole == [expected] and (alone == [expected] or (expected is None and alone == [])):
            return _DocumentPart(head, body, tail, explicit)
    raise Unsplittable("its documents cannot be told apart line by line")


def split_documents(text):
    """``(preamble, [document parts], [documents])`` of a file's text; raises Unsplittable.

    ``preamble + "".join(part.text for part in parts) == text`` always holds, and part i
    parses to document i.
    """
    bom = ""
    if text.startswith("\ufeff"):
        bom, text = "\ufeff", text[1:]
    lines = text.splitlines(True)
    for line in lines:
        if line.startswith("%"):
            raise Unsplittable("it holds YAML directives (%s), which cannot be attributed to one document"
                               % line.strip())
    try:
        documents = _parse_all(text)
    except yaml.YAMLError as exc:
        raise Unsplittable("it does not parse: %s" % exc)
    markers = [index for index, line in enumerate(lines) if _MARKER.match(line)]
    first = markers[0] if markers else len(lines)
    lead = lines[:first]
    lead_is_document = any(_is_content(line) for line in lead)
    if len(documents) != len(markers) + (1 if lead_is_document else 0):
        raise Unsplittable("its '---' lines do not match its %d documents" % len(documents))
    preamble, parts = bom, []
    expected = iter(documents)
    if lead_is_document:
        part = _cut_document(lead, False, next(expected))
        part.head = bom + part.head
        preamble = ""
        parts.append(part)
    else:
        preamble = bom + "".join(lead)
    bounds = markers + [len(lines)]
    for index in range(len(markers)):
        parts.append(_cut_document(lines[bounds[index]:bounds[index + 1]], True, next(expected)))
    return preamble, parts, documents


def _dump(obj, newline):
    text = yaml.safe_dump(obj, default_flow_style=False, sort_keys=False)
    return text.replace("\n", newline) if newline != "\n" else text


def replaced_text(text, index, obj):
    """The file's text with document ``index`` replaced by ``obj``; every other byte kept."""
    preamble, parts, documents = split_documents(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    part = parts[index]
    body = _dump(obj, newline)
    if part.explicit and not part.head:
        body = "---" + newline + body  # the "---" line held content: it is rewritten with the body
    new_parts = [p.text for p in parts]
    new_parts[index] = part.head + body + part.tail
    result = preamble + "".join(new_parts)
    expected = list(documents)
    expected[index] = yaml.safe_load(body)
    if _parse_all(result) != expected:
        raise Unsplittable("replacing one document would change another")
    return result


def removed_text(text, index):
    """The file's text without document ``index`` (None: nothing of substance would be left)."""
    preamble, parts, documents = split_documents(text)
    if all(doc is None for position, doc in enumerate(documents) if position != index):
        return None
    part = parts[index]
    new_parts = [p.text for p in parts]
    # The comments that open a file describe the file: they stay when its first document goes.
    new_parts[index] = part.head if not part.explicit else ""
    result = preamble + "".join(new_parts)
    if _parse_all(result) != documents[:index] + documents[index + 1:]:
        raise Unsplittable("removing one document would change another")
    return result


# -- what the loader found ---------------------------------------------------------

class _SourceFile:
    """One loaded file: its text as read, its documents, how it was when read."""

    def __init__(self, path, text, documents, signature, mode):
        self.path = path
        self.text = text
        self.documents = documents
        self.signature = signature
        self.mode = mode


class _Declaration:
    """Where one resource is declared: a file and the document's position in it."""

    def __init__(self, source, index):
        self.source = source
        self.index = index

    @property
    def obj(self):
        return self.source.documents[self.index]


class _Index:
    """A namespace's input as Skupper would load it."""

    def __init__(self):
        self.files = []
        self.declarations = {}  # (kind, name) -> [_Declaration], in load order

    def add(self, source):
        self.files.append(source)
        for index, doc in enumerate(source.documents):
            if not isinstance(doc, dict) or (doc.get("apiVersion"), doc.get("kind")) not in LOADED_CORE_KINDS \
                    and doc.get("apiVersion") != API_VERSION:
                continue  # LoadIntoSiteState: skupper.io/v2alpha1 objects, and core v1 Secrets and ConfigMaps
            name = _name_of(doc)
            if isinstance(doc.get("kind"), str) and name:
                self.declarations.setdefault((doc["kind"], name), []).append(_Declaration(source, index))


def _name_of(doc):
    """metadata.name of a parsed document, or None when it has none (or is no mapping)."""
    metadata = doc.get("metadata") if isinstance(doc, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name else None


def _signature(st):
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


# -- the namespace lock --------------------------------------------------------
#
# One lock file per namespace, beside namespaces/ in the data home, so it exists before the
# namespace's own folder does. Skupper never meets it: `skupper system uninstall --force` and
# CheckActiveSites list only <data home>/namespaces/ (internal/cmd/skupper/system/nonkube/
# system_uninstall.go, internal/nonkube/bootstrap/uninstall.go), and the loader reads only
# namespaces/<ns>/input (site_state_loader.go).
LOCK_FOLDER = ".skupperlabs.network.lock.d"
LOCK_SUFFIX = ".lock"
# _write_file's temp files: "." + the file's name + "." + mkstemp's 8 random characters + ".tmp".
STALE_TEMP = re.compile(r"\A\.(?P<target>.+\.ya?ml)\.[a-z0-9_]{8}\.tmp\Z")
LOCK_ATTEMPTS = 20


def _umask():
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass


def _open_folder_nofollow(path):
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))


class NamespaceLock:
    """An exclusive flock on ``<data home>/.skupperlabs.network.lock.d/<namespace>.lock``.

    Taken before the first read. While the lock file does not exist yet (a first run,
    or a run that only reads), nothing is created: the nearest existing folder on its
    path is flocked instead, then checked again, so every run of this collection on the
    namespace waits for it. The first write creates the lock file already flocked
    (built in a temp folder or file, moved into place in one rename or link), so a
    run that arrives meanwhile either waits on that folder or on the file itself.
    Check mode and runs that change nothing leave no trace.

    ``error`` says why no lock could be taken (a root-owned lock file, an unreadable
    data home); reads go on, the first write raises it.
    """

    def __init__(self, data_home, namespace):
        self.data_home = data_home
        self.folder = os.path.join(data_home, LOCK_FOLDER)
        self.path = os.path.join(self.folder, namespace + LOCK_SUFFIX)
        self.fd = None  # the lock file, flocked
        self.provisional = None  # (path, fd) of the flocked nearest existing folder, while the file is missing
        self.error = None

    @property
    def held(self):
        return self.fd is not None

    def _open_file(self):
        """The lock file's fd (not flocked), None when it (or its folder) does not exist."""
        try:
            folder = _open_folder_nofollow(self.folder)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            if exc.errno in (errno.ENOTDIR, errno.ELOOP) and os.path.islink(self.folder):
                raise SkupperError("refusing to use the namespace lock folder %s: it is a symbolic link; remove it "
                                   "(it holds only lock files) and run again" % self.folder)
            if exc.errno == errno.ENOTDIR and not os.path.exists(self.folder):
                return None  # something above it is a file: check_writable says so
            raise OSError(exc.errno, exc.strerror, self.folder)
        try:
            fd = os.open(os.path.basename(self.path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY
                         | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK, dir_fd=folder)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            if exc.errno == errno.ELOOP:
                raise SkupperError("refusing to use the namespace lock %s: it is a symbolic link; remove it and run "
                                   "again" % self.path)
            raise OSError(exc.errno, exc.strerror, self.path)
        finally:
            _close(folder)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            _close(fd)
            raise SkupperError("refusing to use the namespace lock %s: it is not a regular file" % self.path)
        return fd

    def _nearest_folder(self):
        """The nearest existing folder on the lock file's path (None: a file or nothing there)."""
        candidate = self.folder
        while True:
            try:
                st = os.lstat(candidate)
            except OSError:
                parent = os.path.dirname(candidate)
                if parent == candidate:
                    return None
                candidate = parent
                continue
            linked_folder = stat.S_ISLNK(st.st_mode) and os.path.isdir(candidate) and candidate != self.folder
            if stat.S_ISDIR(st.st_mode) or linked_folder:
                return candidate  # the data home (or a folder above it) may be a link an admin set up
            return None

    def acquire(self):
        try:
            self._acquire()
        except OSError as exc:
            self.release()
            self.error = "cannot take the namespace lock %s: %s" % (exc.filename or self.path, exc.strerror)

    def _acquire(self):
        for _attempt in range(LOCK_ATTEMPTS):
            fd = self._open_file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self.fd = fd
                return
            folder = self._nearest_folder()
            if folder is None:
                return  # nothing to lock and nothing can be written: the first write says why
            try:
                folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, folder)
            fcntl.flock(folder_fd, fcntl.LOCK_EX)
            # Someone may have created the lock file, or a folder below this one, meanwhile.
            if not os.path.lexists(self.path) and self._nearest_folder() == folder:
                self.provisional = (folder, folder_fd)
                return
            _close(folder_fd)
        raise OSError(errno.EAGAIN, "its folders kept changing while it was taken", self.path)

    def ensure_held(self):
        """Before the first write: the lock file itself, created (and flocked) when missing."""
        if self.error:
            raise SkupperError("data home %s is not writable: %s" % (self.data_home, self.error))
        if self.held:
            return
        if self.provisional is None:
            raise SkupperError("data home %s is not writable: there is no folder to create the namespace lock %s in"
                               % (self.data_home, self.path))
        try:
            self.fd = self._create(self.provisional[0])
        except OSError as exc:
            raise SkupperError("data home %s is not writable: cannot create the namespace lock %s: %s"
                               % (self.data_home, exc.filename or self.path, exc.strerror))

    def _create(self, folder):
        """Create the missing part of the lock file's path below ``folder`` with the file flocked."""
        missing = []
        candidate = self.path
        while candidate != folder:
            missing.insert(0, candidate)
            candidate = os.path.dirname(candidate)
        mode = 0o777 & ~_umask()
        if len(missing) == 1:
            temp_fd, temp_path = tempfile.mkstemp(prefix=".%s." % os.path.basename(self.path), suffix=".tmp",
                                                  dir=folder)
            try:
                os.fchmod(temp_fd, 0o644)
                fcntl.flock(temp_fd, fcntl.LOCK_EX)
                os.link(temp_path, self.path)  # never replaces: a lock file met here is someone else's
            except OSError:
                _close(temp_fd)
                raise
            finally:
                os.unlink(temp_path)
            return temp_fd
        top = missing[0]
        temp_top = tempfile.mkdtemp(prefix=".%s." % os.path.basename(top), suffix=".tmp", dir=folder)
        fd = None
        try:
            inner = temp_top
            for part in missing[1:-1]:
                inner = os.path.join(inner, os.path.basename(part))
                os.mkdir(inner)
            for made in [temp_top] + [os.path.join(temp_top, os.path.relpath(p, top)) for p in missing[1:-1]]:
                os.chmod(made, mode)
            fd = os.open(os.path.join(inner, os.path.basename(self.path)),
                         os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(temp_top, top)
        except OSError as exc:
            if fd is not None:
                _close(fd)
            shutil.rmtree(temp_top, ignore_errors=True)
            raise OSError(exc.errno, exc.strerror, exc.filename or top)
        return fd

    def release(self):
        if self.fd is not None:
            _close(self.fd)
            self.fd = None
        if self.provisional is not None:
            _close(self.provisional[1])
            self.provisional = None


class SystemSiteBackend(Backend):
    """Reads and writes resource files of a Skupper system site.

    Writes are atomic (temp file in the same folder, fsync, rename, folder
    fsync) and happen under a per-namespace lock; nothing is read or written
    through a symbolic link inside the namespace home.
    """

    name = "system"
    server_dry_run = False
    # Skupper's validator checks a multi-key listener's strategy against the RUNNING site
    # (internal/nonkube/common/site_state_validator.go, validateMultiKeyListeners).
    immutable_base = "running"
    # Connectors on a system site reach a host and port; there are no pods to select.
    supports_selector = False
    default_namespace = "default"

    def __init__(self, data_home=None, sleep=time.sleep):
        if not HAS_YAML:
            raise SkupperError("PyYAML is required on the managed host", missing_lib="PyYAML",
                               exception=YAML_IMPORT_ERROR)
        Backend.__init__(self)
        self.data_home = os.path.abspath(os.path.expanduser(data_home or default_data_home()))
        self._locks = {}
        self._indexes = {}  # namespace -> _Index, dropped after each write
        self._parsed = {}  # path -> _SourceFile: a file unchanged on disk is parsed once per run
        self._written = {}  # (kind, namespace, name) -> the file last written or removed for it
        self._sleep = sleep

    # -- platform rules (used before any I/O) ---------------------------
    @staticmethod
    def host_error(value):
        return validation.system_host(value)

    @staticmethod
    def name_error(value):
        return validation.system_name(value)

    @staticmethod
    def credentials_error(value):
        """A listener's or connector's tlsCredentials names a folder under input/certs/."""
        return validation.certificate_folder(value)

    # A system site has no grant server and no controller that redeems: the module redeems the
    # token itself and writes the Secret and Link(s) (token/nonkube/token_redeem.go does the same).
    token_redeemer = "module"

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

    def default_path(self, kind, namespace, name):
        """Where a new resource goes: the CLI's ``<Kind>-<name>.yaml`` (custom_resource_handler.go)."""
        return os.path.join(self.resource_dir(namespace), "%s-%s.yaml" % (kind.kind, name))

    def path(self, kind, namespace, name):
        """The file the resource is declared in (Skupper's winner if twice), else where a new one goes."""
        declarations = self._declarations(kind, namespace, name)
        if declarations:
            return declarations[-1].source.path
        return self._written.get((kind.kind, namespace, name)) or self.default_path(kind, namespace, name)

    def location(self, kind, namespace, name):
        return self.path(kind, namespace, name)

    def _relative(self, namespace, path):
        return os.path.relpath(path, self.namespace_home(namespace))

    def namespaces_dir(self):
        return os.path.join(self.data_home, "namespaces")

    def lock_path(self, namespace):
        return NamespaceLock(self.data_home, namespace).path

    def _refuse_links(self, namespace, path=None, runtime=False):
        """No folder from namespaces/ down to input/resources (or runtime/resources) may be a link."""
        home = self.namespace_home(namespace)
        below = ("runtime", os.path.join("runtime", "resources")) if runtime else \
            ("input", os.path.join("input", "resources"))
        candidates = [self.namespaces_dir(), home] + [os.path.join(home, part) for part in below] + [path]
        for candidate in candidates:
            if candidate and os.path.islink(candidate):
                raise SkupperError("refusing to use %s: it is a symbolic link (nothing under the data home's "
                                   "namespaces/ is ever read or written through a link); replace it with the folder "
                                   "itself" % candidate)

    def _refuse_unreadable(self, namespace, folder):
        """A folder that exists but cannot be entered is an error, never an empty namespace."""
        try:
            os.stat(folder)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return
            raise SkupperError("cannot read namespace %s: %s: %s (user uid %d)"
                               % (namespace, folder, exc.strerror, os.getuid()))

    # -- reading input ---------------------------------------------------
    def _open_beneath(self, path):
        """An fd of ``path`` opened one component at a time from namespaces/, none of them followed if a link."""
        root = self.namespaces_dir()
        relative = os.path.relpath(path, root)
        if relative.startswith(os.pardir):
            raise SkupperError("refusing to read %s: it is outside %s" % (path, root))
        parts = relative.split(os.sep)
        flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        current, fd = root, _open_folder_nofollow(root)
        try:
            for position, part in enumerate(parts):
                current = os.path.join(current, part)
                last = position == len(parts) - 1
                try:
                    child = os.open(part, flags | (os.O_NONBLOCK if last else os.O_DIRECTORY), dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(current):
                        raise SkupperError("refusing to read %s: %s is a symbolic link (nothing under the data "
                                           "home's namespaces/ is ever read through a link)" % (path, current))
                    raise
                _close(fd)
                fd = child
            return fd
        except BaseException:
            _close(fd)
            raise

    def _read_text(self, path):
        """The file's text and stat, never through a link; None when it does not exist."""
        try:
            fd = self._open_beneath(path)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None, None
            if exc.errno == errno.ELOOP:
                raise SkupperError("refusing to read %s: it is a symbolic link" % path)
            raise SkupperError("cannot read %s: %s" % (path, exc.strerror))
        try:
            with os.fdopen(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise SkupperError("cannot read %s: it is not a regular file" % path)
                data = handle.read()
        except OSError as exc:
            raise SkupperError("cannot read %s: %s" % (path, exc.strerror))
        try:
            return data.decode("utf-8"), st
        except UnicodeDecodeError as exc:
            raise SkupperError("cannot parse %s: it is not UTF-8 text (%s)" % (path, exc))

    def _source(self, path, st):
        cached = self._parsed.get(path)
        if cached is not None and cached.signature == _signature(st):
            return cached
        text, st = self._read_text(path)
        if text is None:
            return None
        try:
            documents = _parse_all(text)
        except yaml.YAMLError as exc:
            raise SkupperError("cannot parse %s: %s (Skupper cannot load it either)" % (path, exc))
        source = _SourceFile(path, text, documents, _signature(st), stat.S_IMODE(st.st_mode))
        self._parsed[path] = source
        return source

    def _walk(self, namespace, directory, index):
        """Files in the order Skupper's DirectoryReader (internal/utils/files.go) returns them.

        ReadDir there lists a folder with (*os.File).ReadDir, which keeps the directory's own
        order (it does not sort), and goes depth first into each subfolder where it meets it;
        os.listdir keeps that same order. Its entries are typed without following links:
        a linked folder is not entered (and, its name not ending .yaml/.yml, not loaded), so it
        is skipped here too; a linked FILE named .yaml/.yml is opened by the loader (os.Open
        follows the link) and so counts, but is never read through here: it is refused, since
        what Skupper loads could not be checked otherwise.
        """
        try:
            entries = os.listdir(directory)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return
            raise SkupperError("cannot list %s: %s" % (directory, exc.strerror))
        for entry in entries:
            path = os.path.join(directory, entry)
            try:
                st = os.lstat(path)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    continue
                raise SkupperError("cannot read %s: %s" % (path, exc.strerror))
            if stat.S_ISDIR(st.st_mode):
                self._walk(namespace, path, index)
            elif entry.endswith(IGNORED_SUFFIX):
                self.warn("%s is ignored by Skupper: it loads only .yaml and .yml files from input/resources, "
                          "never .json; its resources are not part of the site and this module does not count "
                          "them. Convert it to a .yaml file, or remove it" % path)
            elif not is_loaded_name(entry):
                continue
            elif stat.S_ISLNK(st.st_mode):
                raise SkupperError("refusing to read %s: it is a symbolic link, which Skupper's loader follows, "
                                   "but resources are never read or written through a link; replace the link "
                                   "with the file itself, or remove it from input/resources" % path)
            elif not stat.S_ISREG(st.st_mode):
                raise SkupperError("cannot read %s: it is not a regular file (Skupper fails to load it too)"
                                   % path)
            else:
                source = self._source(path, st)
                if source is not None:
                    index.add(source)

    def _index(self, namespace):
        index = self._indexes.get(namespace)
        if index is None:
            self._refuse_links(namespace)
            self._refuse_unreadable(namespace, self.resource_dir(namespace))
            index = _Index()
            if os.path.isdir(self.resource_dir(namespace)):
                self._walk(namespace, self.resource_dir(namespace), index)
            self._indexes[namespace] = index
        return index

    def _declarations(self, kind, namespace, name):
        return self._index(namespace).declarations.get((kind.kind, name)) or []

    def _where(self, namespace, declarations):
        """'a.yaml (document 1) and sub/b.yaml (document 2)': the places of a resource, in load order."""
        places = ["%s (document %d)" % (self._relative(namespace, d.source.path), d.index + 1)
                  for d in declarations]
        return ", ".join(places[:-1]) + " and " + places[-1]

    def _duplicate_warning(self, kind, namespace, name, declarations):
        if kind.one_per_namespace:
            outcome = "Skupper refuses to start or reload with more than one %s ('multiple sites found')" % kind.kind
        else:
            outcome = "Skupper keeps the last one it loads (%s)" % self._relative(
                namespace, declarations[-1].source.path)
        self.warn("%s %s is declared more than once in namespace %s: %s; %s. Remove all but one"
                  % (kind.kind, name, namespace, self._where(namespace, declarations), outcome))

    def write_refusal(self, kind, namespace, name):
        """Why no write may touch this resource (declared twice), or None."""
        declarations = self._declarations(kind, namespace, name)
        if len(declarations) < 2:
            return None
        return ("%s %s is declared more than once in namespace %s: %s; nothing was written. Remove one of them "
                "(Skupper keeps only the last it loads) and run again"
                % (kind.kind, name, namespace, self._where(namespace, declarations)))

    def get(self, kind, namespace, name):
        declarations = self._declarations(kind, namespace, name)
        if not declarations:
            return None
        if len(declarations) > 1:
            self._duplicate_warning(kind, namespace, name, declarations)
        return copy.deepcopy(declarations[-1].obj)

    def list(self, kind, namespace, label_selector=None):
        """Resources of a kind in the namespace, keyed by metadata.name, as Skupper loads them."""
        terms = validation.parse_label_selector(label_selector) if label_selector else None
        found = {}
        for (kind_name, name), declarations in self._index(namespace).declarations.items():
            if kind_name != kind.kind:
                continue
            if len(declarations) > 1:
                self._duplicate_warning(kind, namespace, name, declarations)
            obj = declarations[-1].obj
            labels = obj["metadata"].get("labels") or {}
            if terms and not validation.labels_match(labels, terms):
                continue
            found[name] = copy.deepcopy(obj)
        return found

    # -- reading the running site -----------------------------------------
    def _runtime_path(self, kind, namespace, name):
        # pkg/nonkube/api/site_state.go, marshal: "<Kind>-<name>.yaml" in runtime/resources.
        return os.path.join(self.runtime_dir(namespace), "%s-%s.yaml" % (kind.kind, name))

    def _read_runtime(self, kind, namespace, name):
        """``("missing"|"ok"|"rewriting", object)`` of the resource's runtime file.

        Skupper rewrites it in place (site_state.go, marshal; written again by
        internal/nonkube/controller/network_status_handler.go on every status change), so
        empty or incomplete content is read again a few times before it counts as being
        rewritten. Complete means one mapping of this kind and name.
        """
        path = self._runtime_path(kind, namespace, name)
        self._refuse_links(namespace, runtime=True)
        for attempt in range(RUNTIME_READ_ATTEMPTS):
            text, _st = self._read_text(path)
            if text is None:
                return "missing", None
            try:
                documents = [doc for doc in _parse_all(text) if doc is not None]
            except yaml.YAMLError:
                documents = []
            if len(documents) == 1 and isinstance(documents[0], dict) and documents[0].get("kind") == kind.kind \
                    and _name_of(documents[0]) == name:
                return "ok", documents[0]
            if attempt < RUNTIME_READ_ATTEMPTS - 1:
                self._sleep(RUNTIME_RETRY_SECONDS)
        return "rewriting", None

    def running(self, kind, namespace, name):
        """The resource as the running site holds it, or None when the site does not run it.

        A runtime file that stays empty or incomplete is an error here: a write must not be
        decided on a state that cannot be read.
        """
        state, obj = self._read_runtime(kind, namespace, name)
        if state == "rewriting":
            raise SkupperError("cannot read %s: it stayed empty or incomplete for %.1f s while Skupper rewrites "
                               "it; run again" % (self._runtime_path(kind, namespace, name),
                                                  RUNTIME_READ_ATTEMPTS * RUNTIME_RETRY_SECONDS))
        return obj

    def read_status(self, kind, namespace, name, desired_spec):
        """The resource as the running site reports it, or a synthetic Pending one. Never fails on
        a runtime file being rewritten; a status the site reports (Error included) is kept as is.

        A runtime/ or runtime/resources that is a symbolic link is refused (SkupperError), never
        reported Pending: a status read through it could be anyone's, and waiting on it could
        only end at the timeout; the error names the link at once."""
        self._refuse_links(namespace, runtime=True)
        self._refuse_unreadable(namespace, self.runtime_dir(namespace))
        if not os.path.isdir(self.runtime_dir(namespace)):
            return {"status": {"status": "Pending",
                               "message": "site not initialized: the site has not been started (skupper system start)"}}
        state, running = self._read_runtime(kind, namespace, name)
        if state == "missing":
            return {"status": {"status": "Pending",
                               "message": "not running yet: the site has not been reloaded since the change "
                                          "(skupper system reload)"}}
        if state == "rewriting":
            return {"status": {"status": "Pending",
                               "message": "being rewritten: Skupper is rewriting %s (it was empty or incomplete "
                                          "when read); its status follows" % self._relative(
                                              namespace, self._runtime_path(kind, namespace, name))}}
        # Skupper writes with omitempty: compare as it would write the input (comparison.py).
        if desired_spec is not None and not comparison.running_matches(kind, running.get("spec"), desired_spec):
            previous = (running.get("status") or {})
            message = "reload pending: the running spec differs from input/resources (skupper system reload)"
            if previous.get("status") == "Error":
                message += "; the running version reports Error: %s" % (previous.get("message") or "(no message)")
            running = dict(running)
            running["status"] = {"status": "Pending", "message": message}
        return running

    def observed(self, kind, namespace, obj):
        """The input resource with the status the running site reports for it."""
        running = self.read_status(kind, namespace, obj["metadata"]["name"], obj.get("spec"))
        merged = dict(obj)
        merged["status"] = running.get("status") or {}
        return merged

    # -- writing ---------------------------------------------------------
    def check_writable(self, namespace):
        """Fail, without writing, when the data home cannot take the change (or its lock)."""
        held = self._locks.get(namespace)
        if held is not None and held["lock"].error:
            raise SkupperError("data home %s is not writable: %s" % (self.data_home, held["lock"].error))
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
        """Hold the namespace lock (NamespaceLock) from before the first read through the last write.

        Also flocks the namespace folder when it exists, as earlier versions of this collection
        did, so a run of one of them and a run of this one still exclude each other.
        """
        self._refuse_links(namespace)
        if namespace in self._locks:
            self._locks[namespace]["depth"] += 1
        else:
            lock = NamespaceLock(self.data_home, namespace)
            lock.acquire()
            self._locks[namespace] = {"lock": lock, "depth": 1, "home_fd": self._lock_home(namespace),
                                      "writing": False}
        try:
            yield
        finally:
            held = self._locks[namespace]
            held["depth"] -= 1
            if not held["depth"]:
                del self._locks[namespace]
                if held["home_fd"] is not None:
                    _close(held["home_fd"])
                held["lock"].release()

    def _lock_home(self, namespace):
        try:
            fd = _open_folder_nofollow(self.namespace_home(namespace))
        except OSError:
            return None  # missing, a link (refused on use) or not ours to open (refused on read)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def _start_writing(self, namespace):
        """Before the first write of a namespace: the lock file held, stale temp files of killed runs removed."""
        self._refuse_links(namespace)
        held = self._locks.get(namespace)
        if held is None:
            raise SkupperError("internal error: a write to namespace %s outside its lock" % namespace)
        held["lock"].ensure_held()
        if not held["writing"]:
            held["writing"] = True
            self._remove_stale_temp_files(self.resource_dir(namespace))

    def _remove_stale_temp_files(self, folder):
        """Temp files _write_file left when its run was killed (under the lock, no writer is mid-write).

        Only regular files of its own pattern, ``.<name>.yaml.<8 random>.tmp``, in
        input/resources and its real subfolders (links are not entered) are removed.
        """
        try:
            entries = os.listdir(folder)
        except OSError:
            return
        for entry in entries:
            path = os.path.join(folder, entry)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                self._remove_stale_temp_files(path)
            elif stat.S_ISREG(st.st_mode) and STALE_TEMP.match(entry):
                try:
                    os.unlink(path)
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        self.warn("cannot remove %s, a temp file an interrupted run left: %s" % (path, exc.strerror))

    def _ensure_dirs(self, namespace):
        self._start_writing(namespace)
        directory = self.resource_dir(namespace)
        try:
            os.makedirs(directory, 0o755)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise SkupperError("data home %s is not writable: cannot create %s: %s"
                                   % (self.data_home, directory, exc.strerror))
        self._refuse_links(namespace)
        return directory

    def _refuse_linked_folders(self, namespace, path):
        """No folder between input/resources and the file may have become a link since it was read."""
        root = self.resource_dir(namespace)
        folder = os.path.dirname(path)
        while len(folder) > len(root):
            if os.path.islink(folder):
                raise SkupperError("refusing to write %s: %s is a symbolic link" % (path, folder))
            folder = os.path.dirname(folder)

    def _declared_once(self, kind, namespace, name):
        refusal = self.write_refusal(kind, namespace, name)
        if refusal:
            raise SkupperError(refusal)
        declarations = self._declarations(kind, namespace, name)
        return declarations[0] if declarations else None

    def _unchanged_since_read(self, source):
        """Someone else wrote the file after it was read: read again and plan again."""
        try:
            st = os.lstat(source.path)
        except OSError:
            st = None
        if st is None or _signature(st) != source.signature:
            self._indexes.clear()
            raise ConflictError("%s changed while this task ran" % source.path)

    def create(self, kind, namespace, obj, dry_run=False):
        with self.locked(namespace):
            return self._create(kind, namespace, obj)

    def _create(self, kind, namespace, obj):
        name = obj["metadata"]["name"]
        directory = self._ensure_dirs(namespace)
        existing = self._declared_once(kind, namespace, name)
        if existing is not None:
            # Never a second definition: the engine creates only what it did not find.
            raise SkupperError("%s %s is already declared in %s; nothing was written"
                               % (kind.kind, name, existing.source.path))
        path = self.default_path(kind, namespace, name)
        try:
            st = os.lstat(path)
        except OSError:
            st = None
        if st is not None:
            if stat.S_ISREG(st.st_mode):
                text, _st = self._read_text(path)
                occupied = bool(text and text.strip())
            else:
                occupied = True
            if occupied:
                held = sorted("%s %s" % key for key, decls in self._index(namespace).declarations.items()
                              if any(d.source.path == path for d in decls))
                raise SkupperError("cannot create %s %s: %s already exists and holds %s; nothing was written. "
                                   "Rename or move that file (Skupper loads any .yaml name under input/resources) "
                                   "and run again" % (kind.kind, name, path,
                                                      ", ".join(held) if held else "other content"))
        self._write_file(namespace, directory, path, _dump(obj, "\n"), 0o644)
        self._written[(kind.kind, namespace, name)] = path
        return obj

    def replace(self, kind, namespace, obj, dry_run=False):
        with self.locked(namespace):
            return self._replace(kind, namespace, obj)

    def _replace(self, kind, namespace, obj):
        name = obj["metadata"]["name"]
        self._ensure_dirs(namespace)
        declaration = self._declared_once(kind, namespace, name)
        if declaration is None:
            self._indexes.clear()
            raise ConflictError("%s %s is no longer declared in input/resources" % (kind.kind, name))
        source = declaration.source
        self._unchanged_since_read(source)
        try:
            text = replaced_text(source.text, declaration.index, obj)
        except Unsplittable as exc:
            raise SkupperError("cannot update %s %s in %s: %s; nothing was written. Move it to a file of its own "
                               "(for example %s) and run again"
                               % (kind.kind, name, source.path, exc, self.default_path(kind, namespace, name)))
        self._write_file(namespace, os.path.dirname(source.path), source.path, text, source.mode)
        self._written[(kind.kind, namespace, name)] = source.path
        return obj

    def delete(self, kind, namespace, name, dry_run=False):
        with self.locked(namespace):
            return self._delete(kind, namespace, name)

    def _delete(self, kind, namespace, name):
        self._refuse_links(namespace)
        declaration = self._declared_once(kind, namespace, name)
        if declaration is None:
            return self.path(kind, namespace, name)
        source = declaration.source
        self._unchanged_since_read(source)
        try:
            text = removed_text(source.text, declaration.index)
        except Unsplittable as exc:
            raise SkupperError("cannot remove %s %s from %s: %s; nothing was written. Remove its document from "
                               "that file by hand" % (kind.kind, name, source.path, exc))
        self._refuse_linked_folders(namespace, source.path)
        self._start_writing(namespace)
        if text is None:
            try:
                os.unlink(source.path)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise SkupperError("data home %s is not writable: cannot remove %s: %s"
                                       % (self.data_home, source.path, exc.strerror))
            self._fsync_dir(os.path.dirname(source.path))
            self._indexes.clear()
        else:
            self._write_file(namespace, os.path.dirname(source.path), source.path, text, source.mode)
        self._written[(kind.kind, namespace, name)] = source.path
        return source.path

    def _write_file(self, namespace, directory, path, text, mode):
        """Atomically: a temp file in the same folder, fsync, rename over, fsync the folder.

        Any OS error (a full disk, a file or folder not ours) is a SkupperError naming the file;
        the temp file is removed and the file is as it was.
        """
        self._refuse_linked_folders(namespace, path)
        if os.path.islink(path):
            raise SkupperError("refusing to write %s: it is a symbolic link" % path)
        try:
            # A leading dot and the .tmp suffix: Skupper's loader and watcher never read it (not .yaml/.yml).
            fd, temp_path = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
        except OSError as exc:
            raise SkupperError("data home %s is not writable: cannot write in %s: %s"
                               % (self.data_home, directory, exc.strerror))
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            os.rename(temp_path, path)
        except OSError as exc:
            self._discard(temp_path)
            raise SkupperError("cannot write %s: %s; %s" % (path, exc.strerror, "it is unchanged" if os.path.lexists(
                path) else "it was not created"))
        except BaseException:
            self._discard(temp_path)
            raise
        finally:
            self._indexes.clear()
        self._fsync_dir(directory)

    @staticmethod
    def _discard(temp_path):
        try:
            os.unlink(temp_path)
        except OSError:
            pass  # removed with the next write under the lock (_remove_stale_temp_files)

    @staticmethod
    def _fsync_dir(directory):
        """Make a rename or removal durable; it has happened already, so a failure here is reported as such."""
        try:
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise SkupperError("the change in %s was made but could not be flushed to disk: %s"
                               % (directory, exc.strerror))
