"""A TEST DOUBLE of what Skupper does to a system site's data home.

This module is not Skupper and is never used by the collection itself. It plays
``skupper system start``, ``skupper system reload`` and ``skupper system stop``,
and the system controller's status updates, on a data home in a temporary
folder, so tests can check what the collection reads back (``runtime/resources``)
without podman, docker or a router. Each behaviour names the file of Skupper's
source (github ``skupperproject/skupper``, 2.2.1 and main) it comes from.

Layout (``pkg/nonkube/api/environment.go``)::

    <data_home>/namespaces/<namespace>/
        input/resources/**/*.yaml|*.yml        what the user (the collection) writes
        runtime/resources/<Kind>-<name>.yaml   the resources as running, with status
        runtime/router/skrouterd.json          placeholder router configuration
        runtime/issuers/<ca>/{ca.crt,tls.crt,tls.key}      the site CA (skupper-site-ca), link access only
        runtime/certs/<access>/, runtime/certs/client-<access>/   server and client certificates
        runtime/links/link-<access>-<host>.yaml            static links (a Secret, then a Link)
        internal/platform.yaml                 ``platform: <platform>``
        internal/scripts/                      placeholder start.sh, stop.sh, unit file
        internal/snapshot/<Kind>-<name>.yaml   the loaded input (no status)

What it does
------------
* Loader (``internal/nonkube/common/site_state_loader.go``, ``DirectoryReader``
  of ``internal/utils/files.go``): EVERY file whose name ends ``.yaml`` or
  ``.yml`` under ``input/resources``, subfolders included, every YAML document
  of it; never ``.json``. Objects of ``skupper.io/v2alpha1`` (Site, Listener,
  Connector, RouterAccess, AccessGrant, Link, AccessToken, Certificate,
  SecuredAccess, MultiKeyListener) and of core ``v1`` (Secret, ConfigMap) are
  read, anything else is ignored. Resources are kept by kind and
  ``metadata.name``: of two declarations the one loaded last wins. A second
  named Site fails ("multiple sites found ..."), no named Site fails ("no valid
  site definition has been found"), more than one namespace fails ("multiple
  namespaces found ..."); then ``internal/nonkube/bootstrap/bootstrap.go``
  refuses a namespace other than the one started ("namespace must be ...").
* Validator (``internal/nonkube/common/site_state_validator.go``), with its
  messages word for word: names, router accesses, links and their secrets,
  listeners, connectors, multi-key listeners, and the strategy type compared
  with the RUNNING state (``runtime/resources``): "strategy cannot be changed"
  even after the input file was deleted and written again.
* ``start_site`` / ``reload_site``: refuse or validate as above and change
  nothing on failure (a failed ``skupper system reload`` leaves the running
  site as it was); otherwise, as ``internal/nonkube/common/fs_config_renderer.go``
  and ``CleanupNamespaceForReload`` do, ``runtime/resources`` is removed and
  written again from the input, with the render-time status of
  ``pkg/nonkube/api/site_state.go`` (no status is carried over from the
  previous run): Site ``Ready`` (Configured, Running, and Resolved when it has
  endpoints); Listener and Connector Configured plus a ``Ready`` condition
  ``False``/``Pending``/``Not Matched`` (status Pending, message Not Matched);
  MultiKeyListener Configured only (Pending, Not Operational). A reload of a
  namespace never started renders it as a start (``bootstrap.go``).
* System controller (``internal/nonkube/controller/network_status_handler.go``):
  with ``controller_running=True`` each runtime file is then rewritten IN PLACE
  with the status the controller sets from the network: listener and
  connector ``Matched`` (``hasMatchingConnector``/``hasMatchingListener``),
  multi-key listener ``hasDestination`` and ``routingKeysReachable``, Site
  ``Running``. A listener is matched against ``network_connector_keys``
  (default: this site's own connectors; use :func:`network_keys` or
  :func:`reload_network` for several sites).
* Runtime files are marshalled as Go does (``pkg/apis/skupper/v2alpha1/types.go``,
  ``multikeylistener_types.go``, ``k8s.io`` ``ObjectMeta``): keys sorted, fields
  with ``omitempty`` left out when ``false``, ``""``, ``0``, ``{}`` or ``[]``,
  required fields always written, fields the Go types do not know dropped,
  ``metadata.creationTimestamp: null``.
* Rewrites happen IN PLACE (``os.Create`` truncates, then writes; not atomic).
  TEST-ONLY knob, not in Skupper: ``racy_pause`` (seconds) on ``start_site``,
  ``reload_site`` and :func:`write_in_place`, or the environment variable
  ``SKUPPER_DOUBLE_RACY_WRITES``, makes each runtime write racy on purpose:
  truncate, pause, write half, pause, write the rest, so tests can prove that
  the collection's readers retry on an empty or half-written file.
* ``stop_site``: removes the WHOLE namespace home, ``input/`` included, as
  ``skupper system stop`` does (``internal/nonkube/bootstrap/teardown.go``).
* Link access and static links (``site_state_renderer_common.go``
  ``EnableLinkAccess``, ``pkg/nonkube/api/site_state.go``
  ``CreateLinkAccessesCertificates``, ``fs_config_renderer.go``
  ``createTlsCertificates``/``createTokens``, ``pkg/nonkube/api/token.go``,
  ``internal/certs/certs.go``, ``internal/utils/access.go``): a Site with
  ``linkAccess`` set and not ``none`` gets a RouterAccess named after the site
  (inter-router and edge ports from 55671 and 45671, ``subjectAlternativeNames``
  0.0.0.0, ::, the host name and the non-loopback interface addresses), written
  to ``runtime/resources/RouterAccess-<site>.yaml`` with ``tlsCredentials``
  defaulted, Configured/Resolved status and the site endpoints; so does any
  declared RouterAccess with an inter-router or edge role. Real certificates
  (``cryptography``, RSA 2048 as certs.go): the site CA
  ``runtime/issuers/skupper-site-ca`` made once (a reload keeps it, a stop
  removes it), a server certificate per access (its hosts as DNS SANs, IPs also
  as IP SANs) and a client certificate ``client-<access>`` (with
  ``connect.json``). For each host token.go derives (bindHost or 127.0.0.1, the
  server certificate's IP SANs, then its DNS SANs) it writes
  ``runtime/links/link-<access>-<host>.yaml``: ``---`` Secret ``link-<access>``
  (``kubernetes.io/tls``, data ca.crt, connect.json, tls.crt, tls.key, no
  namespace) ``---`` Link ``link-<access>`` (cost 1, endpoints inter-router
  and edge with the ports as strings; ``group: ""`` is left out by omitempty).
* Links of the input: ``runtime/resources/Link-<name>.yaml`` with
  ``Configured`` at render (Pending ``Not Operational``, ``linkMap``); with
  the controller running ``UpdateStatus`` sets ``Operational``: True with
  ``remoteSiteId``/``remoteSiteName`` when the link reaches a started site the
  registry knows, else ``SetOperational(false)``: Pending ``Not operational``.
* TEST-ONLY network registry, not in Skupper: ``$SKUPPER_DOUBLE_NETWORK_DIR``
  (or ``registry=`` on start/reload/stop) names a folder shared by every host
  of a test. Each start or reload writes ``system_<hostname>_<namespace>_<hash
  of the data home>.yaml`` there (site name and id, namespace, host name, data
  home, edge, the fingerprints of its link CAs, its router-access ports, its
  link endpoints ``{router_access, role, host, port}``, its connector and
  listener routing keys, its Links' endpoints and Secret CA); stop removes it.
  A link reaches a peer when the endpoint of its role (``internal/site/link.go``:
  inter-router, edge for an edge site) is a link endpoint of that role of
  another record (127.0.0.1, ::1, 0.0.0.0, :: and localhost only on the same
  host name) and, when its Secret has a ca.crt, that CA is the peer's. Ports
  taken by the other records of the same host name are skipped when ports are
  allocated (AllocateRouterAccessPorts finds them bound by that site's router).
  With the registry, listeners, connectors and multi-key listeners are matched
  against the routing keys of every site connected to this one by links that
  come up (both ways). The double has no daemon: statuses are computed when a
  site starts or reloads, so a peer's own status is only refreshed at ITS next
  reload. Without the registry each site sees only its own connectors and its
  links never come up.

What it leaves out
------------------
* No router, containers or systemd units: the router configuration and
  scripts are placeholders; no link is ever dialled (a link "comes up" by the
  registry rule above). Ports are never probed: only the registry's records
  count as bound (without the registry every site gets 55671/45671).
* Not written: the ``skupper-local`` RouterAccess (its port is taken as 5671
  in ``connect.json``), its certificates, the Certificate resources Skupper
  writes to ``runtime/resources``, ``skupper-service-ca`` and the bridge
  certificates; the site CA and link-access certificates only for a site with
  link access (Skupper makes skupper-site-ca for every site); user-provided
  certificates (``input/certs``, ``input/issuers``, a Secret named after a
  certificate) are not used. ``AccessToken`` resources are not redeemed.
* Only Site, Listener, Connector, MultiKeyListener, Link and RouterAccess are
  marshalled through Go's field lists; the other kinds are written to ``runtime/resources`` as
  loaded (no status, empties dropped). Status ``network``, ``sitesInNetwork``
  and a connector's ``selectedPods`` are never written; a Site's status carries
  no ``defaultIssuer`` (only the Kubernetes controller sets it).
* Go's ``net.InterfaceAddrs`` order is the kernel's netlink order; the double
  lists IPv4 addresses (SIOCGIFCONF) then IPv6 ones (``/proc/net/if_inet6``),
  Linux only. Go map order: RouterAccess status endpoints are sorted by name.
* Skupper reads a folder in the file system's order (``File.ReadDir``), so
  which duplicate "wins" depends on the disk; the double walks in name order.
  Go maps make the first validation error reported random when several
  resources are wrong; the double checks in name order.
* Not checked: the edge-with-HA refusal of main after 2.2.1, ports and types of
  numbers written as strings (Go's converter silently drops them), and the
  platform binaries (podman, docker, skrouterd).
* Messages chosen by this double (not Skupper's words): a document that is not
  a mapping, the start refusal of a started site, the platform refusal.
"""

import base64
import copy
import datetime
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import time
import uuid

import yaml

try:  # imported as tests.support.system_controller
    from . import skupper_status
except ImportError:  # run from this folder
    import skupper_status

SKUPPER_API = "skupper.io/v2alpha1"
SKUPPER_KINDS = ("Site", "Listener", "Connector", "RouterAccess", "AccessGrant", "Link", "AccessToken",
                 "Certificate", "SecuredAccess", "MultiKeyListener")
CORE_KINDS = ("Secret", "ConfigMap")
ACCEPTED_KINDS = SKUPPER_KINDS + CORE_KINDS
STATUS_KINDS = {"Site": "sites", "Listener": "listeners", "MultiKeyListener": "multikeylisteners",
                "Connector": "connectors"}
# pkg/nonkube/api/site_state.go MarshalSiteState: the order runtime files are written in
MARSHAL_ORDER = ("Site", "Listener", "Connector", "RouterAccess", "Link", "AccessGrant", "AccessToken",
                 "Certificate", "SecuredAccess", "MultiKeyListener", "Secret", "ConfigMap")
PLATFORMS = ("podman", "docker", "linux")
DEFAULT_NAMESPACE = "default"
RACY_ENV = "SKUPPER_DOUBLE_RACY_WRITES"
NETWORK_ENV = "SKUPPER_DOUBLE_NETWORK_DIR"  # TEST-ONLY: the folder of the network registry (see the docstring)
INTER_ROUTER_PORT, EDGE_PORT = 55671, 45671  # internal/utils/access.go AllocateRouterAccessPorts
SITE_CA = "skupper-site-ca"  # pkg/nonkube/api/site_state.go CreateLinkAccessesCertificates
RESOURCE_FILE = re.compile(r"^([A-Z][a-zA-Z]*)-(.+)\.yaml$")  # runtime/resources: <Kind>-<name>.yaml

# internal/nonkube/common/site_state_validator.go
_RFC1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOSTNAME = re.compile(r"^[a-z0-9]+([-.]{1}[a-z0-9]+)*$")
_RFC1123_ERROR = ("a lowercase RFC 1123 name must consist of lower case alphanumeric characters or '-', and must "
                  "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_LINK_ACCESS_ROLES = ("edge", "inter-router")


class SystemSiteError(Exception):
    """What a failing ``skupper system start``/``reload`` reports; nothing was changed.

    ``str(error)`` is Skupper's own message; ``bootstrap_error`` is what
    ``bootstrap.go`` makes of it (``failed to load site state: ...``,
    ``failed to render site state: ...``), printed after ``Failed to bootstrap: ``.
    """

    def __init__(self, message, stage=None):
        super().__init__(message)
        prefix = {"load": "failed to load site state: ", "render": "failed to render site state: "}.get(stage, "")
        self.bootstrap_error = prefix + message


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
# Loading, as internal/nonkube/common/site_state_loader.go does
# ---------------------------------------------------------------------------

def resource_files(directory):
    """Every ``*.yaml``/``*.yml`` file under ``directory``, subfolders included (``internal/utils/files.go``).

    Skupper lists a folder in the file system's order; the double sorts by name.
    A missing folder raises FileNotFoundError.
    """
    found = []
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                found += resource_files(entry.path)
            elif entry.name.endswith((".yaml", ".yml")):  # site_state_loader.go filter: never .json
                found.append(entry.path)
    return found


def _load_file(path, state, declared):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise SystemSiteError('error loading "%s": error decoding yaml: %s' % (path, exc), "load")
    for doc in documents:
        if doc is None:
            continue  # an empty document: the YAML reader skips it
        if not isinstance(doc, dict):
            raise SystemSiteError('error loading "%s": a resource must be a mapping (skupper TEST DOUBLE)' % path,
                                  "load")
        if not doc.get("kind"):
            # k8s.io unstructured decoding: runtime.NewMissingKindErr
            raise SystemSiteError("error loading \"%s\": Object 'Kind' is missing in '%s'"
                                  % (path, json.dumps(doc, separators=(",", ":"), default=str)), "load")
        api_version, kind = doc.get("apiVersion"), doc["kind"]
        if not ((api_version == SKUPPER_API and kind in SKUPPER_KINDS) or (api_version == "v1" and kind in CORE_KINDS)):
            continue  # Skupper logs "invalid resource ignored"
        name = (doc.get("metadata") or {}).get("name") or ""
        if kind == "Site":
            if state["Site"] and next(iter(state["Site"])):
                raise SystemSiteError('error loading "%s": multiple sites found, but only one site is allowed for '
                                      "bootstrapping" % path, "load")
            state["Site"].clear()
        state[kind][name] = doc  # a map by name: the declaration loaded last wins
        declared.setdefault((kind, name), []).append(path)


def _namespace_of(obj):
    return (obj.get("metadata") or {}).get("namespace") or DEFAULT_NAMESPACE


def load_dir(directory, with_files=False):
    """``{kind: {name: object}}`` of a folder, loaded as Skupper's FileSystemSiteStateLoader loads it.

    With ``with_files`` also ``{(kind, name): [files declaring it, in load order]}``.
    Raises SystemSiteError (stage ``load``) with Skupper's messages.
    """
    state = {kind: {} for kind in ACCEPTED_KINDS}
    declared = {}
    try:
        files = resource_files(directory)
    except (FileNotFoundError, NotADirectoryError):
        raise SystemSiteError("open %s: no such file or directory" % directory, "load")
    for path in files:
        _load_file(path, state, declared)
    if not state["Site"] or not next(iter(state["Site"])):
        raise SystemSiteError("no valid site definition has been found", "load")
    found = sorted({_namespace_of(obj) for objects in state.values() for obj in objects.values()})
    if len(found) > 1:
        raise SystemSiteError("multiple namespaces found, but only a unique namespace must be used across all "
                              "resources - namespaces found: [%s]" % " ".join(found), "load")
    return (state, declared) if with_files else state


def load_input(data_home, namespace=DEFAULT_NAMESPACE):
    """``{kind: {name: object}}`` of ``input/resources``; raises SystemSiteError as Skupper's loader would."""
    return load_dir(input_dir(data_home, namespace))


def declarations(data_home, namespace=DEFAULT_NAMESPACE):
    """``{(kind, name): [files]}``: where each resource of ``input/resources`` is declared, in load order."""
    return load_dir(input_dir(data_home, namespace), with_files=True)[1]


def check_namespace(state, namespace):
    """``internal/nonkube/bootstrap/bootstrap.go``: sources read from the namespace must use that namespace."""
    site = next(iter(state["Site"].values()))
    defined = _namespace_of(site)
    if defined != (namespace or DEFAULT_NAMESPACE):
        raise SystemSiteError('namespace must be "%s", but sources are defined using "%s"'
                              % (namespace or DEFAULT_NAMESPACE, defined))


def load_runtime_state(data_home, namespace=DEFAULT_NAMESPACE):
    """The running state, loaded as ``LoadCurrentSiteState`` loads ``runtime/resources`` (same loader)."""
    return load_dir(runtime_dir(data_home, namespace))


def load_runtime(data_home, namespace=DEFAULT_NAMESPACE):
    """``{kind: {name: object}}`` of ``runtime/resources``; empty when the site does not run or cannot load."""
    try:
        return load_runtime_state(data_home, namespace)
    except SystemSiteError:
        return {kind: {} for kind in ACCEPTED_KINDS}


def read_runtime(data_home, namespace, kind, name):
    """The running resource ``runtime/resources/<Kind>-<name>.yaml``, or None."""
    try:
        with open(runtime_path(data_home, namespace, kind, name), encoding="utf-8") as handle:
            return yaml.safe_load(handle.read())
    except FileNotFoundError:
        return None


# ---------------------------------------------------------------------------
# Validation, as internal/nonkube/common/site_state_validator.go does
# ---------------------------------------------------------------------------

def _name_check(name, what):
    if not _RFC1123.match(name or ""):
        raise SystemSiteError('%s: invalid name "%s": %s' % (what, name or "", _RFC1123_ERROR), "render")


def _host_ok(host):
    if not isinstance(host, str):
        return False
    if "%" not in host:  # Go's net.ParseIP knows no IPv6 zone
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            pass
    return bool(_HOSTNAME.match(host))


def _spec(obj):
    return obj.get("spec") or {}


def _meta_name(obj):
    return (obj.get("metadata") or {}).get("name") or ""


def _fail(message):
    raise SystemSiteError(message, "render")


def _in_order(objects):
    return [objects[name] for name in sorted(objects)]


def _strategy(obj):
    """(priority, weighted) of a MultiKeyListener spec: each None when absent (Go nil pointers)."""
    strategy = _spec(obj).get("strategy") or {}
    return strategy.get("priority"), strategy.get("weighted")


def validate(state, running=None):
    """Raise SystemSiteError (stage ``render``) for the first problem Skupper's validator reports.

    ``running``: ``{kind: {name: object}}`` of the running resources (``runtime/resources``),
    against which a multi-key listener's strategy type is checked.
    """
    site = next(iter(state["Site"].values()))
    site_ns = (site.get("metadata") or {}).get("namespace")
    if site_ns and not _RFC1123.match(site_ns):
        _fail('invalid namespace "%s": invalid name "%s": %s' % (site_ns, site_ns, _RFC1123_ERROR))
    _name_check(_meta_name(site), "invalid site name")
    for access in _in_order(state["RouterAccess"]):
        name = _meta_name(access)
        _name_check(name, "invalid router access name")
        if _spec(access).get("tlsCredentials"):
            _name_check(_spec(access)["tlsCredentials"], "invalid router access tls credentials")
        roles = _spec(access).get("roles") or []
        if not roles:
            _fail("invalid router access: %s - roles are required" % name)
        for role in roles:
            role_name = (role or {}).get("name") or ""
            if role_name not in _LINK_ACCESS_ROLES:
                _fail("invalid router access: %s - invalid role: %s (valid roles: [%s])"
                      % (name, role_name, " ".join(_LINK_ACCESS_ROLES)))
    if state["Link"]:
        if not state["Secret"]:
            _fail("unable to process links (no secrets found)")
        for key in sorted(state["Link"]):
            link = state["Link"][key]
            _name_check(_meta_name(link), "invalid link name")
            secret = _spec(link).get("tlsCredentials") or ""
            if secret not in state["Secret"]:
                _fail('invalid link "%s" - secret "%s" not found' % (key, secret))
    for token in _in_order(state["AccessToken"]):
        _name_check(_meta_name(token), "invalid access token name")
    for grant in _in_order(state["AccessGrant"]):
        _name_check(_meta_name(grant), "invalid grant name")

    host_ports = {}
    for key in sorted(state["Listener"]):
        listener = state["Listener"][key]
        name, spec = _meta_name(listener), _spec(listener)
        _name_check(name, "invalid listener name")
        host, port = spec.get("host") or "", spec.get("port") or 0
        if not host or not port:
            _fail("invalid listener: %s - host and port are required" % name)
        if not _host_ok(host):
            _fail('invalid listener host: %s - a valid IP address or hostname is expected (listener: "%s")'
                  % (host, key))
        if port in host_ports.get(host, []):
            _fail('port %s is already mapped for host "%s" (listener: "%s")' % (port, host, key))
        if not spec.get("routingKey"):
            _fail("routingKey is missing for listener: %s" % name)
        host_ports.setdefault(host, []).append(port)
    for connector in _in_order(state["Connector"]):
        name, spec = _meta_name(connector), _spec(connector)
        _name_check(name, "invalid connector name")
        host = spec.get("host") or ""
        if not host or not spec.get("port"):
            _fail('connector host and port are required (connector: "%s")' % name)
        if not _host_ok(host):
            _fail('invalid connector host: %s - a valid IP address or hostname is expected (connector: "%s")'
                  % (host, name))
        if not spec.get("routingKey"):
            _fail("routingKey is missing for connector: %s" % name)

    running_mkls = (running or {}).get("MultiKeyListener") or {}
    for key in sorted(state["MultiKeyListener"]):
        mkl = state["MultiKeyListener"][key]
        name, spec = _meta_name(mkl), _spec(mkl)
        _name_check(name, "invalid multikeylistener name")
        host, port = spec.get("host") or "", spec.get("port") or 0
        if not host or not port:
            _fail("invalid multikeylistener: %s - host and port are required" % name)
        if not _host_ok(host):
            _fail('invalid multikeylistener host: %s - a valid IP address or hostname is expected '
                  '(multikeylistener: "%s")' % (host, key))
        if port in host_ports.get(host, []):
            _fail('port %s is already mapped for host "%s" (multikeylistener: "%s")' % (port, host, key))
        host_ports.setdefault(host, []).append(port)
        priority, weighted = _strategy(mkl)
        if priority is None and weighted is None:
            _fail("invalid multikeylistener: %s - either strategy.priority or strategy.weighted is required" % name)
        if priority is not None and weighted is not None:
            _fail("invalid multikeylistener: %s - only one of strategy.priority or strategy.weighted must be "
                  "defined" % name)
        chosen = priority if priority is not None else weighted
        keys = chosen.get("routingKeys") if isinstance(chosen, dict) else None
        if weighted is not None and not isinstance(keys, dict):
            keys = None  # not a map: Go's converter leaves the routing keys out
        if not keys:
            _fail("invalid multikeylistener: %s - routingKeys must not be empty" % name)
        for routing_key in keys:
            if not routing_key:
                _fail("invalid multikeylistener: %s - routingKey must not be empty" % name)
            if weighted is not None:
                weight = keys[routing_key]
                if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
                    _fail("invalid multikeylistener: %s - weight value must be positive" % name)
        current = running_mkls.get(key)
        if current is not None:
            was_priority, was_weighted = _strategy(current)
            if (was_priority is not None and priority is None) or (was_weighted is not None and weighted is None):
                _fail("invalid multikeylistener: %s - strategy cannot be changed" % name)


# ---------------------------------------------------------------------------
# Network keys
# ---------------------------------------------------------------------------

def _sites(sites):
    for entry in sites:
        if isinstance(entry, (tuple, list)):
            yield entry[0], (entry[1] if len(entry) > 1 else DEFAULT_NAMESPACE)
        else:
            yield entry, DEFAULT_NAMESPACE


def _running_of(data_home, namespace, kind):
    """What a started site serves: its running resources (a site that cannot load serves nothing)."""
    return list(load_runtime(data_home, namespace)[kind].values())


def network_keys(sites, started_only=True):
    """Routing keys of the connectors of several sites: a list of ``(data_home, namespace)`` (or data homes).

    Read from each site's running state. With ``started_only`` a site that has
    not been started (or was stopped) counts for nothing: its connectors reach
    nobody. Without it the site's input counts.
    """
    keys = set()
    for data_home, namespace in _sites(sites):
        if is_started(data_home, namespace):
            keys |= skupper_status.connector_keys(_running_of(data_home, namespace, "Connector"))
        elif not started_only:
            keys |= skupper_status.connector_keys(_input_of(data_home, namespace, "Connector"))
    return keys


def network_listener_keys(sites, started_only=True):
    """Routing keys of the listeners and multi-key listeners of several sites (what connectors match)."""
    keys = set()
    for data_home, namespace in _sites(sites):
        if is_started(data_home, namespace):
            keys |= skupper_status.listener_keys(_running_of(data_home, namespace, "Listener"),
                                                 _running_of(data_home, namespace, "MultiKeyListener"))
        elif not started_only:
            keys |= skupper_status.listener_keys(_input_of(data_home, namespace, "Listener"),
                                                 _input_of(data_home, namespace, "MultiKeyListener"))
    return keys


def _input_of(data_home, namespace, kind):
    try:
        return list(load_input(data_home, namespace)[kind].values())
    except SystemSiteError:
        return []


# ---------------------------------------------------------------------------
# Marshalling, as Go's encoding/json does with the v2alpha1 types
# ---------------------------------------------------------------------------

# (field, required): required fields have no omitempty and are always written (types.go,
# multikeylistener_types.go); the others are left out when empty. Fields not listed are
# unknown to the Go types and dropped.
_SPEC_FIELDS = {
    "Site": (("serviceAccount", False), ("linkAccess", False), ("defaultIssuer", False), ("edge", False),
             ("ha", False), ("settings", False)),
    "Listener": (("routingKey", True), ("host", True), ("port", True), ("tlsCredentials", False), ("type", False),
                 ("observer", False), ("exposePodsByName", False), ("settings", False)),
    "Connector": (("routingKey", True), ("host", False), ("selector", False), ("port", True),
                  ("tlsCredentials", False), ("useClientCert", False), ("verifyHostname", False), ("type", False),
                  ("exposePodsByName", False), ("includeNotReadyPods", False), ("settings", False)),
    "MultiKeyListener": (("host", True), ("port", True), ("tlsCredentials", False), ("requireClientCert", False),
                         ("settings", False), ("strategy", True), ("observer", False)),
    "Link": (("endpoints", True), ("tlsCredentials", False), ("cost", False), ("settings", False)),
    "RouterAccess": (("accessType", False), ("roles", True), ("tlsCredentials", True),
                     ("generateTlsCredentials", False), ("issuer", False), ("bindHost", False),
                     ("subjectAlternativeNames", False), ("settings", False)),
}
# required fields: their zero value (Go nil slices are null)
_ZERO = {"routingKey": "", "host": "", "port": 0, "strategy": {}, "endpoints": None, "roles": None,
         "tlsCredentials": ""}
_STATUS_FIELDS = {
    "Site": ("endpoints", "sitesInNetwork", "network", "defaultIssuer", "controller"),
    "Listener": ("hasMatchingConnector",),
    "Connector": ("selectedPods", "hasMatchingListener"),
    "MultiKeyListener": ("hasDestination", "strategy"),
    "Link": ("remoteSiteId", "remoteSiteName"),
    "RouterAccess": ("endpoints",),
}
# k8s.io/apimachinery ObjectMeta (every field omitempty; creationTimestamp is a struct: null when zero)
_META_FIELDS = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
                "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
                "ownerReferences", "finalizers", "managedFields")


def _empty(value):
    """Go's omitempty: false, 0, "", nil, and empty maps and slices."""
    if value is None or value is False:
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == 0
    if isinstance(value, (str, list, dict)):
        return len(value) == 0
    return False


def _omit_empty(mapping, fields=None):
    result = {}
    for key, value in mapping.items():
        if fields is not None and key not in fields:
            continue
        if not _empty(value):
            result[key] = value
    return result


def _marshal_strategy(strategy):
    out = {}
    for which in ("priority", "weighted"):
        if isinstance(strategy, dict) and strategy.get(which) is not None:
            # PriorityStrategySpec/WeightedStrategySpec: routingKeys has no omitempty (nil is null)
            out[which] = {"routingKeys": (strategy[which] or {}).get("routingKeys")}
    return out


def _marshal_condition(cond):
    # metav1.Condition: observedGeneration omitempty; lastTransitionTime, reason and message always
    out = {"type": cond.get("type", ""), "status": cond.get("status", ""),
           "lastTransitionTime": cond.get("lastTransitionTime"), "reason": cond.get("reason", ""),
           "message": cond.get("message", "")}
    if cond.get("observedGeneration"):
        out["observedGeneration"] = cond["observedGeneration"]
    return out


def marshal(obj):
    """The object as Skupper writes it to ``runtime/resources`` (a dict; see :func:`marshal_text`)."""
    kind = obj.get("kind")
    meta = _omit_empty(obj.get("metadata") or {}, _META_FIELDS)
    meta["creationTimestamp"] = (obj.get("metadata") or {}).get("creationTimestamp")
    out = _omit_empty({"apiVersion": obj.get("apiVersion"), "kind": kind})
    out["metadata"] = meta
    if kind not in _SPEC_FIELDS:
        for key, value in obj.items():
            if key not in ("apiVersion", "kind", "metadata", "status") and not _empty(value):
                out[key] = value
        return out
    spec_in = obj.get("spec") or {}
    spec = {}
    for field, required in _SPEC_FIELDS[kind]:
        value = spec_in.get(field)
        if field == "strategy":
            value = _marshal_strategy(value)
        elif field == "endpoints" and isinstance(value, list):  # types.go Endpoint: every field omitempty
            value = [_omit_empty(item or {}, ("name", "host", "port", "group")) for item in value]
        elif field == "roles" and isinstance(value, list):  # RouterAccessRole: name always, port omitempty
            value = [dict({"name": (item or {}).get("name") or ""}, **_omit_empty(item or {}, ("port",)))
                     for item in value]
        if required:
            spec[field] = _ZERO[field] if value is None else value
        elif not _empty(value):
            spec[field] = value
    out["spec"] = spec
    status_in = obj.get("status") or {}
    status = {}
    if status_in.get("conditions"):
        status["conditions"] = [_marshal_condition(c) for c in status_in["conditions"]]
    for field in ("status", "message") + _STATUS_FIELDS[kind]:
        value = status_in.get(field)
        if field == "strategy" and isinstance(value, dict):
            # StrategyStatus: priority/weighted omitempty; routingKeysReachable always ([] or {})
            value = {which: {"routingKeysReachable": (value[which] or {}).get("routingKeysReachable")
                             or ([] if which == "priority" else {})}
                     for which in ("priority", "weighted") if value.get(which) is not None}
            if value:
                status[field] = value
            continue
        if not _empty(value):
            status[field] = value
    out["status"] = status
    return out


def marshal_text(obj):
    """YAML of :func:`marshal`, keys sorted (Go's JSON turned into YAML by sigs.k8s.io/yaml)."""
    return yaml.safe_dump(marshal(obj), default_flow_style=False, sort_keys=True)


# ---------------------------------------------------------------------------
# Link access: RouterAccess, certificates and static links (fs_config_renderer.go createTokens)
# ---------------------------------------------------------------------------

def _interface_ipv4():
    """IPv4 addresses of every interface (SIOCGIFCONF), in the kernel's order."""
    import array  # pylint: disable=import-outside-toplevel
    import fcntl  # pylint: disable=import-outside-toplevel
    import struct  # pylint: disable=import-outside-toplevel
    found = []
    request_size = 40  # struct ifreq on 64-bit Linux
    buffer = array.array("B", b"\0" * (request_size * 128))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), 0x8912,  # SIOCGIFCONF
                                 struct.pack("iL", len(buffer), buffer.buffer_info()[0]))
        except OSError:
            return found
    size = struct.unpack("iL", answer)[0]
    data = buffer.tobytes()[:size]
    for offset in range(0, size, request_size):
        found.append(socket.inet_ntoa(data[offset + 20:offset + 24]))
    return found


def _interface_ipv6():
    """IPv6 addresses of every interface (``/proc/net/if_inet6``)."""
    found = []
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as handle:
            for line in handle:
                fields = line.split()
                if fields:
                    found.append(str(ipaddress.IPv6Address(int(fields[0], 16))))
    except (OSError, ValueError):
        pass
    return found


def interface_addresses():
    """``net.InterfaceAddrs`` without loopback addresses, IPv4 first (``internal/utils/access.go``)."""
    return [address for address in _interface_ipv4() + _interface_ipv6()
            if not ipaddress.ip_address(address).is_loopback]


def default_sans():
    """``internal/utils/access.go`` GetSansByDefault: 0.0.0.0, ::, the host name, then the interface addresses."""
    return ["0.0.0.0", "::", socket.gethostname()] + interface_addresses()


def _has_link_role(access):
    return any((role or {}).get("name") in _LINK_ACCESS_ROLES for role in _spec(access).get("roles") or [])


def _next_free(port, taken):
    """``internal/utils/tcp.go`` TcpPortNextFree, where "in use" means taken by another started site of this host."""
    while port in taken:
        port += 1
    return port


def allocate_router_access_ports(taken=()):
    """``internal/utils/access.go`` AllocateRouterAccessPorts: (inter-router, edge) from 55671 and 45671."""
    taken = set(taken)
    inter_router = _next_free(INTER_ROUTER_PORT, taken)
    edge = _next_free(EDGE_PORT, taken)
    if edge == inter_router:
        edge = _next_free(edge + 1, taken)
    return inter_router, edge


def _runtime_accesses(state, namespace, taken_ports):
    """The RouterAccesses of the running site: those of the input, the one ``EnableLinkAccess``
    (``site_state_renderer_common.go``) adds for a Site's ``linkAccess``, and ``tlsCredentials`` defaulted
    to the access's name as ``CreateLinkAccessesCertificates`` (``pkg/nonkube/api/site_state.go``) does."""
    accesses = copy.deepcopy(state["RouterAccess"])
    site = next(iter(state["Site"].values()))
    site_name = _meta_name(site)
    if skupper_status.site_needs_resolution(site) and site_name not in accesses:
        inter_router, edge = allocate_router_access_ports(taken_ports)
        accesses[site_name] = {
            "apiVersion": SKUPPER_API, "kind": "RouterAccess",
            "metadata": {"name": site_name, "namespace": (site.get("metadata") or {}).get("namespace") or namespace},
            "spec": {"roles": [{"name": "inter-router", "port": inter_router}, {"name": "edge", "port": edge}],
                     "subjectAlternativeNames": default_sans()}}
    for name, access in accesses.items():
        if _has_link_role(access):
            access.setdefault("spec", {})
            access["spec"]["tlsCredentials"] = access["spec"].get("tlsCredentials") or name
    return accesses


def _crypto():
    try:
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives.asymmetric import rsa  # pylint: disable=import-outside-toplevel
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise SystemSiteError("the skupper TEST DOUBLE needs the Python package cryptography to make the "
                              "certificates of a site with link access", "render")
    return x509, hashes, serialization, rsa, ExtendedKeyUsageOID, NameOID


def _generate_secret(subject, hosts=(), issuer=None):
    """``internal/certs/certs.go`` GenerateSecret: RSA 2048 (PKCS#1), CN ``subject``, 5 years, key
    encipherment + digital signature, server and client auth; each host a DNS SAN (and an IP SAN when
    it is an IP); self-signed CA (cert sign) without ``issuer``. Returns {file name: PEM text}."""
    x509, hashes, serialization, rsa, usage, name_oid = _crypto()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(name_oid.COMMON_NAME, subject)])
    ips, dns = [], []
    for host in hosts:
        host = host.strip()
        try:
            ips.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            pass
        dns.append(x509.DNSName(host))
    if issuer is None:
        issuer_name, issuer_key = name, key
    else:
        issuer_cert = x509.load_pem_x509_certificate(issuer["tls.crt"].encode("ascii"))
        issuer_key = serialization.load_pem_private_key(issuer["tls.key"].encode("ascii"), password=None)
        issuer_name = issuer_cert.subject
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=5 * 365))
               .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True,
                                            key_cert_sign=issuer is None, crl_sign=False, content_commitment=False,
                                            data_encipherment=False, key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage.SERVER_AUTH, usage.CLIENT_AUTH]), critical=False))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName(dns + ips), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode("ascii")
    files = {"tls.crt": cert,
             "tls.key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()).decode("ascii")}
    files["ca.crt"] = cert if issuer is None else issuer["tls.crt"]  # certs.go: the CA's tls.crt
    return files


def _read_files(folder):
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return None
    files = {}
    for name in names:
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            files[name] = handle.read()
    return files


def _write_files(folder, files):
    os.makedirs(folder, exist_ok=True)
    for name, text in sorted(files.items()):
        path = os.path.join(folder, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(path, 0o640)  # fs_config_renderer.go writeSecretFiles: 0640


def _issuer(home, name):
    """A CA under ``runtime/issuers/<name>``: kept when it exists (``writeSecretFilesIgnore`` with
    ignoreExisting; ``CleanupNamespaceForReload`` never removes runtime/issuers), else made."""
    folder = os.path.join(home, "runtime", "issuers", name)
    files = _read_files(folder)
    if files and "tls.crt" in files and "tls.key" in files:
        return files
    files = _generate_secret(name)
    _write_files(folder, files)
    return files


def _connect_json(port=5671):
    """fs_config_renderer.go connectJson, for the skupper-local RouterAccess (port 5671: see the docstring)."""
    return ('\n{\n    "scheme": "amqps",\n    "host": "127.0.0.1",\n    "port": "%d",\n    "tls": {\n'
            '        "ca": "/etc/messaging/ca.crt",\n        "cert": "/etc/messaging/tls.crt",\n'
            '        "key": "/etc/messaging/tls.key",\n        "verify": true\n    }\n}\n' % port)


def _certificate_hosts(cert_pem):
    """IP SANs, then DNS SANs, of a certificate (as ``pkg/nonkube/api/token.go`` CreateTokens reads them)."""
    x509 = _crypto()[0]
    cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)], list(sans.get_values_for_type(x509.DNSName))


def token_hosts(access, server_cert_pem):
    """``pkg/nonkube/api/token.go`` CreateTokens: bindHost (default 127.0.0.1), the server certificate's IP
    SANs, then its DNS SANs (each once); with none, the RouterAccess's subjectAlternativeNames."""
    spec = _spec(access)
    hosts = [spec.get("bindHost") or "127.0.0.1"]
    ips, names = _certificate_hosts(server_cert_pem) if server_cert_pem else ([], [])
    for host in ips + names:
        if host and host not in hosts:
            hosts.append(host)
    if len(hosts) == 1 and spec.get("subjectAlternativeNames"):
        hosts += list(spec["subjectAlternativeNames"])
    return hosts


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def static_link_text(access, host, client_files):
    """``pkg/nonkube/api/token.go`` CreateTokens and Token.Marshal: ``---``, the Secret ``link-<access>``
    (no namespace), ``---``, the Link ``link-<access>`` (cost 1, the ports as strings, group "" left out by
    omitempty), each as the Kubernetes YAML serializer writes it (keys sorted, ``creationTimestamp: null``,
    the Link's ``status: {}``)."""
    name = "link-%s" % _meta_name(access)
    ports = {(role or {}).get("name"): (role or {}).get("port") for role in _spec(access).get("roles") or []}
    endpoints = [{"host": host, "name": role, "port": str(ports[role])}
                 for role in ("inter-router", "edge") if ports.get(role)]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"creationTimestamp": None, "name": name},
              "type": "kubernetes.io/tls", "data": {key: _b64(value) for key, value in sorted(client_files.items())}}
    link = {"apiVersion": SKUPPER_API, "kind": "Link", "metadata": {"creationTimestamp": None, "name": name},
            "spec": {"cost": 1, "endpoints": endpoints, "tlsCredentials": name}, "status": {}}
    return "".join("---\n" + yaml.safe_dump(obj, default_flow_style=False, sort_keys=True, width=1 << 30)
                   for obj in (secret, link))


def _render_link_access(home, accesses):
    """Certificates (``createTlsCertificates``) and static links (``createTokens``) of every RouterAccess with
    an inter-router or edge role. Returns ``{access name: [(role, host, port)]}`` (the link endpoints) and
    the fingerprints of the CAs that sign them."""
    endpoints, cas = {}, set()
    for name in sorted(accesses):
        access = accesses[name]
        if not _has_link_role(access):
            continue
        spec = _spec(access)
        issuer = _issuer(home, spec.get("issuer") or SITE_CA)
        cas.add(pem_fingerprint(issuer["tls.crt"]))
        cert_name = spec["tlsCredentials"]
        hosts = list(spec.get("subjectAlternativeNames") or [])
        if spec.get("bindHost") and spec["bindHost"] not in hosts:
            hosts.append(spec["bindHost"])
        server = _generate_secret(name, hosts, issuer)
        _write_files(os.path.join(home, "runtime", "certs", cert_name), server)
        client = _generate_secret("client-%s" % cert_name, (), issuer)
        client["connect.json"] = _connect_json()
        _write_files(os.path.join(home, "runtime", "certs", "client-%s" % cert_name), client)
        ports = [((role or {}).get("name"), (role or {}).get("port")) for role in spec.get("roles") or []
                 if (role or {}).get("name") in _LINK_ACCESS_ROLES and (role or {}).get("port")]
        if not ports:
            continue  # token.go CreateTokens: no inter-router and no edge port, no token
        endpoints[name] = []
        for host in token_hosts(access, server["tls.crt"]):
            path = os.path.join(home, "runtime", "links", "link-%s-%s.yaml" % (name, host))
            with open(path, "w", encoding="utf-8") as handle:  # os.WriteFile, 0644
                handle.write(static_link_text(access, host, client))
            endpoints[name] += [(role, host, str(port)) for role, port in ports]
    return endpoints, sorted(cas)


def pem_fingerprint(text):
    """A fingerprint of the first certificate of a PEM text (sha256 of its base64 body), or None."""
    match = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", text or "", re.S)
    if not match:
        return None
    return hashlib.sha256("".join(match.group(1).split()).encode("ascii")).hexdigest()


def _secret_ca(secret):
    data = (secret or {}).get("data") or {}
    try:
        return pem_fingerprint(base64.b64decode(data.get("ca.crt") or "").decode("ascii", "replace"))
    except (ValueError, TypeError):
        return None


# ---------------------------------------------------------------------------
# The TEST-ONLY network registry ($SKUPPER_DOUBLE_NETWORK_DIR)
# ---------------------------------------------------------------------------

def network_dir(explicit=None):
    """The registry folder: ``explicit``, else ``$SKUPPER_DOUBLE_NETWORK_DIR``, else None (no registry)."""
    return explicit or os.environ.get(NETWORK_ENV) or None


def _safe(text):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text or "")


def record_path(directory, data_home, namespace, hostname=None):
    """``<registry>/system_<hostname>_<namespace>_<hash of the data home>.yaml``."""
    digest = hashlib.sha256(os.path.realpath(os.fspath(data_home)).encode("utf-8")).hexdigest()[:12]
    name = "system_%s_%s_%s.yaml" % (_safe(hostname or socket.gethostname()), _safe(namespace), digest)
    return os.path.join(directory, name)


class _NetworkLock:
    """An exclusive lock of one host name's port allocation in the registry (fcntl, across processes)."""

    def __init__(self, directory, hostname):
        self.path = os.path.join(directory, ".lock-%s" % _safe(hostname))
        self.handle = None

    def __enter__(self):
        import fcntl  # pylint: disable=import-outside-toplevel
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.handle = open(self.path, "a", encoding="utf-8")  # pylint: disable=consider-using-with
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info):
        self.handle.close()  # releases the lock


def read_network(directory):
    """Every site record of the registry (a list of dicts, by file name); unreadable records are skipped."""
    records = []
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return records
    for name in names:
        if not name.endswith(".yaml"):
            continue
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                record = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(record, dict) and record.get("key"):
            records.append(record)
    return records


def write_record(directory, record):
    """Write one site record atomically (readers on other hosts never see half of it)."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, record["key"] + ".yaml")
    temp = "%s.tmp-%d" % (path, os.getpid())
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(yaml.safe_dump(record, default_flow_style=False, sort_keys=True))
    os.replace(temp, path)
    return path


def remove_record(directory, key):
    try:
        os.unlink(os.path.join(directory, key + ".yaml"))
    except FileNotFoundError:
        pass


def _local_only(host):
    """Loopback and wildcard addresses reach only the host they are used on."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def link_peer(record, link, records):
    """The record of the site a link of ``record`` reaches, or None.

    ``internal/site/link.go`` Apply: an interior site uses the link's ``inter-router`` endpoint, an edge
    site its ``edge`` endpoint; the link comes up when that (host, port) is a link endpoint of the same
    role of another started site (a loopback or wildcard host only on the same host name), and, when
    the link's Secret has a ``ca.crt``, that CA is one the peer signs its link access with.
    """
    role = "edge" if record.get("edge") else "inter-router"
    target = next((e for e in link.get("endpoints") or [] if e.get("name") == role), None)
    if not target:
        return None
    host, port = target.get("host"), str(target.get("port") or "")
    for other in records:
        if other.get("key") == record.get("key"):
            continue
        if _local_only(host) and other.get("hostname") != record.get("hostname"):
            continue
        if not any(e.get("role") == role and e.get("host") == host and str(e.get("port")) == port
                   for e in other.get("endpoints") or []):
            continue
        if link.get("ca") and other.get("cas") and link["ca"] not in other["cas"]:
            continue
        return other
    return None


def connected_keys(records, start_key):
    """Keys of the records reachable from ``start_key`` over links that come up (links route both ways)."""
    by_key = {record["key"]: record for record in records}
    neighbours = {key: set() for key in by_key}
    for record in records:
        for link in record.get("links") or []:
            peer = link_peer(record, link, records)
            if peer is not None:
                neighbours[record["key"]].add(peer["key"])
                neighbours[peer["key"]].add(record["key"])
    seen, todo = set(), [start_key]
    while todo:
        key = todo.pop()
        if key in seen or key not in by_key:
            continue
        seen.add(key)
        todo.extend(neighbours[key] - seen)
    return seen


def network_routing_keys(records, keys):
    """(connector keys, listener keys) declared by the records whose key is in ``keys``."""
    connectors, listeners = set(), set()
    for record in records:
        if record["key"] in keys:
            connectors |= set(record.get("connector_keys") or ())
            listeners |= set(record.get("listener_keys") or ())
    return connectors, listeners


def _site_record(key, state, site_id, namespace, data_home, hostname, link_endpoints, cas, accesses):
    site = next(iter(state["Site"].values()))
    links = []
    for name in sorted(state["Link"]):
        link = state["Link"][name]
        links.append({"name": name, "endpoints": [
            {"name": (e or {}).get("name"), "host": (e or {}).get("host"), "port": str((e or {}).get("port") or "")}
            for e in _spec(link).get("endpoints") or []],
            "ca": _secret_ca(state["Secret"].get(_spec(link).get("tlsCredentials") or ""))})
    ports = sorted({(role or {}).get("port") for access in accesses.values()
                    for role in _spec(access).get("roles") or [] if (role or {}).get("port")})
    return {"key": key, "double": "system", "site_name": _meta_name(site), "site_id": site_id,
            "namespace": namespace, "hostname": hostname, "data_home": os.path.realpath(os.fspath(data_home)),
            "edge": bool(_spec(site).get("edge")), "cas": cas, "ports": ports,
            "endpoints": [{"router_access": name, "role": role, "host": host, "port": port}
                          for name in sorted(link_endpoints) for role, host, port in link_endpoints[name]],
            "connector_keys": sorted(skupper_status.connector_keys(state["Connector"].values())),
            "listener_keys": sorted(skupper_status.listener_keys(state["Listener"].values(),
                                                                 state["MultiKeyListener"].values())),
            "links": links}


# ---------------------------------------------------------------------------
# Writing the runtime: in place, as os.Create does
# ---------------------------------------------------------------------------

def _racy_pause(racy_pause):
    if racy_pause is not None:
        return float(racy_pause)
    try:
        return float(os.environ.get(RACY_ENV) or 0)
    except ValueError:
        return 0.0


def write_in_place(path, text, racy_pause=None):
    """Rewrite ``path`` as ``os.Create`` + write does (``pkg/nonkube/api/site_state.go`` ``marshal``).

    The file is truncated, then written: not atomic, a reader may meet it empty
    or half written. TEST-ONLY: ``racy_pause`` (seconds; default
    ``$SKUPPER_DOUBLE_RACY_WRITES``, else 0) truncates, pauses, writes the first
    half, pauses again and writes the rest, so the window is wide on purpose.
    """
    pause = _racy_pause(racy_pause)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:  # O_CREAT|O_TRUNC, as os.Create
        if pause > 0:
            handle.flush()
            time.sleep(pause)
            half = len(text) // 2
            handle.write(text[:half])
            handle.flush()
            time.sleep(pause)
            handle.write(text[half:])
        else:
            handle.write(text)


def _site_endpoints(state):
    """``fs_config_renderer.go`` Render: an endpoint per router-access role other than ``normal``, for the
    RouterAccesses of the running site (``state`` already holds the one ``EnableLinkAccess`` adds)."""
    endpoints = []
    for name in sorted(state["RouterAccess"]):
        spec = _spec(state["RouterAccess"][name])
        for role in spec.get("roles") or []:
            if (role or {}).get("name") != "normal":
                endpoints.append(_omit_empty({"name": "%s-%s" % (name, role.get("name")),
                                              "host": spec.get("bindHost") or "",
                                              "port": str(role.get("port") or 0), "group": "skupper-router"}))
    return endpoints


def _statuses(state, network_connector_keys, network_listener_keys, controller_running, now):
    """The status of every Site, Listener, MultiKeyListener and Connector, as written to runtime files."""
    lists = {}
    for kind, plural in STATUS_KINDS.items():
        objects = []
        for name in sorted(state[kind]):
            clone = copy.deepcopy(state[kind][name])
            clone.pop("status", None)  # fs_config_renderer.go: the runtime starts from the loaded input
            objects.append(clone)
        lists[plural] = objects
    # render time (pkg/nonkube/api/site_state.go bindings(), fs_config_renderer.go Render)
    rendered = skupper_status.site_statuses(
        listeners=lists["listeners"], multikeylisteners=lists["multikeylisteners"], connectors=lists["connectors"],
        sites=lists["sites"], now=now, require_site=True, configured_only=True, check_collisions=False)
    endpoints = _site_endpoints(state)
    for obj in lists["sites"]:
        rendered["sites"][_meta_name(obj)] = skupper_status.rendered_site_status(obj, endpoints, now)
    if not controller_running:
        return lists, rendered
    # the system controller (controller/network_status_handler.go, api/site_state.go UpdateStatus)
    for plural, objects in lists.items():
        for obj in objects:
            obj["status"] = rendered[plural][_meta_name(obj)]
    settled = skupper_status.site_statuses(
        listeners=lists["listeners"], multikeylisteners=lists["multikeylisteners"], connectors=lists["connectors"],
        sites=[], network_connector_keys=network_connector_keys, network_listener_keys=network_listener_keys,
        now=now, require_site=False, check_collisions=False)
    settled["sites"] = rendered["sites"]  # SetRunning(Ready): unchanged
    return lists, settled


def _other_statuses(state, link_peers, now):
    """Link and link-access RouterAccess statuses: ``{(kind, name): status}``.

    ``link_peers``: None at render time (``linkMap`` SetConfigured only), else ``{link name: peer record or
    None}`` from the system controller (``UpdateStatus``: SetOperational, false for a link with no record).
    """
    statuses = {}
    endpoints = _site_endpoints(state)
    for name in sorted(state["RouterAccess"]):
        if _has_link_role(state["RouterAccess"][name]):
            statuses[("RouterAccess", name)] = skupper_status.router_access_status(
                state["RouterAccess"][name], endpoints, now)
    for name in sorted(state["Link"]):
        link = {k: v for k, v in state["Link"][name].items() if k != "status"}
        if link_peers is None:
            statuses[("Link", name)] = skupper_status.link_status(link, None, now=now)
            continue
        peer = link_peers.get(name)
        statuses[("Link", name)] = skupper_status.link_status(
            link, peer is not None, (peer or {}).get("site_id") or "", (peer or {}).get("site_name") or "", now)
    return statuses


def _write_state(directory, state, statuses_by_plural, racy_pause, other_statuses=None):
    written = []
    for kind in MARSHAL_ORDER:
        plural = STATUS_KINDS.get(kind)
        for name in sorted(state[kind]):
            obj = copy.deepcopy(state[kind][name])
            if plural is not None:
                obj["status"] = statuses_by_plural[plural][name]
            elif (kind, name) in (other_statuses or {}):
                obj["status"] = other_statuses[(kind, name)]
            else:
                obj.pop("status", None)
            path = os.path.join(directory, "%s-%s.yaml" % (kind, name))
            write_in_place(path, marshal_text(obj), racy_pause)
            written.append(path)
    return written


def _site_id(home):
    try:
        with open(os.path.join(home, "runtime", "router", "skrouterd.json"), encoding="utf-8") as handle:
            return json.load(handle)[0][1].get("siteId")
    except (OSError, ValueError, LookupError, AttributeError):
        return None


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def _render(data_home, namespace, state, network_connector_keys, network_listener_keys, controller_running,
            now, racy_pause, registry=None):
    home = namespace_home(data_home, namespace)
    previous_site_id = _site_id(home)
    hostname = socket.gethostname()
    key = os.path.splitext(os.path.basename(record_path(registry or ".", data_home, namespace, hostname)))[0]
    # fs_config_renderer.go CleanupNamespaceForReload: these folders are removed and made again
    for folder in ("runtime/router", "runtime/certs", "runtime/resources", "runtime/links", "internal/scripts",
                   "internal/snapshot"):
        shutil.rmtree(os.path.join(home, folder), ignore_errors=True)
    for folder in ("runtime/router", "runtime/issuers", "runtime/certs", "input/issuers", "input/certs",
                   "input/resources", "internal/snapshot", "runtime/resources", "runtime/links",
                   "internal/scripts"):
        os.makedirs(os.path.join(home, folder), exist_ok=True)
    site_name = next(iter(state["Site"]))
    # compat/ and linux/site_state_renderer.go loadExistingSiteId: a reload keeps the site id of the router config
    site_id = previous_site_id or str(uuid.uuid4())
    loaded = state
    state = copy.deepcopy(state)
    site_meta = state["Site"][site_name].setdefault("metadata", {})
    site_meta["uid"] = site_meta.get("uid") or site_id  # api/site_state.go MarshalSiteState: the Site's UID
    router = [["router", {"id": "%s-%s" % (namespace, site_name), "mode": "interior", "siteId": site_id,
                          "metadata": "placeholder written by the system_controller TEST DOUBLE"}]]
    write_in_place(os.path.join(home, "runtime", "router", "skrouterd.json"), json.dumps(router, indent=2) + "\n", 0)
    scripts = os.path.join(home, "internal", "scripts")
    write_in_place(os.path.join(scripts, "start.sh"), "#!/bin/sh\n# placeholder (system_controller TEST DOUBLE)\n", 0)
    write_in_place(os.path.join(scripts, "stop.sh"), "#!/bin/sh\n# placeholder (system_controller TEST DOUBLE)\n", 0)
    write_in_place(os.path.join(scripts, "skupper-%s.service" % namespace),
                   "# placeholder unit (system_controller TEST DOUBLE)\n", 0)
    with (_NetworkLock(registry, hostname) if registry else _NoLock()):
        others = [r for r in read_network(registry) if r.get("key") != key] if registry else []
        # AllocateRouterAccessPorts probes ports: those the other started sites of this host bind are taken
        # (the site's own router is stopped before a reload renders, so its own ports are free again)
        taken = {port for r in others if r.get("hostname") == hostname for port in r.get("ports") or ()}
        state["RouterAccess"] = _runtime_accesses(state, namespace, taken)
        link_endpoints, cas = _render_link_access(home, state["RouterAccess"])
        record = _site_record(key, state, site_id, namespace, data_home, hostname, link_endpoints, cas,
                              state["RouterAccess"])
        if registry:
            write_record(registry, record)
    # MarshalSiteStates: the loaded state to internal/snapshot, the runtime state with render-time status
    lists, rendered = _statuses(state, None, None, False, now)
    by_plural = {plural: {_meta_name(o): {} for o in objs} for plural, objs in lists.items()}
    _write_state(os.path.join(home, "internal", "snapshot"), loaded, by_plural, 0)
    written = _write_state(runtime_dir(data_home, namespace), state, rendered, racy_pause,
                           _other_statuses(state, None, now))
    if controller_running:
        records = others + [record]
        component = connected_keys(records, key)
        network_connectors, network_listeners = network_routing_keys(records, component)
        if network_connector_keys is None:
            network_connector_keys = network_connectors
        if network_listener_keys is None:
            network_listener_keys = network_listeners
        peers = {link["name"]: link_peer(record, link, records) for link in record["links"]}
        _lists, settled = _statuses(state, network_connector_keys, network_listener_keys, True, now)
        _write_state(runtime_dir(data_home, namespace), state, settled, racy_pause,
                     _other_statuses(state, peers, now))
    return written


def _platform_of(data_home, namespace):
    try:
        with open(os.path.join(namespace_home(data_home, namespace), "internal", "platform.yaml"),
                  encoding="utf-8") as handle:
            return (yaml.safe_load(handle) or {}).get("platform")
    except FileNotFoundError:
        return None


def _prepare(data_home, namespace, network_connector_keys, network_listener_keys, controller_running):
    if not controller_running and (network_connector_keys is not None or network_listener_keys is not None):
        raise ValueError("without a running system controller there is no network status: "
                         "leave network_connector_keys and network_listener_keys out")
    state = load_input(data_home, namespace)
    check_namespace(state, namespace)
    validate(state, load_runtime(data_home, namespace))  # compat/ and linux/site_state_renderer.go Render
    return state, network_connector_keys, network_listener_keys


def reload_site(data_home, namespace=DEFAULT_NAMESPACE, network_connector_keys=None, network_listener_keys=None,
                controller_running=True, now=None, platform=None, racy_pause=None, registry=None):
    """Play ``skupper system reload`` (and the system controller's status update); returns the paths written.

    ``network_connector_keys`` (routing keys with a connector anywhere in the
    network) defaults to the connectors of the sites linked to this one in the
    network registry (``registry``, default ``$SKUPPER_DOUBLE_NETWORK_DIR``;
    without one: this site's own connectors); ``network_listener_keys``
    likewise. With ``controller_running=False`` (no system controller) the files
    carry the render-time status and no network keys may be given. A namespace
    never started is rendered as a start (``bootstrap.go``), with ``platform``.
    ``racy_pause``: TEST-ONLY, see :func:`write_in_place`.
    """
    if not is_started(data_home, namespace) and _platform_of(data_home, namespace) is None:
        return start_site(data_home, namespace, platform, network_connector_keys, network_listener_keys,
                          controller_running, now, racy_pause, registry)
    state, connectors, listeners = _prepare(data_home, namespace, network_connector_keys, network_listener_keys,
                                            controller_running)
    return _render(data_home, namespace, state, connectors, listeners, controller_running, now, racy_pause,
                   network_dir(registry))


def reload_network(sites, controller_running=True, now=None):
    """Reload several sites as one network (each sees the connectors and listeners of all, once reloaded)."""
    sites = list(_sites(sites))
    connectors = listeners = None
    if controller_running:
        connectors = set()
        listeners = set()
        for data_home, namespace in sites:  # what runs once every site is reloaded: each input
            connectors |= skupper_status.connector_keys(_input_of(data_home, namespace, "Connector"))
            listeners |= skupper_status.listener_keys(_input_of(data_home, namespace, "Listener"),
                                                      _input_of(data_home, namespace, "MultiKeyListener"))
    written = []
    for data_home, namespace in sites:
        written += reload_site(data_home, namespace, connectors, listeners, controller_running, now)
    return written


def start_site(data_home, namespace=DEFAULT_NAMESPACE, platform=None, network_connector_keys=None,
               network_listener_keys=None, controller_running=True, now=None, racy_pause=None, registry=None):
    """Play ``skupper system start``: refuse a started site, check the input, lay out the runtime.

    ``platform``: ``podman``, ``docker`` or ``linux`` (default ``$SKUPPER_PLATFORM``,
    else ``podman``). ``registry``: see :func:`reload_site`. Returns the runtime resource paths written.
    """
    platform = platform or os.environ.get("SKUPPER_PLATFORM") or "podman"
    if platform not in PLATFORMS:
        raise SystemSiteError("platform %s is not a system platform (expected one of: %s)"
                              % (platform, ", ".join(PLATFORMS)))
    if os.path.exists(runtime_dir(data_home, namespace)):
        # system_start.go ValidateInput says "namespace already exists: <ns>"
        raise SystemSiteError('namespace "%s" is already initialized: %s exists (stop the site first, or reload it)'
                              % (namespace, runtime_dir(data_home, namespace)))
    state, connectors, listeners = _prepare(data_home, namespace, network_connector_keys, network_listener_keys,
                                            controller_running)
    home = namespace_home(data_home, namespace)
    os.makedirs(os.path.join(home, "internal"), exist_ok=True)
    # fs_config_renderer.go Render: "platform: <platform>\n" (linux, podman or docker)
    write_in_place(os.path.join(home, "internal", "platform.yaml"), "platform: %s\n" % platform, 0)
    return _render(data_home, namespace, state, connectors, listeners, controller_running, now, racy_pause,
                   network_dir(registry))


def stop_site(data_home, namespace=DEFAULT_NAMESPACE, registry=None):
    """Play ``skupper system stop``: remove the WHOLE namespace home, ``input/`` included; True if it ran.

    Skupper's teardown (``internal/nonkube/bootstrap/teardown.go``, ``Teardown``)
    reads ``internal/platform.yaml`` first (no file: the command fails, nothing is
    removed; here: False), removes the router container and the systemd unit,
    then ``removeDefinition``: ``os.RemoveAll`` of ``<data home>/namespaces/<ns>``
    (every release 2.0.0 to 2.2.1 and main). Back ``input/`` up BEFORE stopping.
    The site's record leaves the network registry (``registry``, default
    ``$SKUPPER_DOUBLE_NETWORK_DIR``): its router is gone.
    """
    home = namespace_home(data_home, namespace)
    if not os.path.isfile(os.path.join(home, "internal", "platform.yaml")):
        return False
    directory = network_dir(registry)
    if directory:
        remove_record(directory, os.path.splitext(os.path.basename(record_path(directory, data_home, namespace)))[0])
    shutil.rmtree(home)  # teardown.go removeDefinition: os.RemoveAll(namespace home)
    return True
