"""A TEST DOUBLE of what Skupper does to a system site's data home.

This module is not Skupper and is never used by the collection itself. It plays
``skupper system start``, ``skupper system reload`` and ``skupper system stop``,
and the system controller's status updates, on a data home in a temporary
folder, so tests can check what the collection reads back (``runtime/resources``)
without podman, docker or a router.

Layout (see the project's skupper-facts.md)::

    <data_home>/namespaces/<namespace>/
        input/resources/<Kind>-<name>.yaml     what the user (the collection) writes
        runtime/resources/<Kind>-<name>.yaml   the resources as running, with status
        runtime/router/skrouterd.json          placeholder router configuration
        runtime/certs/, runtime/links/          empty
        internal/platform.yaml                 ``platform: <platform>``
        internal/scripts/                      placeholder start.sh, stop.sh, unit file

What it does
------------
* ``start_site``: fails when ``runtime/resources`` exists (as ``skupper system
  start`` does), loads and checks the input, creates the runtime and internal
  folders, then writes the running resources.
* ``reload_site``: loads ``input/resources`` (file names matching Skupper's
  ``^([A-Z][a-zA-Z]*)-(.+)\\.(yaml|yml|json)$``, one resource per file, kinds
  Skupper accepts), checks it the way Skupper's site-state loader and validator
  do, and on success rewrites ``runtime/resources/<Kind>-<name>.yaml`` for every
  Site, Listener, MultiKeyListener and Connector (the input object, spec
  unchanged, plus ``status`` from ``skupper_status.py``), each file atomically,
  and removes the runtime files of resources no longer in the input. On a check
  failure it raises :class:`SystemSiteError` and changes nothing, as a failed
  ``skupper system reload`` leaves the running site as it was.
* Status: with ``controller_running=True`` (the system controller is installed
  and running) every status is complete; a listener is matched against
  ``network_connector_keys`` (default: this site's own connectors; use
  :func:`network_keys` or :func:`reload_network` for several sites). With
  ``controller_running=False`` the files carry the ``Configured`` condition
  only, and every listener stays ``Pending``.
* ``stop_site``: removes the WHOLE namespace home, ``input/`` included, as
  ``skupper system stop`` does (``internal/nonkube/bootstrap/teardown.go``).

What it leaves out
------------------
* No router, containers, systemd units, certificates or links: the router
  configuration and scripts are placeholders, ``runtime/certs`` and
  ``runtime/links`` stay empty, and a Site is Ready as soon as it is configured.
* Secrets, ConfigMaps, RouterAccesses, Links and the other accepted kinds are
  read (so they do not fail the load) but get no runtime file.
* Checks not coded: certificates and issuers, links and their secrets,
  router-access roles.
* Message texts taken from Skupper's nonkube loader and validator: missing or
  duplicate Site, several namespaces, invalid names, missing host or port,
  invalid host, duplicate host and port, missing routing key, empty
  multi-key-listener keys. Chosen by this project (not verified): the
  explanation after an invalid name, the strategy (exactly one of
  priority/weighted, weight < 1, type change) messages, the start/reload
  refusals, and the ``Not Matched``-style messages of ``controller_running=False``.
"""

import copy
import ipaddress
import json
import os
import re
import shutil
import tempfile

import yaml

try:  # imported as tests.support.system_controller
    from . import skupper_status
except ImportError:  # run from this folder
    import skupper_status

RESOURCE_FILE = re.compile(r"^([A-Z][a-zA-Z]*)-(.+)\.(yaml|yml|json)$")
ACCEPTED_KINDS = ("Site", "Listener", "Connector", "RouterAccess", "AccessGrant", "Link", "AccessToken",
                  "Certificate", "SecuredAccess", "MultiKeyListener", "Secret", "ConfigMap")
STATUS_KINDS = {"Site": "sites", "Listener": "listeners", "MultiKeyListener": "multikeylisteners",
                "Connector": "connectors"}
PLATFORMS = ("podman", "docker", "linux")
DEFAULT_NAMESPACE = "default"

_RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SYSTEM_HOSTNAME = re.compile(r"^[a-z0-9]+([-.]{1}[a-z0-9]+)*$")


class SystemSiteError(Exception):
    """What a failing ``skupper system start``/``reload`` would report; nothing was changed."""


# ---------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------

def namespace_home(data_home, namespace=DEFAULT_NAMESPACE):
    return os.path.join(os.fspath(data_home), "namespaces", namespace)


def input_dir(data_home, namespace=DEFAULT_NAMESPACE):
    return os.path.join(namespace_home(data_home, namespace), "input", "resources")


def runtime_dir(data_home, namespace=DEFAULT_NAMESPACE):
    return os.path.join(namespace_home(data_home, namespace), "runtime", "resources")


def runtime_path(data_home, namespace, kind, name):
    return os.path.join(runtime_dir(data_home, namespace), "%s-%s.yaml" % (kind, name))


def is_started(data_home, namespace=DEFAULT_NAMESPACE):
    """True when the namespace has a runtime (started and not stopped)."""
    return os.path.isdir(os.path.join(namespace_home(data_home, namespace), "runtime"))


# ---------------------------------------------------------------------------
# Loading and checking the input, as Skupper's loader and validator do
# ---------------------------------------------------------------------------

def _read_document(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise SystemSiteError('error loading "%s": error decoding yaml: %s' % (path, exc))
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise SystemSiteError('error loading "%s": one resource per file is expected' % path)
    return documents[0]


def load_input(data_home, namespace=DEFAULT_NAMESPACE):
    """``{kind: {name: object}}`` of ``input/resources``; raises SystemSiteError as Skupper's loader would."""
    directory = input_dir(data_home, namespace)
    state = {kind: {} for kind in ACCEPTED_KINDS}
    try:
        entries = sorted(os.listdir(directory))
    except FileNotFoundError:
        entries = []
    sites = []
    for entry in entries:
        if not RESOURCE_FILE.match(entry):
            continue
        path = os.path.join(directory, entry)
        if not os.path.isfile(path):
            continue
        obj = _read_document(path)
        kind = obj.get("kind")
        if kind not in ACCEPTED_KINDS:
            continue  # Skupper logs "invalid resource ignored"
        if kind == "Site":
            sites.append(obj)
            if len(sites) > 1:
                raise SystemSiteError("multiple sites found, but only one site is allowed for bootstrapping")
        name = (obj.get("metadata") or {}).get("name") or ""
        state[kind][name] = obj
    if not sites or not (sites[0].get("metadata") or {}).get("name"):
        raise SystemSiteError("no valid site definition has been found")
    found = sorted({(obj.get("metadata") or {}).get("namespace") or DEFAULT_NAMESPACE
                    for objects in state.values() for obj in objects.values()} | {namespace})
    if len(found) > 1:
        raise SystemSiteError("multiple namespaces found, but only a unique namespace must be used across all "
                              "resources - namespaces found: [%s]" % " ".join(found))
    return state


def _valid_host(host):
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_SYSTEM_HOSTNAME.match(host))


def _name_error(name):
    if _RFC1123_LABEL.match(name or ""):
        return None
    return ('invalid name "%s": a lowercase RFC 1123 label is expected (lower case letters, digits and "-", '
            "starting and ending with a letter or digit)" % name)


def _in_order(objects):
    return sorted(objects.values(), key=skupper_status.creation_order)


def validate(state, running=None):
    """Raise SystemSiteError for the first problem Skupper's validator would report.

    ``running``: ``{kind: {name: object}}`` of the running resources, to refuse a
    multi-key listener whose strategy type changed.
    """
    site = next(iter(state["Site"].values()))
    error = _name_error((site.get("metadata") or {}).get("name"))
    if error:
        raise SystemSiteError("invalid site name: " + error)
    used = {}
    for listener in _in_order(state["Listener"]):
        name = (listener.get("metadata") or {}).get("name")
        spec = listener.get("spec") or {}
        error = _name_error(name)
        if error:
            raise SystemSiteError("invalid listener name: " + error)
        host, port = spec.get("host"), spec.get("port")
        if not host or not port:
            raise SystemSiteError("invalid listener: %s - host and port are required" % name)
        if not _valid_host(str(host)):
            raise SystemSiteError('invalid listener host: %s - a valid IP address or hostname is expected '
                                  '(listener: "%s")' % (host, name))
        if (host, port) in used:
            raise SystemSiteError('port %s is already mapped for host "%s" (listener: "%s")' % (port, host, name))
        if not spec.get("routingKey"):
            raise SystemSiteError("routingKey is missing for listener: %s" % name)
        used[(host, port)] = name
    for connector in _in_order(state["Connector"]):
        name = (connector.get("metadata") or {}).get("name")
        spec = connector.get("spec") or {}
        error = _name_error(name)
        if error:
            raise SystemSiteError("invalid connector name: " + error)
        if not spec.get("host") or not spec.get("port"):
            raise SystemSiteError('connector host and port are required (connector: "%s")' % name)
        if not _valid_host(str(spec["host"])):
            raise SystemSiteError('invalid connector host: %s - a valid IP address or hostname is expected '
                                  '(connector: "%s")' % (spec["host"], name))
        if not spec.get("routingKey"):
            raise SystemSiteError("routingKey is missing for connector: %s" % name)
    running_mkls = (running or {}).get("MultiKeyListener") or {}
    for mkl in _in_order(state["MultiKeyListener"]):
        name = (mkl.get("metadata") or {}).get("name")
        spec = mkl.get("spec") or {}
        error = _name_error(name)
        if error:
            raise SystemSiteError("invalid multikeylistener name: " + error)
        host, port = spec.get("host"), spec.get("port")
        if not host or not port:
            raise SystemSiteError("invalid multikeylistener: %s - host and port are required" % name)
        if not _valid_host(str(host)):
            raise SystemSiteError('invalid multikeylistener host: %s - a valid IP address or hostname is expected '
                                  '(multikeylistener: "%s")' % (host, name))
        if (host, port) in used:
            raise SystemSiteError('port %s is already mapped for host "%s" (multikeylistener: "%s")'
                                  % (port, host, name))
        used[(host, port)] = name
        kind, keys = skupper_status.strategy_keys(mkl)
        if kind is None:
            raise SystemSiteError("invalid multikeylistener: %s - exactly one of strategy.priority or "
                                  "strategy.weighted is required" % name)
        if not keys:
            raise SystemSiteError("invalid multikeylistener: %s - routingKeys must not be empty" % name)
        if any(not key for key in keys):
            raise SystemSiteError("invalid multikeylistener: %s - routingKey must not be empty" % name)
        if kind == "weighted":
            for key, weight in sorted(keys.items()):
                if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
                    raise SystemSiteError('invalid multikeylistener: %s - the weight of routingKey "%s" must be '
                                          "an integer of at least 1" % (name, key))
        before = running_mkls.get(name)
        if before is not None:
            previous_kind, _keys = skupper_status.strategy_keys(before)
            if previous_kind and previous_kind != kind:
                raise SystemSiteError("invalid multikeylistener: %s - the strategy type cannot change from %s to "
                                      "%s; delete the multikeylistener and create it again"
                                      % (name, previous_kind, kind))


def load_runtime(data_home, namespace=DEFAULT_NAMESPACE):
    """``{kind: {name: object}}`` of ``runtime/resources`` (empty when the site does not run)."""
    found = {kind: {} for kind in STATUS_KINDS}
    directory = runtime_dir(data_home, namespace)
    try:
        entries = sorted(os.listdir(directory))
    except FileNotFoundError:
        return found
    for entry in entries:
        match = RESOURCE_FILE.match(entry)
        if not match or match.group(1) not in STATUS_KINDS:
            continue
        obj = _read_document(os.path.join(directory, entry))
        found[match.group(1)][match.group(2)] = obj
    return found


def load_runtime_state(data_home, namespace=DEFAULT_NAMESPACE):
    """The running state, loaded as Skupper loads ``runtime/resources`` (``common/site_state_loader.go``
    ``LoadCurrentSiteState``); raises SystemSiteError when it has no Site."""
    found = load_runtime(data_home, namespace)
    if not found["Site"]:
        raise SystemSiteError("no valid site definition has been found")
    return found


def read_runtime(data_home, namespace, kind, name):
    """The running resource ``runtime/resources/<Kind>-<name>.yaml``, or None."""
    try:
        return _read_document(runtime_path(data_home, namespace, kind, name))
    except FileNotFoundError:
        return None


# ---------------------------------------------------------------------------
# Network keys
# ---------------------------------------------------------------------------

def _sites(sites):
    for entry in sites:
        if isinstance(entry, (tuple, list)):
            yield entry[0], (entry[1] if len(entry) > 1 else DEFAULT_NAMESPACE)
        else:
            yield entry, DEFAULT_NAMESPACE


def _input_of(data_home, namespace, kind):
    try:
        return list(load_input(data_home, namespace)[kind].values())
    except SystemSiteError:
        return []  # a site that cannot load does not run, so it serves nothing


def network_keys(sites, started_only=True):
    """Routing keys of the connectors of several sites: a list of ``(data_home, namespace)`` (or data homes).

    Read from each site's input. With ``started_only`` a site that has not been
    started (or was stopped) counts for nothing: its connectors reach nobody.
    """
    keys = set()
    for data_home, namespace in _sites(sites):
        if started_only and not is_started(data_home, namespace):
            continue
        keys |= skupper_status.connector_keys(_input_of(data_home, namespace, "Connector"))
    return keys


def network_listener_keys(sites, started_only=True):
    """Routing keys of the listeners and multi-key listeners of several sites (what connectors match)."""
    keys = set()
    for data_home, namespace in _sites(sites):
        if started_only and not is_started(data_home, namespace):
            continue
        keys |= skupper_status.listener_keys(_input_of(data_home, namespace, "Listener"),
                                             _input_of(data_home, namespace, "MultiKeyListener"))
    return keys


# ---------------------------------------------------------------------------
# Writing the runtime
# ---------------------------------------------------------------------------

def _write_atomically(path, text):
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".tmp-", suffix=".yaml", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _write_runtime(data_home, namespace, state, running, network_connector_keys, network_listener_keys,
                   controller_running, now):
    plural_lists = {}
    for kind, plural in STATUS_KINDS.items():
        objects = []
        for name, obj in state[kind].items():
            clone = copy.deepcopy(obj)
            clone.pop("status", None)
            previous = (running.get(kind) or {}).get(name)
            if previous is not None and previous.get("status"):
                clone["status"] = previous["status"]  # the previous status keeps lastTransitionTime
            objects.append(clone)
        plural_lists[plural] = objects
    statuses = skupper_status.site_statuses(
        listeners=plural_lists["listeners"], multikeylisteners=plural_lists["multikeylisteners"],
        connectors=plural_lists["connectors"], sites=plural_lists["sites"],
        network_connector_keys=network_connector_keys, network_listener_keys=network_listener_keys,
        now=now, require_site=True, configured_only=not controller_running, check_collisions=False)
    written, wanted = [], set()
    for kind, plural in STATUS_KINDS.items():
        for obj in plural_lists[plural]:
            name = obj["metadata"]["name"]
            obj["status"] = statuses[plural][name]
            path = runtime_path(data_home, namespace, kind, name)
            wanted.add(os.path.basename(path))
            _write_atomically(path, yaml.safe_dump(obj, default_flow_style=False, sort_keys=False))
            written.append(path)
    directory = runtime_dir(data_home, namespace)
    for entry in sorted(os.listdir(directory)):
        match = RESOURCE_FILE.match(entry)
        if match and match.group(1) in STATUS_KINDS and entry not in wanted:
            os.unlink(os.path.join(directory, entry))
    return written


def reload_site(data_home, namespace=DEFAULT_NAMESPACE, network_connector_keys=None, network_listener_keys=None,
                controller_running=True, now=None):
    """Play ``skupper system reload`` (and the system controller's status update); returns the paths written.

    ``network_connector_keys`` (routing keys with a connector anywhere in the
    network) defaults to this site's own connectors; ``network_listener_keys``
    likewise. With ``controller_running=False`` (no system controller) the files
    carry ``Configured`` alone and no network keys may be given.
    """
    if not controller_running and (network_connector_keys is not None or network_listener_keys is not None):
        raise ValueError("without a running system controller there is no network status: "
                         "leave network_connector_keys and network_listener_keys out")
    if not is_started(data_home, namespace):
        raise SystemSiteError('namespace "%s" is not initialized in %s: start the site first (skupper system start)'
                              % (namespace, os.fspath(data_home)))
    state = load_input(data_home, namespace)
    running = load_runtime(data_home, namespace)
    validate(state, running)
    if network_connector_keys is None and controller_running:
        network_connector_keys = skupper_status.connector_keys(state["Connector"].values())
    if network_listener_keys is None and controller_running:
        network_listener_keys = skupper_status.listener_keys(state["Listener"].values(),
                                                             state["MultiKeyListener"].values())
    return _write_runtime(data_home, namespace, state, running, network_connector_keys or set(),
                          network_listener_keys or set(), controller_running, now)


def reload_network(sites, controller_running=True, now=None):
    """Reload several started sites as one network (each sees the others' connectors and listeners)."""
    sites = list(_sites(sites))
    connectors = network_keys(sites) if controller_running else None
    listeners = network_listener_keys(sites) if controller_running else None
    written = []
    for data_home, namespace in sites:
        written += reload_site(data_home, namespace, connectors, listeners, controller_running, now)
    return written


def _placeholder(path, text):
    _write_atomically(path, text)


def start_site(data_home, namespace=DEFAULT_NAMESPACE, platform=None, network_connector_keys=None,
               network_listener_keys=None, controller_running=True, now=None):
    """Play ``skupper system start``: refuse a started site, check the input, lay out the runtime, reload.

    ``platform``: ``podman``, ``docker`` or ``linux`` (default ``$SKUPPER_PLATFORM``,
    else ``podman``). Returns the runtime resource paths written.
    """
    platform = platform or os.environ.get("SKUPPER_PLATFORM") or "podman"
    if platform not in PLATFORMS:
        raise SystemSiteError("platform %s is not a system platform (expected one of: %s)"
                              % (platform, ", ".join(PLATFORMS)))
    home = namespace_home(data_home, namespace)
    if os.path.exists(runtime_dir(data_home, namespace)):
        raise SystemSiteError('namespace "%s" is already initialized: %s exists (stop the site first, or reload it)'
                              % (namespace, runtime_dir(data_home, namespace)))
    state = load_input(data_home, namespace)
    validate(state)
    site_name = next(iter(state["Site"]))
    for folder in ("runtime/resources", "runtime/router", "runtime/certs", "runtime/links", "internal/scripts"):
        os.makedirs(os.path.join(home, folder), exist_ok=True)
    router = [["router", {"id": "%s-%s" % (namespace, site_name), "mode": "interior",
                          "metadata": "placeholder written by the system_controller TEST DOUBLE"}]]
    _placeholder(os.path.join(home, "runtime", "router", "skrouterd.json"), json.dumps(router, indent=2) + "\n")
    _placeholder(os.path.join(home, "internal", "platform.yaml"), yaml.safe_dump({"platform": platform}))
    scripts = os.path.join(home, "internal", "scripts")
    _placeholder(os.path.join(scripts, "start.sh"), "#!/bin/sh\n# placeholder (system_controller TEST DOUBLE)\n")
    _placeholder(os.path.join(scripts, "stop.sh"), "#!/bin/sh\n# placeholder (system_controller TEST DOUBLE)\n")
    _placeholder(os.path.join(scripts, "skupper-%s.service" % namespace),
                 "# placeholder unit (system_controller TEST DOUBLE)\n")
    return reload_site(data_home, namespace, network_connector_keys, network_listener_keys, controller_running, now)


def stop_site(data_home, namespace=DEFAULT_NAMESPACE):
    """Play ``skupper system stop``: remove the WHOLE namespace home, ``input/`` included; True if it ran.

    Skupper's teardown (``internal/nonkube/bootstrap/teardown.go``, ``Teardown``)
    reads ``internal/platform.yaml`` first (no file: the command fails, nothing is
    removed; here: False), removes the router container and the systemd unit,
    then ``removeDefinition``: ``os.RemoveAll`` of ``<data home>/namespaces/<ns>``
    (every release 2.0.0 to 2.2.1 and main). Back ``input/`` up BEFORE stopping.
    """
    home = namespace_home(data_home, namespace)
    if not os.path.isfile(os.path.join(home, "internal", "platform.yaml")):
        return False
    shutil.rmtree(home)  # teardown.go removeDefinition: os.RemoveAll(namespace home)
    return True
