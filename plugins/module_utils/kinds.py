# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The table of Skupper resource kinds this collection manages.

A kind is its API names plus a list of fields; each field maps one module
option (snake_case) to one spec key (camelCase) and knows how to check and
convert its value. Everything else (argument specs, validation, comparison,
the back ends) is generic and reads this table.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.validation import check_type_dict, check_type_list

from ansible_collections.skupperlabs.network.plugins.module_utils import validation

API_GROUP = "skupper.io"
API_VERSION = "v2alpha1"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "skupperlabs.network"
MAX_STRATEGY_KEYS = 256

OBSERVERS = ["auto", "none", "http1", "http2"]


class Field:
    """One spec field.

    ``check(value, rules)`` returns ``(error, api_value)``; ``rules`` is the
    back end class, which knows platform rules such as what a host may be.
    ``absent_equals`` is the value Skupper assumes when the field is left
    out, so that a server or user spelling it out is not seen as a change.
    """

    def __init__(self, option, key, type="str", required=False, choices=None, check=None,
                 absent_equals=None, suboptions=None, elements=None, no_log=False):
        self.option = option
        self.no_log = no_log
        self.key = key
        self.type = type
        self.required = required
        self.choices = choices
        self.check = check
        self.absent_equals = absent_equals
        self.suboptions = suboptions
        self.elements = elements

    def argument_spec(self):
        # Routing keys are names, not secrets, whatever their option names suggest to Ansible;
        # a token's code is a credential.
        spec = {"type": self.type, "no_log": self.no_log}
        if self.choices:
            spec["choices"] = list(self.choices)
        if self.elements:
            spec["elements"] = self.elements
        # ``suboptions`` are documented but not handed to Ansible: its sub-spec checks crash on a
        # dict option given as a list (``strategy: [1]``: set_fallbacks iterates the list) and name
        # no item; the field's check validates them itself.
        return spec

    def to_api(self, value, rules):
        if self.check is None:
            return None, value
        return self.check(value, rules)

    def from_api(self, value):
        return value


def _plain(checker):
    """Adapt a validation.* function (value -> error) to a field check."""
    def check(value, rules):
        return checker(value), value
    return check


def _check_host(value, rules):
    return rules.host_error(value), value


def _check_settings(value, rules):
    return validation.string_map(value)


def _check_tls_credentials(value, rules):
    """A Secret name on Kubernetes, a folder of input/certs/ on a system site (the back end's rule)."""
    return rules.credentials_error(value), value


class StrategyField(Field):
    """MultiKeyListener ``strategy``: exactly one of priority or weighted."""

    TYPES = ("priority", "weighted")

    def __init__(self):
        Field.__init__(
            self, "strategy", "strategy", type="dict", required=True,
            suboptions={
                "priority": {"type": "dict", "options": {
                    "routing_keys": {"type": "list", "elements": "str", "no_log": False}}},
                "weighted": {"type": "dict", "options": {"routing_keys": {"type": "dict", "no_log": False}}},
            })

    def to_api(self, value, rules):
        if not isinstance(value, dict):
            return "must be a mapping with priority or weighted, not %r" % (value,), None
        unknown = sorted(str(key) for key in value if key not in self.TYPES)
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            return "unknown key%s %s: set priority or weighted" % (plural, ", ".join(unknown)), None
        given = [name for name in self.TYPES if value.get(name) is not None]
        if len(given) == 2:
            return "set exactly one of priority or weighted, not both", None
        if not given:
            return "set exactly one of priority or weighted; neither is set", None
        kind = given[0]
        if not isinstance(value[kind], dict):
            return "%s: must be a mapping with routing_keys, not %r" % (kind, value[kind]), None
        unknown = sorted(str(key) for key in value[kind] if key != "routing_keys")
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            return "%s: unknown key%s %s (it takes routing_keys)" % (kind, plural, ", ".join(unknown)), None
        keys = value[kind].get("routing_keys")
        where = "%s.routing_keys" % kind
        if not keys:
            return "%s: list at least one routing key" % where, None
        # Ansible's own type checkers, as its sub-spec would have applied them.
        try:
            keys = check_type_list(keys) if kind == "priority" else check_type_dict(keys)
        except TypeError as exc:
            return "%s: %s" % (where, exc), None
        if kind == "priority":
            # As Ansible's elements: str turned a number into its text.
            keys = [str(key) if isinstance(key, (int, float)) and not isinstance(key, bool) else key
                    for key in keys]
        if len(keys) > MAX_STRATEGY_KEYS:
            return "%s: %d routing keys given, at most %d are allowed" % (where, len(keys), MAX_STRATEGY_KEYS), None
        for key in keys:
            error = validation.routing_key(key)
            if error:
                return "%s: %s" % (where, error), None
        if kind == "priority":
            seen = set()
            for key in keys:
                if key in seen:
                    return "%s: '%s' is listed twice; priority routing keys must be unique" % (where, key), None
                seen.add(key)
            return None, {"priority": {"routingKeys": list(keys)}}
        weights = {}
        for key, weight in keys.items():
            error, weights[key] = _weight(weight)
            if error:
                return "%s: weight of '%s' %s" % (where, key, error), None
        return None, {"weighted": {"routingKeys": weights}}

    def from_api(self, value):
        value = value or {}
        if "priority" in value:
            return {"priority": {"routing_keys": list((value["priority"] or {}).get("routingKeys") or [])}}
        if "weighted" in value:
            return {"weighted": {"routing_keys": dict((value["weighted"] or {}).get("routingKeys") or {})}}
        return value

    @staticmethod
    def type_of(spec):
        strategy = (spec or {}).get("strategy") or {}
        for name in StrategyField.TYPES:
            if name in strategy:
                return name
        return None


def _weight(weight):
    if isinstance(weight, str) and weight.strip().isdigit():
        weight = int(weight)
    if isinstance(weight, bool) or not isinstance(weight, int):
        return "is %r: weights must be integers of at least 1" % (weight,), None
    if weight < 1:
        return "is %d: weights must be integers of at least 1" % weight, None
    return None, weight


def _strategy_type_change(before_spec, desired_spec, against="existing"):
    """Why a strategy type change is refused; ``against`` says what Skupper compares with.

    Kubernetes: the CRD's CEL rule "strategy is immutable" on the stored object.
    System sites: the validator compares the input with the RUNNING site at reload
    (internal/nonkube/common/site_state_validator.go, "strategy cannot be changed"),
    even after the file was deleted and written again.
    """
    before = StrategyField.type_of(before_spec)
    after = StrategyField.type_of(desired_spec)
    if not (before and after and before != after):
        return None
    if against == "running":
        return ("strategy: the strategy type cannot change while the site runs it: the running site uses %s and "
                "the task asks for %s, and Skupper would refuse the next reload ('strategy cannot be changed'), "
                "even with recreate: true. Change it in two steps: remove the multi-key listener (state: absent) "
                "and run 'skupper system reload', then create it with the %s strategy and reload again; or keep "
                "the %s strategy" % (before, after, after, before))
    return ("strategy: the strategy type is immutable: the existing resource uses %s and the task asks for %s. "
            "Set recreate: true to delete and create it again (connections through it are interrupted), "
            "or keep the %s strategy" % (before, after, before))


class Kind:
    """A Skupper resource kind and its module's shape.

    ``bulk_option`` names the list form's option (None: no list form).
    ``host_port_rivals``: per back end name, the kinds that may not share host and port with
    a resource of this kind in one namespace, as Skupper refuses it on that platform.
    ``one_per_namespace``: a system site holds exactly one resource of this kind per namespace.
    ``cross_check(spec, rules)``: errors that involve several fields, or a field and the platform.
    ``immutable_change(existing_spec, desired_spec)``: why the change needs recreate, or None.
    ``api_version``/``core``: a core Kubernetes kind (the link's Secret) instead of a Skupper one.
    ``platforms``: the back ends Skupper has the kind on (None: both).
    ``hidden``: the credential fields of spec and status, never shown in results or diffs.
    """

    def __init__(self, kind, plural, bulk_option, fields, host_port_rivals=None, one_per_namespace=False,
                 cross_check=None, immutable_change=None, extra_options=None, routing_keys=None,
                 status_view=None, api_version=None, core=False, platforms=None, platform_advice="",
                 hidden=None):
        self.kind = kind
        self.plural = plural
        self.bulk_option = bulk_option
        self.fields = fields
        self.host_port_rivals = host_port_rivals or {}
        self.one_per_namespace = one_per_namespace
        self.cross_check = cross_check
        self.immutable_change = immutable_change
        self.extra_options = extra_options or {}
        self.has_routing_keys = routing_keys is not None
        self.routing_keys = routing_keys or (lambda spec: [])
        self.status_view = status_view or (lambda status: {})
        self.api_version = api_version or "%s/%s" % (API_GROUP, API_VERSION)
        # A core Kubernetes kind (CoreV1Api), not a Skupper custom resource.
        self.core = core
        # The back ends (``Backend.name``) Skupper has this kind on; None: both.
        self.platforms = platforms
        # What to do instead on the other platforms.
        self.platform_advice = platform_advice
        # Credential paths: {"spec": ("code",), "status": ("code",)}; hidden in results and diffs.
        self.hidden = hidden or {}

    def field_by_key(self, key):
        for field in self.fields:
            if field.key == key:
                return field
        return None

    def spec_to_options(self, spec):
        """An API spec as module options (snake_case), for info and results."""
        options = {}
        for key, value in (spec or {}).items():
            field = self.field_by_key(key)
            if field is None:
                options[key] = value
            else:
                options[field.option] = field.from_api(value)
        return options


def _single_routing_key(spec):
    return [spec["routingKey"]] if (spec or {}).get("routingKey") else []


def _strategy_routing_keys(spec):
    strategy = (spec or {}).get("strategy") or {}
    for name in StrategyField.TYPES:
        keys = (strategy.get(name) or {}).get("routingKeys")
        if keys:
            return list(keys)
    return []


def _listener_status(status):
    """``hasMatchingConnector`` as current Skupper writes it, or the seed's ``matchingConnectorCount``."""
    view = {}
    if "matchingConnectorCount" in status:
        view["matching_connector_count"] = status["matchingConnectorCount"]
    if "hasMatchingConnector" in status:
        view["has_matching_connector"] = bool(status["hasMatchingConnector"])
    else:
        view["has_matching_connector"] = bool(status.get("matchingConnectorCount"))
    return view


def _multikeylistener_status(status):
    reachable = None
    strategy = status.get("strategy") or {}
    for name in StrategyField.TYPES:
        if name in strategy:
            reachable = (strategy[name] or {}).get("routingKeysReachable")
            reachable = list(reachable or []) if name == "priority" else dict(reachable or {})
    return {"has_destination": bool(status.get("hasDestination")), "routing_keys_reachable": reachable}


def _connector_status(status):
    return {"has_matching_listener": bool(status["hasMatchingListener"])} if "hasMatchingListener" in status else {}


_ROUTING_KEY = Field("routing_key", "routingKey", required=True, check=_plain(validation.routing_key))
_HOST = Field("host", "host", required=True, check=_check_host)
_PORT = Field("port", "port", type="int", required=True, check=_plain(validation.port))
_TLS = Field("tls_credentials", "tlsCredentials", check=_check_tls_credentials)
_OBSERVER = Field("observer", "observer", choices=OBSERVERS)
_SETTINGS = Field("settings", "settings", type="dict", check=_check_settings, absent_equals={})

LISTENER = Kind(
    "Listener", "listeners", "listeners",
    [
        _ROUTING_KEY, _HOST, _PORT, _TLS,
        Field("type", "type", choices=["tcp"], absent_equals="tcp"),
        _OBSERVER,
        Field("expose_pods_by_name", "exposePodsByName", type="bool", absent_equals=False),
        _SETTINGS,
    ],
    # Kubernetes: listeners with one host share a Service; the controller gives a second listener on
    # the same host and port an Error (internal/kube/site/site.go, CheckListener). System sites:
    # listeners and multi-key listeners all bind on the host (nonkube/common/site_state_validator.go).
    host_port_rivals={"kubernetes": ("Listener",), "system": ("Listener", "MultiKeyListener")},
    routing_keys=_single_routing_key,
    status_view=_listener_status,
)

MULTIKEYLISTENER = Kind(
    "MultiKeyListener", "multikeylisteners", "multikeylisteners",
    [
        _HOST, _PORT, StrategyField(), _TLS,
        Field("require_client_cert", "requireClientCert", type="bool", absent_equals=False),
        _OBSERVER, _SETTINGS,
    ],
    # Not in the Kubernetes controller's host/port check (CheckMultiKeyListener has none).
    host_port_rivals={"system": ("Listener", "MultiKeyListener")},
    immutable_change=_strategy_type_change,
    extra_options={"recreate": {"type": "bool", "default": False}},
    routing_keys=_strategy_routing_keys,
    status_view=_multikeylistener_status,
)


def _connector_target(spec, rules):
    """A connector reaches its workload by host, or on Kubernetes by pod selector: one of the two."""
    if "host" in spec and "selector" in spec:
        return ["host/selector: set either host or selector, not both"]
    if "selector" in spec and not rules.supports_selector:
        return ["selector: pod selectors exist on Kubernetes only; on a system site set host"]
    if "host" not in spec and "selector" not in spec:
        return ["host/selector: set host%s" % (" or selector" if rules.supports_selector else "")]
    return []


CONNECTOR = Kind(
    "Connector", "connectors", "connectors",
    [
        _ROUTING_KEY,
        Field("host", "host", check=_plain(validation.system_host)),
        Field("selector", "selector", check=_plain(validation.label_selector)),
        _PORT, _TLS,
        Field("type", "type", choices=["tcp"], absent_equals="tcp"),
        Field("use_client_cert", "useClientCert", type="bool", absent_equals=False),
        Field("verify_hostname", "verifyHostname", type="bool", absent_equals=False),
        Field("include_not_ready_pods", "includeNotReadyPods", type="bool", absent_equals=False),
        Field("expose_pods_by_name", "exposePodsByName", type="bool", absent_equals=False),
        _SETTINGS,
    ],
    cross_check=_connector_target,
    routing_keys=_single_routing_key,
    status_view=_connector_status,
)

SITE = Kind(
    "Site", "sites", None,
    [
        Field("link_access", "linkAccess"),
        Field("default_issuer", "defaultIssuer"),
        Field("ha", "ha", type="bool", absent_equals=False),
        Field("edge", "edge", type="bool", absent_equals=False),
        Field("service_account", "serviceAccount"),
        _SETTINGS,
    ],
    one_per_namespace=True,
)


# -- linking (pkg/apis/skupper/v2alpha1/types.go: LinkSpec, AccessGrantSpec, AccessTokenSpec) ------------

def _check_endpoints(value, rules):
    """Link endpoints as Skupper's Endpoint struct has them: name, host, port (a string), group."""
    if not isinstance(value, list) or not value:
        return "list at least one endpoint ({name, host, port}, as 'skupper link generate' writes them)", None
    endpoints = []
    for index, endpoint in enumerate(value):
        where = "[%d]" % index
        if not isinstance(endpoint, dict):
            return "%s: each endpoint is a mapping with name, host and port" % where, None
        unknown = sorted(set(endpoint) - set(("name", "host", "port", "group")))
        if unknown:
            return "%s: unknown key%s %s (an endpoint has name, host, port and group)" % (
                where, "s" if len(unknown) > 1 else "", ", ".join(unknown)), None
        converted = {}
        for key in ("name", "host", "group"):
            item = endpoint.get(key)
            if item is not None and not isinstance(item, str):
                return "%s.%s: must be a string, not %r" % (where, key, item), None
            if item:
                converted[key] = item
        if not converted.get("host"):
            return "%s.host: required: the address of the remote site's router" % where, None
        error = validation.endpoint_host(converted["host"])
        if error:
            return "%s.host: %s" % (where, error), None
        port = endpoint.get("port")
        if isinstance(port, bool) or port is None or not str(port).strip().isdigit():
            return "%s.port: %r is not a port number" % (where, port), None
        error = validation.port(int(str(port).strip()))
        if error:
            return "%s.port: %s" % (where, error), None
        # Skupper's Endpoint.Port is a string (types.go), so it is stored as one.
        converted["port"] = str(int(str(port).strip()))
        endpoints.append(converted)
    return None, endpoints


def _check_cost(value, rules):
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer", None
    return None, value


def _check_duration(value, rules):
    return validation.go_duration(value), value


def _link_status(status):
    return {"remote_site_name": status.get("remoteSiteName") or "", "remote_site_id": status.get("remoteSiteId") or ""}


LINK = Kind(
    "Link", "links", None,
    [
        Field("endpoints", "endpoints", type="list", elements="dict", required=True, check=_check_endpoints,
              suboptions={"name": {"type": "str"}, "host": {"type": "str", "required": True},
                          "port": {"type": "raw", "required": True}, "group": {"type": "str"}}),
        Field("tls_credentials", "tlsCredentials", required=True, check=_plain(validation.secret_name)),
        # internal/site/link.go Apply: a cost below 1 is configured as 1.
        Field("cost", "cost", type="int", check=_check_cost),
        _SETTINGS,
    ],
    status_view=_link_status,
)


def _grant_status(status):
    return {"redemptions": status.get("redemptions") or 0, "expiration_time": status.get("expirationTime") or "",
            "url": status.get("url") or ""}


ACCESS_GRANT = Kind(
    "AccessGrant", "accessgrants", None,
    [
        # internal/kube/grants/grants.go checkGrant writes redemptionsAllowed: 1 into a spec without one.
        Field("redemptions_allowed", "redemptionsAllowed", type="int", check=_plain(validation.positive_int),
              absent_equals=1),
        Field("expiration_window", "expirationWindow", check=_check_duration),
        Field("code", "code", no_log=True),
        Field("issuer", "issuer", check=_plain(validation.secret_name)),
        _SETTINGS,
    ],
    platforms=("kubernetes",),
    platform_advice=("system sites cannot issue tokens (Skupper: token/nonkube/token_issue.go). Link to a system "
                     "site with its static link (runtime/links/ of the running site, applied with the link "
                     "module)"),
    hidden={"spec": ("code",), "status": ("code",)},
    status_view=_grant_status,
)


def _token_status(status):
    return {"redeemed": bool(status.get("redeemed"))}


ACCESS_TOKEN = Kind(
    "AccessToken", "accesstokens", None,
    [
        Field("url", "url", required=True, check=_plain(validation.token_url)),
        Field("code", "code", required=True, no_log=True),
        Field("ca", "ca", required=True),
        Field("link_cost", "linkCost", type="int", check=_check_cost),
        _SETTINGS,
    ],
    hidden={"spec": ("code",)},
    status_view=_token_status,
)

# The Link's TLS credentials: a core v1 Secret (a file of input/resources on system sites, which
# Skupper's loader reads as well: site_state_loader.go). Its data is a credential, always hidden.
SECRET = Kind("Secret", "secrets", None, [], api_version="v1", core=True, hidden={"data": None})

KINDS = dict((kind.kind, kind) for kind in (LINK, ACCESS_GRANT, ACCESS_TOKEN, SECRET, LISTENER, MULTIKEYLISTENER,
                                            CONNECTOR, SITE))
