"""A TEST DOUBLE of the status rules of Skupper's controllers, as pure functions.

This module is not Skupper and is never used by the collection itself. It
computes the ``status`` that Skupper 2.2 writes on Listener, MultiKeyListener,
Connector and Site resources, from the resources themselves and from what the
network knows (which routing keys have a connector, or a listener, somewhere).
The Kubernetes API double (``kube_api_double.py``, ``controller=True``) and the
system-site double (``system_controller.py``) both use it.

The rules follow Skupper's ``pkg/apis/skupper/v2alpha1`` types:

* Every condition is a ``metav1.Condition``: ``type``, ``status``
  (``"True"``/``"False"``), ``observedGeneration`` (``metadata.generation``;
  left out when the object has none, as Go's ``omitempty`` does with 0),
  ``lastTransitionTime`` (RFC 3339, kept from the previous status while the
  condition's ``status`` does not change), ``reason`` and ``message``.
  A ready condition is ``True``/``Ready``/``OK``; a pending one
  ``False``/``Pending``/<message>; an error ``False``/``Error``/<message>.
* The aggregate ``status``/``message`` come from the required conditions in
  order: the first one missing gives ``Pending``/``Not <Type>``, the first one
  ``False`` gives its own reason and message, else ``Ready``/``OK``.
* Listener: requires ``Configured`` and ``Matched`` (``No matching
  connectors``); writes a ``Ready`` condition with the aggregate;
  ``hasMatchingConnector`` is written only when true (Go ``omitempty``).
* Connector: the mirror image: ``Configured`` and ``Matched`` (``No matching
  listeners``), ``Ready``, ``hasMatchingListener`` only when true. A routing key
  of a multi-key listener counts as a listener for it (Skupper issue #2457).
* MultiKeyListener: requires ``Configured`` and ``Operational``; there is no
  ``Ready`` condition. ``hasDestination`` (only when true) and
  ``strategy.priority.routingKeysReachable`` (reachable keys in priority order)
  or ``strategy.weighted.routingKeysReachable`` (reachable key -> weight).
  Skupper sets ``Operational`` only when ``hasDestination`` changes, so a
  multi-key listener that never had a destination carries no ``Operational``
  condition and reads ``Pending``/``Not Operational``; once it had one and
  lost it, ``Operational`` is ``False``/``Pending``/``No matching connectors``.
  The double keeps that quirk (it reads the previous status to know).
* Site: requires ``Configured``, ``Running`` and, when ``spec.linkAccess`` is
  set and not ``none``, ``Resolved``; writes ``Ready``. A real site is Running
  only once its router pods run; the double has no router and reports the
  site Running (and Resolved) as soon as it is configured, so a Site is Ready
  at once. ``defaultIssuer`` is ``spec.defaultIssuer`` or ``skupper-site-ca``.
* Kubernetes errors, each making ``Configured`` ``False``/``Error``: a binding
  (listener, multi-key listener, connector) in a namespace with no Site gets
  ``No active site in namespace``; a listener whose ``host`` names a Service
  that Skupper does not own gets ``Service <host> already exists in
  namespace``; of two listeners or multi-key listeners of one site on the same
  host and port, the later one (``creationTimestamp``, then name) gets
  ``<Kind> <other> with host <host> and port <port> already exists in
  namespace``; of two Sites in a namespace the later one gets ``An active site
  already exists in the namespace (<name>)``.

What it leaves out
------------------
* No router, no links, no real pods, no certificates, no Services: every site
  counts as linked to every other one given, connectors with a ``selector``
  count as having matching pods (``selectedPods`` is never written), and
  ``host`` values that Kubernetes would refuse as a Service name are not
  reported (Skupper 2.2 only logs that failure: issues #2542, #2571).
* Only the settled state is computed (``configured_only`` aside, which gives
  a system site's render-time status): the intermediate states a real
  controller passes through are skipped, except where the previous status
  decides (MultiKeyListener ``Operational``, ``lastTransitionTime``).
* MultiKeyListener ``Operational`` follows 2.2.1 (set only when
  ``hasDestination`` changes); Skupper's main after 2.2.1 (#2498) sets it on
  every update.
* Site ``network`` and ``controller`` are never written; ``endpoints`` only
  by :func:`rendered_site_status`.
* Message texts that could not be checked against Skupper's source: the
  host/port collision (taken from the project's skupper-facts.md; the
  multi-key-listener variant names its kind) and the second-Site message.
"""

import datetime

LISTENERS = "listeners"
MULTIKEYLISTENERS = "multikeylisteners"
CONNECTORS = "connectors"
SITES = "sites"
PLURALS = (LISTENERS, MULTIKEYLISTENERS, CONNECTORS, SITES)
KIND_OF = {LISTENERS: "Listener", MULTIKEYLISTENERS: "MultiKeyListener", CONNECTORS: "Connector", SITES: "Site"}

READY = "Ready"
PENDING = "Pending"
ERROR = "Error"
OK = "OK"

CONFIGURED = "Configured"
MATCHED = "Matched"
OPERATIONAL = "Operational"
RUNNING = "Running"
RESOLVED = "Resolved"
READY_CONDITION = "Ready"

NO_MATCHING_CONNECTORS = "No matching connectors"
NO_MATCHING_LISTENERS = "No matching listeners"
NO_ACTIVE_SITE = "No active site in namespace"
DEFAULT_ISSUER = "skupper-site-ca"
SKUPPER_OWNED_LABEL = "internal.skupper.io/listener"
SKUPPER_OWNED_ANNOTATION = "internal.skupper.io/controlled"


def now_rfc3339():
    """The current UTC time as Kubernetes writes it (RFC 3339, seconds, ``Z``)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------
# Condition states and the condition list of one status
# ---------------------------------------------------------------------------

def ready_state():
    return ("True", READY, OK)


def pending_state(message):
    return ("False", PENDING, message)


def error_state(message):
    return ("False", ERROR, message)


def configured_state(error):
    return error_state(error) if error else ready_state()


class _Conditions:
    """The conditions of one status being computed, against the previous status."""

    def __init__(self, obj, now):
        self.now = now or now_rfc3339()
        meta = obj.get("metadata") or {}
        generation = meta.get("generation")
        self.generation = generation if isinstance(generation, int) and generation > 0 else None
        previous = (obj.get("status") or {}).get("conditions") or []
        self.previous = {c.get("type"): c for c in previous if isinstance(c, dict)}
        self.previous_order = [c.get("type") for c in previous if isinstance(c, dict)]
        self.current = {}

    def had(self, ctype):
        return ctype in self.previous

    def set(self, ctype, state):
        status, reason, message = state
        before = self.previous.get(ctype) or {}
        since = before.get("lastTransitionTime") if before.get("status") == status else None
        condition = {"type": ctype, "status": status}
        if self.generation is not None:
            condition["observedGeneration"] = self.generation
        condition["lastTransitionTime"] = since or self.now
        condition["reason"] = reason
        condition["message"] = message
        self.current[ctype] = condition

    def aggregate(self, required):
        """Skupper's readyState: the first missing or False required condition decides."""
        for ctype in required:
            condition = self.current.get(ctype)
            if condition is None:
                return pending_state("Not " + ctype)
            if condition["status"] == "False":
                return ("False", condition["reason"], condition["message"])
        return ready_state()

    def as_list(self, natural_order):
        """Conditions in the order they were first written (previous order, then ``natural_order``)."""
        order = [t for t in self.previous_order if t in self.current]
        order += [t for t in natural_order if t in self.current and t not in order]
        order += sorted(t for t in self.current if t not in order)
        return [self.current[t] for t in order]


def _status(conditions, natural_order, state):
    return {"conditions": conditions.as_list(natural_order), "status": state[1], "message": state[2]}


# ---------------------------------------------------------------------------
# One resource at a time
# ---------------------------------------------------------------------------

def _rendered_binding(conditions):
    """Render time on a system site (``pkg/nonkube/api/site_state.go`` ``bindings()``): SetConfigured,
    then setReady with Matched still missing, so a Ready condition False/Pending/``Not Matched``."""
    state = conditions.aggregate((CONFIGURED, MATCHED))
    conditions.set(READY_CONDITION, state)
    return _status(conditions, (CONFIGURED, READY_CONDITION), state)


def listener_status(listener, has_matching_connector, error=None, now=None, configured_only=False):
    """The status of a Listener.

    ``error`` (a message) makes ``Configured`` an Error. ``configured_only``
    writes what ``skupper system start/reload`` writes at render time, before
    any system controller: ``Configured`` and a ``Ready`` condition
    ``False``/``Pending``/``Not Matched``; the listener reads ``Pending``/``Not Matched``.
    """
    conditions = _Conditions(listener, now)
    conditions.set(CONFIGURED, configured_state(error))
    if configured_only:
        return _rendered_binding(conditions)
    matched = ready_state() if has_matching_connector else pending_state(NO_MATCHING_CONNECTORS)
    conditions.set(MATCHED, matched)
    state = conditions.aggregate((CONFIGURED, MATCHED))
    conditions.set(READY_CONDITION, state)
    status = _status(conditions, (CONFIGURED, READY_CONDITION, MATCHED), state)
    if has_matching_connector:
        status["hasMatchingConnector"] = True
    return status


def connector_status(connector, has_matching_listener, error=None, now=None, configured_only=False):
    """The status of a Connector (``Configured`` and ``Matched``, as a listener's; render time likewise)."""
    conditions = _Conditions(connector, now)
    conditions.set(CONFIGURED, configured_state(error))
    if configured_only:
        return _rendered_binding(conditions)
    matched = ready_state() if has_matching_listener else pending_state(NO_MATCHING_LISTENERS)
    conditions.set(MATCHED, matched)
    state = conditions.aggregate((CONFIGURED, MATCHED))
    conditions.set(READY_CONDITION, state)
    status = _status(conditions, (CONFIGURED, READY_CONDITION, MATCHED), state)
    if has_matching_listener:
        status["hasMatchingListener"] = True
    return status


def strategy_keys(mkl):
    """``(strategy type, routing keys)`` of a MultiKeyListener: a list for priority, a dict for weighted.

    ``(None, None)`` when the spec has neither strategy (or both).
    """
    strategy = ((mkl.get("spec") or {}).get("strategy")) or {}
    priority, weighted = strategy.get("priority"), strategy.get("weighted")
    if isinstance(priority, dict) and weighted is None:
        return "priority", list(priority.get("routingKeys") or [])
    if isinstance(weighted, dict) and priority is None:
        return "weighted", dict(weighted.get("routingKeys") or {})
    return None, None


def multikeylistener_status(mkl, connector_keys, error=None, now=None, configured_only=False):
    """The status of a MultiKeyListener, given the routing keys that have a connector in the network."""
    connector_keys = set(connector_keys or ())
    conditions = _Conditions(mkl, now)
    conditions.set(CONFIGURED, configured_state(error))
    required = (CONFIGURED, OPERATIONAL)
    if configured_only:
        return _status(conditions, (CONFIGURED,), conditions.aggregate(required))
    kind, keys = strategy_keys(mkl)
    strategy_status = None
    if kind == "priority":
        reachable = [key for key in keys if key in connector_keys]
        strategy_status = {"priority": {"routingKeysReachable": reachable}}
    elif kind == "weighted":
        reachable = {key: keys[key] for key in sorted(keys) if key in connector_keys}
        strategy_status = {"weighted": {"routingKeysReachable": reachable}}
    else:
        reachable = []
    has_destination = bool(reachable)
    if has_destination or conditions.had(OPERATIONAL):
        conditions.set(OPERATIONAL, ready_state() if has_destination else pending_state(NO_MATCHING_CONNECTORS))
    status = _status(conditions, (CONFIGURED, OPERATIONAL), conditions.aggregate(required))
    if has_destination:
        status["hasDestination"] = True
    if strategy_status is not None:
        status["strategy"] = strategy_status
    return status


NOT_OPERATIONAL = "Not operational"  # types.go operationalState(false): lower-case "operational"


def link_status(link, operational=None, remote_site_id="", remote_site_name="", now=None, error=None):
    """The status of a Link (``pkg/apis/skupper/v2alpha1/types.go`` ``SetConfigured``, ``SetOperational``).

    ``operational=None``: only ``Configured`` (what a system site writes at render time,
    ``pkg/nonkube/api/site_state.go`` ``linkMap``, and what Kubernetes keeps while the router has no
    record of the link): the link reads ``Pending``/``Not Operational``. ``False``: ``Operational``
    False/Pending/``Not operational`` (``SetOperational(false, "", "")``). ``True``: Ready, with
    ``remoteSiteId`` and ``remoteSiteName`` (omitempty).
    """
    conditions = _Conditions(link, now)
    conditions.set(CONFIGURED, configured_state(error))
    if operational is not None:
        conditions.set(OPERATIONAL, ready_state() if operational else pending_state(NOT_OPERATIONAL))
    state = conditions.aggregate((CONFIGURED, OPERATIONAL))
    conditions.set(READY_CONDITION, state)
    status = _status(conditions, (CONFIGURED, READY_CONDITION, OPERATIONAL), state)
    if remote_site_id:
        status["remoteSiteId"] = remote_site_id
    if remote_site_name:
        status["remoteSiteName"] = remote_site_name
    return status


def router_access_status(access, endpoints=(), now=None):
    """The status of a link-access RouterAccess after ``skupper system start/reload``:
    ``CreateLinkAccessesCertificates`` sets ``Configured`` (``pkg/nonkube/api/site_state.go``), then
    ``fs_config_renderer.go`` ``Render`` calls ``Resolve`` with every site endpoint of the group
    ``skupper-router`` (types.go ``UpdateEndpointsForGroup``): ``Resolved`` Ready when there is one."""
    conditions = _Conditions(access, now)
    conditions.set(CONFIGURED, ready_state())
    conditions.set(RESOLVED, ready_state() if endpoints else pending_state(PENDING))
    state = conditions.aggregate((CONFIGURED, RESOLVED))
    conditions.set(READY_CONDITION, state)
    status = _status(conditions, (CONFIGURED, READY_CONDITION, RESOLVED), state)
    if endpoints:
        status["endpoints"] = [dict(endpoint, group="skupper-router") for endpoint in endpoints]
    return status


def site_needs_resolution(site):
    link_access = (site.get("spec") or {}).get("linkAccess")
    return bool(link_access) and link_access != "none"


def rendered_site_status(site, endpoints=(), now=None, error=None):
    """The status ``skupper system start/reload`` writes for a Site (``internal/nonkube/common/fs_config_renderer.go``
    ``Render``): Configured, Running set Ready at once by the CLI, Resolved (Ready) when the site has
    ``endpoints`` (router-access roles other than ``normal``, ``SetEndpoints``); the aggregate from Configured,
    Running and, with ``linkAccess`` set and not ``none``, Resolved. No ``defaultIssuer`` (only the Kubernetes
    controller writes it: ``internal/kube/site/site.go``)."""
    conditions = _Conditions(site, now)
    required = [CONFIGURED, RUNNING] + ([RESOLVED] if site_needs_resolution(site) else [])
    conditions.set(CONFIGURED, configured_state(error))
    conditions.set(RUNNING, ready_state())
    if endpoints:
        conditions.set(RESOLVED, ready_state())
    state = conditions.aggregate(required)
    conditions.set(READY_CONDITION, state)
    status = _status(conditions, (CONFIGURED, READY_CONDITION, RUNNING, RESOLVED), state)
    if endpoints:
        status["endpoints"] = [dict(endpoint) for endpoint in endpoints]
    return status


def site_status(site, error=None, now=None, configured_only=False, sites_in_network=None):
    """The status of a Site; without ``error`` the double reports it Running (and Resolved) at once.

    ``configured_only``: the render-time status of a system site (:func:`rendered_site_status`).
    """
    if configured_only:
        return rendered_site_status(site, (), now, error)
    conditions = _Conditions(site, now)
    conditions.set(CONFIGURED, configured_state(error))
    required = [CONFIGURED, RUNNING]
    if site_needs_resolution(site):
        required.append(RESOLVED)
    spec = site.get("spec") or {}
    if not error:
        conditions.set(RUNNING, ready_state())
        if site_needs_resolution(site):
            conditions.set(RESOLVED, ready_state())
    state = conditions.aggregate(required)
    conditions.set(READY_CONDITION, state)
    status = _status(conditions, (CONFIGURED, READY_CONDITION, RUNNING, RESOLVED), state)
    if sites_in_network:
        status["sitesInNetwork"] = sites_in_network
    status["defaultIssuer"] = spec.get("defaultIssuer") or DEFAULT_ISSUER
    return status


# ---------------------------------------------------------------------------
# One site at a time
# ---------------------------------------------------------------------------

def _name(obj):
    return (obj.get("metadata") or {}).get("name") or ""


def creation_order(obj):
    """Sort key: older first (``creationTimestamp``, then name); objects without a timestamp sort by name."""
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if hasattr(stamp, "strftime"):  # YAML loaders turn unquoted timestamps into datetimes
        stamp = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (str(stamp or ""), _name(obj))


def listener_keys(listeners, multikeylisteners=()):
    """Routing keys served by listeners and multi-key listeners (what a connector matches)."""
    keys = set()
    for listener in listeners or ():
        key = (listener.get("spec") or {}).get("routingKey")
        if key:
            keys.add(key)
    for mkl in multikeylisteners or ():
        _kind, strategy = strategy_keys(mkl)
        keys.update(key for key in (strategy or ()) if key)
    return keys


def connector_keys(connectors):
    """Routing keys of connectors (what a listener matches)."""
    return {(c.get("spec") or {}).get("routingKey") for c in connectors or ()} - {None, ""}


def host_port_collisions(listeners, multikeylisteners=()):
    """``{(plural, name): message}`` for every listener or multi-key listener that lost its host and port.

    The oldest claimant of a host and port keeps it; every later one is in error.
    """
    claimants = [(LISTENERS, obj) for obj in listeners or ()] + [(MULTIKEYLISTENERS, obj)
                                                                 for obj in multikeylisteners or ()]
    claimants.sort(key=lambda item: creation_order(item[1]) + (item[0],))
    owners = {}
    errors = {}
    for plural, obj in claimants:
        spec = obj.get("spec") or {}
        host, port = spec.get("host"), spec.get("port")
        if host is None or port is None:
            continue
        owner = owners.get((host, port))
        if owner is None:
            owners[(host, port)] = (plural, _name(obj))
            continue
        errors[(plural, _name(obj))] = "%s %s with host %s and port %s already exists in namespace" % (
            KIND_OF[owner[0]], owner[1], host, port)
    return errors


def foreign_services(services):
    """Names of Services that Skupper does not own (a listener on such a host is in error)."""
    names = set()
    for service in services or ():
        meta = service.get("metadata") or {}
        if SKUPPER_OWNED_LABEL in (meta.get("labels") or {}) or SKUPPER_OWNED_ANNOTATION in (
                meta.get("annotations") or {}):
            continue
        names.add(meta.get("name"))
    return names


def site_statuses(listeners=(), multikeylisteners=(), connectors=(), sites=(), network_connector_keys=None,
                  network_listener_keys=None, errors=None, now=None, require_site=True, services=(),
                  configured_only=False, sites_in_network=None, check_collisions=True):
    """The status of every Listener, MultiKeyListener, Connector and Site of one site (one namespace).

    ``network_connector_keys``: routing keys that have a connector anywhere in the
    network (default: this site's connectors). ``network_listener_keys``: routing
    keys that have a listener or multi-key listener anywhere (default: this site's).
    ``errors``: ``{(plural, name): message}`` forced on single objects.
    ``require_site``: bindings of a namespace without a Site are in error (as on
    Kubernetes). ``services``: the namespace's Services (a listener whose host
    names one that Skupper does not own is in error). ``configured_only``: the
    render-time status of a system site, before any system controller
    (``pkg/nonkube/api/site_state.go``, ``fs_config_renderer.go``).

    Returns ``{"listeners": {name: status}, "multikeylisteners": {...},
    "connectors": {...}, "sites": {...}}``. Every object passed in gets a status;
    the previous one is read from the object's own ``status``.
    """
    now = now or now_rfc3339()
    errors = dict(errors or {})
    if network_connector_keys is None:
        network_connector_keys = connector_keys(connectors)
    if network_listener_keys is None:
        network_listener_keys = listener_keys(listeners, multikeylisteners)
    network_connector_keys = set(network_connector_keys)
    network_listener_keys = set(network_listener_keys)

    ordered_sites = sorted(sites or (), key=creation_order)
    active = ordered_sites[0] if ordered_sites else None
    binding_error = NO_ACTIVE_SITE if (require_site and active is None) else None
    collisions = host_port_collisions(listeners, multikeylisteners) if check_collisions else {}
    taken = foreign_services(services)

    def error_for(plural, obj):
        name = _name(obj)
        if (plural, name) in errors:
            return errors[(plural, name)]
        if binding_error:
            return binding_error
        if plural == LISTENERS:
            host = (obj.get("spec") or {}).get("host")
            if host in taken:
                return "Service %s already exists in namespace" % host
        return collisions.get((plural, name))

    result = {plural: {} for plural in PLURALS}
    for obj in listeners or ():
        key = (obj.get("spec") or {}).get("routingKey")
        result[LISTENERS][_name(obj)] = listener_status(obj, key in network_connector_keys,
                                                        error_for(LISTENERS, obj), now, configured_only)
    for obj in multikeylisteners or ():
        result[MULTIKEYLISTENERS][_name(obj)] = multikeylistener_status(
            obj, network_connector_keys, error_for(MULTIKEYLISTENERS, obj), now, configured_only)
    for obj in connectors or ():
        key = (obj.get("spec") or {}).get("routingKey")
        result[CONNECTORS][_name(obj)] = connector_status(obj, key in network_listener_keys,
                                                          error_for(CONNECTORS, obj), now, configured_only)
    for obj in ordered_sites:
        error = errors.get((SITES, _name(obj)))
        if error is None and obj is not active:
            error = "An active site already exists in the namespace (%s)" % _name(active)
        result[SITES][_name(obj)] = site_status(obj, error, now, configured_only, sites_in_network)
    return result
