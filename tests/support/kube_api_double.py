"""A TEST DOUBLE of the Kubernetes API server, for the tests of skupperlabs.network.

This module is not Kubernetes and is never used by the collection itself. It
serves, over plain HTTP on 127.0.0.1 (a free port picked by the kernel), the part
of the Kubernetes REST API that the collection relies on, closely enough that the
real ``kubernetes`` Python client and ``kubectl`` work against it unchanged. It is
pure standard library (PyYAML is used only to write the kubeconfig when present).

What it implements
------------------
* Discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/skupper.io``,
  ``/apis/skupper.io/v2alpha1`` (legacy discovery documents; kubectl's request for
  aggregated discovery falls back to them).
* Core v1: namespaces (cluster scoped; ``default``, ``kube-system``,
  ``kube-public`` and ``kube-node-lease`` exist at start), and the namespaced
  secrets, configmaps, services and pods (``add_pod()``; no kubelet: a pod is
  what its stored status says).
* ``skupper.io/v2alpha1``: listeners (short name ``lnr``), multikeylisteners,
  connectors (``cnr``), sites (``st``), links (``ln``), accessgrants, accesstokens,
  routeraccesses, certificates, securedaccesses, attachedconnectors,
  attachedconnectorbindings; all namespaced, each with a ``status`` subresource.
  Their schemas are Skupper's CRDs (``config/crd/bases/skupper_*_crd.yaml``):
  every spec and status field, the same ``required`` lists (only
  MultiKeyListener requires ``spec`` itself), enums (``observer``: auto, none,
  http1, http2), the condition patterns and lengths, and no ``minimum`` on
  multi-key listener weights.
* ``KubeApiDouble(skupper_version=...)`` picks the Skupper release whose CRDs
  and controller rules are installed (``SKUPPER_RELEASES``; default
  ``DEFAULT_SKUPPER_VERSION``, 2.2.1, the newest release; ``"main"`` is the
  main branch of 2026-07, commit 80b1ba6d). Read from the tags of
  github.com/skupperproject/skupper (``git show <tag>:config/crd/bases/...``,
  ``<tag>:internal/kube/site/site.go``):

  ============  ==============================================================
  2.0.0-2.1.4   no MultiKeyListener CRD (``multikeylisteners`` is 404, as a
                missing CRD); Listener has no ``observer`` (pruned); the
                controller has neither the host/port nor the Service rule
  2.2.0         MultiKeyListener CRD (#2372, weighted #2405) without
                ``observer`` (pruned); Listener ``observer`` (#2348); the
                controller's host/port and Service rules (#2389)
  2.2.1         MultiKeyListener ``observer`` (#2464)
  main          the controller also refuses a ``tlsCredentials`` Secret that
                does not exist (#2449) and a Site with ``edge`` and ``ha``
                (#2540); CRDs as 2.2.1 (description changes only)
  ============  ==============================================================
* Verbs: get, list (also across all namespaces), create, update (PUT), patch
  (``application/merge-patch+json`` per RFC 7386 and ``application/json-patch+json``
  per RFC 6902; for core types a strategic merge patch is treated as a merge
  patch), delete and deletecollection.
* Server-owned metadata: ``uid``, ``creationTimestamp``, ``resourceVersion`` (one
  global counter, bumped by every stored write; a write that changes nothing is
  not stored and keeps the version, as on a real server), ``generation`` for
  custom objects (bumped when anything outside ``metadata`` and ``status``
  changes), ``generateName``.
* Optimistic concurrency: a stale ``metadata.resourceVersion`` on PUT or inside a
  patch gives 409 Conflict; DeleteOptions preconditions (uid, resourceVersion).
* The status subresource: writes to the main resource keep the stored ``status``;
  writes to ``/status`` change nothing but ``status``.
* ``dryRun=All`` (query, or DeleteOptions.dryRun) on every write: full validation
  and the real response, nothing stored, no resourceVersion bump.
* Table output (``Accept: ...;as=Table;g=meta.k8s.io``) for ``kubectl get``,
  with the printer columns of the Skupper CRDs.
* ``labelSelector`` (``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``,
  ``k notin (a,b)``, ``k>n``, ``k<n``, comma meaning AND), ``fieldSelector`` on
  ``metadata.name`` and ``metadata.namespace`` (plus ``type`` for secrets and
  ``status.phase`` for namespaces), ``limit``/``continue`` paging.
* Structural-schema validation of the Skupper kinds, driven by the schema table
  below (types string/integer/number/boolean/object/array, maps through
  ``additionalProperties``, ``required``, ``enum``, ``minimum``, min/max items,
  min/max properties, ``x-kubernetes-list-type: set``); unknown fields are pruned
  silently (with a ``Warning`` header, or 400 when ``fieldValidation=Strict``) and
  ``null`` fields are dropped, as a CRD with a structural schema does. The CEL
  rules of MultiKeyListener (on ``spec.strategy``: "strategy is immutable", a
  transition rule, then "exactly one of the fields in [priority weighted] must
  be set"; on ``status.strategy`` the latter) and the ``oneOf`` of Connector
  (host or selector) are coded by hand.
  ``metadata.name`` must be an RFC 1123 subdomain (namespaces: RFC 1123 label;
  services: RFC 1035 label); label keys and values are checked.
* Error bodies are ``Status`` objects shaped as the real server's: 404 NotFound
  for a missing object (with ``details.name``) and for an unknown resource type
  (``the server could not find the requested resource``, empty details), 404
  ``namespaces "x" not found`` when creating into a missing namespace, 409
  AlreadyExists and Conflict, 422 Invalid with ``details.causes``, 400 BadRequest,
  401, 403, 405, 415, 429, 500, 503.
* Test controls (thread safe): a request log (``requests``, ``calls()``,
  ``writes()``, ``reset_calls()``), ``latency``, ``fail_next()``, ``drop_next()``,
  ``conflict_next()``, ``auth_mode`` (401/403), ``crds_installed``, and direct
  store access (``get_object``, ``list_objects``, ``put_object``,
  ``delete_object``, ``set_status``, ``create_namespace``). ``_on_change`` is the
  hook where the status controller plugs in.
* A status controller, off by default (``KubeApiDouble(controller=True)`` or
  ``controller_enabled = True``): after every stored change of a listener,
  multi-key listener, connector, site, service or namespace it recomputes the
  status of every Listener, MultiKeyListener, Connector and Site in all
  namespaces with ``skupper_status.py`` (Skupper's status rules as a TEST
  DOUBLE) and writes the statuses that changed, as Skupper's controller would.
  Each namespace with a Site is a site; all of them form one network, as if
  linked, so a connector in one namespace matches a listener in another. A
  binding in a namespace without a Site is in error (``No active site in
  namespace``), as in Skupper; ``controller_require_site = False`` drops that
  rule. ``controller_delay`` (seconds) runs it from a timer instead, once for
  a burst of changes; ``controller_error()`` forces an Error on one object;
  ``run_controller()`` and ``wait_controller_idle()`` help tests. Status
  writes bump resourceVersion like any other write.
* Linking, in the same controller (class ``_Linking``, built from Skupper's
  ``internal/kube/grants/`` and ``internal/kube/grants/redeem.go``): an
  AccessGrant gets ``url``, ``code``, ``ca``, ``expirationTime`` and conditions
  from a grant server double (``tests/support/grant_server.py``, real HTTPS with
  TLS 1.3 on ``grant_server_host``, default 127.0.0.1, started on first use:
  ``grant_server``) that counts
  redemptions into ``status.redemptions``; an AccessToken in a namespace with a
  Site is redeemed by a real HTTPS POST (to this double's grant server or any
  other) and yields the Secret and Link(s) owned by the Site, with
  ``redeemed: true``, or Skupper's Error message; Links get ``Configured``,
  and ``Operational`` when their endpoint is a site the double knows (see
  ``_Linking``; ``set_link_operational()`` overrides); ``resync_access_tokens()``
  stands for the informer resync that retries refused tokens.
* TEST-ONLY network registry (``network_dir``, default the environment variable
  ``SKUPPER_DOUBLE_NETWORK_DIR``), shared with the system-site double
  (``system_controller.py``): every controller run records each namespace with
  a Site there (``kubernetes_<link_domain>_<namespace>.yaml``: its endpoints on
  ``link_host``, the grant server's site CA, routing keys, Links), removes them
  at ``stop()``, lets Links reach system sites recorded there and adds the
  routing keys of the sites linked to this cluster to its network.

What it leaves out (do not rely on these in tests)
--------------------------------------------------
* watch (``?watch=true`` gives 405), server-side apply (``apply-patch+yaml``
  gives 415), protobuf, OpenAPI documents (``/openapi/*`` is 404, so
  ``kubectl apply``/``create -f`` need ``--validate=false``), aggregated discovery.
* Real authentication and RBAC: any or no bearer token is accepted unless
  ``auth_mode`` says otherwise. No TLS.
* Finalizers, ``deletionTimestamp`` lifetimes, ownerReferences and garbage
  collection: a delete removes the object at once. Deleting a namespace removes
  everything in it at once (the response still shows it ``Terminating``).
* managedFields (dropped from input, never produced), admission webhooks,
  defaulting beyond what is written here, CRD versions and conversion,
  resourceVersion semantics of list/get (``resourceVersion=`` queries are
  ignored), ``410 Gone`` for old continue tokens.
* Core types get only light treatment: no Service ports validation, no secret
  type checks, strategic merge patch is a plain merge patch.
* The status controller has no router and creates no Services: it never
  creates the Service of a listener, reports a Site Ready as soon as it is
  configured (see ``skupper_status.py`` for all it leaves out). Skupper's
  Kubernetes rules it does apply (``_kube_errors``; each names its source):
  the listener host/port rule with its "lead" listeners and the foreign-Service
  rule (internal/kube/site/site.go ``CheckListener``; not for multi-key
  listeners), connector pod selection with "No matches for selector"
  (internal/kube/site/bindings.go), and the main-only checks. Skupper re-checks
  objects at its 5-minute informer resync; the double re-checks all of them at
  every run, so what Skupper fixes "eventually" the double fixes at once.
  Connector ``selectedPods`` is never written (as in Skupper: only dead code
  sets it); Site ``linkAccess`` values are not checked against the cluster's
  access types; ``format`` (date-time, duration) is not checked.
* DELETE answers a ``Status`` for every type (the real server answers the
  deleted object for some core types; the Python client's
  ``delete_namespaced_service`` then fails to parse the answer).
* Some message texts whose exact wording was not verified against a live
  server: the JSON-patch failure, the malformed-body 400s, the Connector
  ``oneOf`` message, the minLength/maxLength/pattern details. The CEL messages
  are the CRD's; the controller's messages are those of Skupper's source.

Run it by hand with ``python tests/support/kube_api_double.py --kubeconfig PATH``.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime
import hashlib
import http.client
import http.server
import json
import os
import random
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

try:  # PyYAML is optional: JSON is valid YAML, and kubeconfig loaders read both.
    import yaml
except ImportError:  # pragma: no cover - depends on the environment
    yaml = None

try:  # imported as tests.support.kube_api_double
    from . import skupper_status
except ImportError:  # run as a script: this folder is on sys.path
    import skupper_status

SKUPPER_GROUP = "skupper.io"
SKUPPER_VERSION = "v2alpha1"
SKUPPER_API_VERSION = SKUPPER_GROUP + "/" + SKUPPER_VERSION

UNKNOWN_RESOURCE_MESSAGE = "the server could not find the requested resource"
DEFAULT_USER = "system:serviceaccount:default:skupperlabs-test"
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

PRESERVE = "x-kubernetes-preserve-unknown-fields"
LIST_TYPE = "x-kubernetes-list-type"


# --------------------------------------------------------------------------
# Schemas of the Skupper kinds (a subset of OpenAPI v3 structural schemas)
# --------------------------------------------------------------------------

def _string(**extra):
    return dict(type="string", **extra)


def _integer(**extra):
    return dict(type="integer", **extra)


def _boolean():
    return {"type": "boolean"}


def _string_map():
    return {"type": "object", "additionalProperties": {"type": "string"}}


def _array(items, **extra):
    return dict(type="array", items=items, **extra)


def _object(properties=None, required=(), preserve=False, **extra):
    schema = {"type": "object"}
    if properties is not None:
        schema["properties"] = properties
    if required:
        schema["required"] = list(required)
    if preserve:
        schema[PRESERVE] = True
    schema.update(extra)
    return schema


def _open_object():
    """An object whose content is kept as sent (x-kubernetes-preserve-unknown-fields)."""
    return _object(preserve=True)


# Every schema below is written from Skupper's CRDs, config/crd/bases/skupper_<kind>_crd.yaml (read at the
# tags 2.0.0 to 2.2.1 and on main); descriptions are left out. The Go types they decode into are in
# pkg/apis/skupper/v2alpha1/types.go and multikeylistener_types.go.

# metav1.Condition as every Skupper CRD spells it out (pattern, lengths, enum).
_CONDITION = _object(
    {
        "lastTransitionTime": _string(format="date-time"),
        "message": _string(maxLength=32768),
        "observedGeneration": _integer(minimum=0),
        "reason": _string(maxLength=1024, minLength=1, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
        "status": _string(enum=["True", "False", "Unknown"]),
        "type": _string(maxLength=316, pattern=(
            r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
            r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$")),
    },
    required=("lastTransitionTime", "message", "reason", "status", "type"),
)
_CONDITIONS = _array(_CONDITION)
_OBSERVER = _string(enum=["auto", "none", "http1", "http2"])
_ENDPOINT = _object({"name": _string(), "host": _string(), "port": _string(), "group": _string()})
_POD_DETAILS = _object({"name": _string(), "ip": _string()})


def _status_schema(extra_properties):
    properties = {"status": _string(), "message": _string(), "conditions": _CONDITIONS}
    properties.update(extra_properties)
    return _object(properties)


def _listener_spec(version):
    """skupper_listener_crd.yaml; ``observer`` (an enum) from 2.2.0 (commit b4f3ba94, #2348)."""
    properties = {
        "routingKey": _string(),
        "host": _string(),
        "port": _integer(),
        "tlsCredentials": _string(),
        "type": _string(),
        "exposePodsByName": _boolean(),
        "settings": _string_map(),
    }
    if version >= (2, 2, 0):
        properties["observer"] = _OBSERVER
    return _object(properties, required=("routingKey", "host", "port"))


def _multikeylistener_spec(version):
    """skupper_multikeylistener_crd.yaml (from 2.2.0); ``observer`` from 2.2.1 (#2464).

    No ``minimum`` on the weights: the CRD says only ``integer`` (the Go type is
    ``map[string]uint``, multikeylistener_types.go), so 0 and negative weights pass
    the API server.
    """
    properties = {
        "host": _string(),
        "port": _integer(),
        "strategy": _object({
            "priority": _object(
                {"routingKeys": _array(_string(), minItems=1, maxItems=256, **{LIST_TYPE: "set"})},
                required=("routingKeys",),
            ),
            "weighted": _object(
                {"routingKeys": _object(additionalProperties=_integer(), minProperties=1, maxProperties=256)},
                required=("routingKeys",),
            ),
        }),
        "tlsCredentials": _string(),
        "requireClientCert": _boolean(),
        "settings": _string_map(),
    }
    if version >= (2, 2, 1):
        properties["observer"] = _OBSERVER
    return _object(properties, required=("host", "port", "strategy"))


# skupper_connector_crd.yaml (the same in every release); the oneOf host/selector is coded by hand.
CONNECTOR_SPEC = _object(
    {
        "routingKey": _string(),
        "port": _integer(),
        "selector": _string(),
        "host": _string(),
        "tlsCredentials": _string(),
        "useClientCert": _boolean(),
        "verifyHostname": _boolean(),
        "type": _string(),
        "includeNotReadyPods": _boolean(),
        "exposePodsByName": _boolean(),
        "settings": _string_map(),
    },
    required=("routingKey", "port"),
)

# skupper_site_crd.yaml: every field optional.
SITE_SPEC = _object(
    {
        "serviceAccount": _string(),
        "linkAccess": _string(),
        "defaultIssuer": _string(),
        "ha": _boolean(),
        "edge": _boolean(),
        "settings": _string_map(),
    }
)

# skupper_link_crd.yaml
LINK_SPEC = _object(
    {"endpoints": _array(_ENDPOINT), "tlsCredentials": _string(), "cost": _integer(), "settings": _string_map()},
    required=("endpoints",),
)

# skupper_access_grant_crd.yaml (expirationWindow has format: duration; formats are not checked here)
ACCESSGRANT_SPEC = _object(
    {
        "redemptionsAllowed": _integer(),
        "expirationWindow": _string(format="duration"),
        "code": _string(),
        "issuer": _string(),
        "settings": _string_map(),
    }
)

# skupper_access_token_crd.yaml
ACCESSTOKEN_SPEC = _object(
    {"url": _string(), "code": _string(), "ca": _string(), "linkCost": _integer(), "settings": _string_map()},
    required=("url", "code", "ca"),
)

# skupper_router_access_crd.yaml
ROUTERACCESS_SPEC = _object(
    {
        "accessType": _string(),
        "issuer": _string(),
        "roles": _array(_object({"name": _string(), "port": _integer()}, required=("name",))),
        "settings": _string_map(),
        "tlsCredentials": _string(),
        "generateTlsCredentials": _boolean(),
        "bindHost": _string(),
        "subjectAlternativeNames": _array(_string()),
    },
    required=("roles", "tlsCredentials"),
)

# skupper_certificate_crd.yaml
CERTIFICATE_SPEC = _object(
    {
        "ca": _string(), "subject": _string(), "hosts": _array(_string()), "client": _boolean(),
        "server": _boolean(), "signing": _boolean(), "settings": _string_map(),
    },
    required=("ca", "subject"),
)

# skupper_secured_access_crd.yaml
SECUREDACCESS_SPEC = _object(
    {
        "accessType": _string(),
        "selector": _string_map(),
        "ports": _array(_object({"name": _string(), "port": _integer(), "targetPort": _integer(),
                                 "protocol": _string()}, required=("name", "port"))),
        "certificate": _string(),
        "issuer": _string(),
        "settings": _string_map(),
    },
    required=("selector", "ports"),
)

# skupper_attached_connector_crd.yaml
ATTACHEDCONNECTOR_SPEC = _object(
    {
        "siteNamespace": _string(), "selector": _string(), "port": _integer(), "tlsCredentials": _string(),
        "useClientCert": _boolean(), "type": _string(), "includeNotReadyPods": _boolean(),
        "settings": _string_map(),
    },
    required=("port", "selector", "siteNamespace"),
)

# skupper_attached_connector_binding_crd.yaml
ATTACHEDCONNECTORBINDING_SPEC = _object(
    {"connectorNamespace": _string(), "routingKey": _string(), "exposePodsByName": _boolean(),
     "settings": _string_map()},
    required=("connectorNamespace", "routingKey"),
)

_SITE_RECORD = _object({
    "id": _string(), "name": _string(), "namespace": _string(), "platform": _string(), "version": _string(),
    "links": _array(_object({"name": _string(), "remoteSiteId": _string(), "remoteSiteName": _string(),
                             "operational": _boolean()})),
    "services": _array(_object({"routingKey": _string(), "connectors": _array(_string()),
                                "listeners": _array(_string())})),
})

STATUS_SCHEMAS = {
    "Listener": _status_schema({"hasMatchingConnector": _boolean()}),
    "MultiKeyListener": _status_schema(
        {
            "hasDestination": _boolean(),
            "strategy": _object(
                {
                    "priority": _object({"routingKeysReachable": _array(_string())},
                                        required=("routingKeysReachable",)),
                    "weighted": _object({"routingKeysReachable": _object(additionalProperties=_integer())},
                                        required=("routingKeysReachable",)),
                }
            ),
        }
    ),
    "Connector": _status_schema({"hasMatchingListener": _boolean(), "selectedPods": _array(_POD_DETAILS)}),
    "Site": _status_schema(
        {
            "defaultIssuer": _string(),
            "sitesInNetwork": _integer(),
            "controller": _object({"name": _string(), "namespace": _string(), "version": _string()}),
            "endpoints": _array(_ENDPOINT),
            "network": _array(_SITE_RECORD),
        }
    ),
    "Link": _status_schema({"remoteSiteId": _string(), "remoteSiteName": _string()}),
    "AccessGrant": _status_schema({"url": _string(), "code": _string(), "ca": _string(),
                                   "redemptions": _integer(), "expirationTime": _string(format="date-time")}),
    "AccessToken": _status_schema({"redeemed": _boolean()}),
    "RouterAccess": _status_schema({"endpoints": _array(_ENDPOINT)}),
    "Certificate": _status_schema({"expiration": _string(format="date-time")}),
    "SecuredAccess": _status_schema({"endpoints": _array(_ENDPOINT), "ca": _string()}),
    "AttachedConnector": _status_schema({"selectedPods": _array(_POD_DETAILS)}),
    "AttachedConnectorBinding": _status_schema({"hasMatchingListener": _boolean()}),
}


def _custom_schema(kind, spec_schema, spec_required):
    """The whole-object schema of a custom kind (metadata is checked separately)."""
    properties = {
        "apiVersion": _string(),
        "kind": _string(),
        "metadata": _open_object(),
        "spec": spec_schema,
        "status": STATUS_SCHEMAS.get(kind, _open_object()),
    }
    return _object(properties, required=("spec",) if spec_required else ())


# --------------------------------------------------------------------------
# Field errors and the structural-schema validator
# --------------------------------------------------------------------------

_NO_VALUE = object()


def _go_value(value):
    """Render a value the way Go's field errors print it (%q for strings, %v else)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, sort_keys=True)


@dataclass
class FieldError:
    """One validation error, as k8s.io/apimachinery's field.Error renders it."""

    field: str
    reason: str  # the StatusCause reason, e.g. FieldValueRequired
    label: str  # the text the error type prints, e.g. "Required value"
    value: Any = _NO_VALUE
    detail: str = ""

    def body(self):
        text = self.label
        if self.value is not _NO_VALUE:
            text += ": " + _go_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self):
        return "%s: %s" % (self.field, self.body())

    def cause(self):
        return {"reason": self.reason, "message": self.body(), "field": self.field}

    @classmethod
    def required(cls, path, detail=""):
        return cls(path, "FieldValueRequired", "Required value", detail=detail)

    @classmethod
    def invalid(cls, path, value, detail):
        return cls(path, "FieldValueInvalid", "Invalid value", value, detail)

    @classmethod
    def type_invalid(cls, path, actual_type, expected_type):
        detail = "%s in body must be of type %s: %s" % (path, expected_type, _go_value(actual_type))
        return cls(path, "FieldValueTypeInvalid", "Invalid value", actual_type, detail)

    @classmethod
    def not_supported(cls, path, value, allowed):
        detail = "supported values: " + ", ".join(_go_value(item) for item in allowed)
        return cls(path, "FieldValueNotSupported", "Unsupported value", value, detail)

    @classmethod
    def too_many(cls, path, actual, maximum):
        return cls(path, "FieldValueTooMany", "Too many", actual, "must have at most %d items" % maximum)

    @classmethod
    def duplicate(cls, path, value):
        return cls(path, "FieldValueDuplicate", "Duplicate value", value)


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _type_matches(value, expected):
    actual = _json_type(value)
    if expected == actual:
        return True
    if expected == "integer" and actual == "number":
        return float(value).is_integer()  # 8080.0 is an integer in JSON terms
    if expected == "number" and actual == "integer":
        return True
    return False


def _join(path, key):
    return "%s.%s" % (path, key) if path else str(key)


def validate_structural(value, schema, path="", pruned=None):
    """Validate ``value`` against a structural schema.

    Returns ``(cleaned_value, errors)``: the value with unknown fields pruned and
    null fields dropped, and a list of :class:`FieldError`. When ``pruned`` is a
    list, the paths of the pruned unknown fields are appended to it.
    """
    errors = []
    cleaned = _walk(value, schema, path, errors, pruned if pruned is not None else [])
    return cleaned, errors


def _walk(value, schema, path, errors, pruned):
    if not schema:
        return copy.deepcopy(value)
    expected = schema.get("type")
    if expected is None and schema.get(PRESERVE):
        return copy.deepcopy(value)
    if expected and not _type_matches(value, expected):
        errors.append(FieldError.type_invalid(path, _json_type(value), expected))
        return copy.deepcopy(value)
    if expected == "integer" and isinstance(value, float):
        value = int(value)
    if "enum" in schema and value not in schema["enum"]:
        errors.append(FieldError.not_supported(path, value, schema["enum"]))
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        detail = "%s in body should be greater than or equal to %s" % (path, schema["minimum"])
        errors.append(FieldError.invalid(path, value, detail))
    if isinstance(value, str):
        _check_string(value, schema, path, errors)
    if isinstance(value, dict):
        return _walk_object(value, schema, path, errors, pruned)
    if isinstance(value, list):
        return _walk_array(value, schema, path, errors, pruned)
    return value


def _check_string(value, schema, path, errors):
    """minLength, maxLength and pattern (the condition fields of every Skupper CRD use them)."""
    if "minLength" in schema and len(value) < schema["minLength"]:
        detail = "%s in body should be at least %d chars long" % (path, schema["minLength"])
        errors.append(FieldError.invalid(path, value, detail))
    if "maxLength" in schema and len(value.encode("utf-8")) > schema["maxLength"]:
        errors.append(FieldError(path, "FieldValueTooLong", "Too long", _NO_VALUE,
                                 "may not be more than %d bytes" % schema["maxLength"]))
    if "pattern" in schema and not re.search(schema["pattern"], value):
        detail = "%s in body should match '%s'" % (path, schema["pattern"])
        errors.append(FieldError.invalid(path, value, detail))


def _walk_object(value, schema, path, errors, pruned):
    properties = schema.get("properties")
    additional = schema.get("additionalProperties")
    preserve = schema.get(PRESERVE, False)
    cleaned = {}
    for key, item in value.items():
        if properties is not None and key in properties:
            sub_schema = properties[key]
        elif isinstance(additional, dict):
            sub_schema = additional
        elif preserve or additional is True:
            cleaned[key] = copy.deepcopy(item)
            continue
        else:
            pruned.append(_join(path, key))
            continue
        if item is None and not sub_schema.get("nullable"):
            continue  # null is pruned before validation, as for CRDs
        cleaned[key] = _walk(item, sub_schema, _join(path, key), errors, pruned)
    for key in schema.get("required", ()):
        if key not in cleaned:
            errors.append(FieldError.required(_join(path, key)))
    count = len(cleaned)
    if "minProperties" in schema and count < schema["minProperties"]:
        detail = "%s in body should have at least %d properties" % (path, schema["minProperties"])
        errors.append(FieldError.invalid(path, count, detail))
    if "maxProperties" in schema and count > schema["maxProperties"]:
        errors.append(FieldError.too_many(path, count, schema["maxProperties"]))
    return cleaned


def _walk_array(value, schema, path, errors, pruned):
    items_schema = schema.get("items")
    cleaned = [
        _walk(item, items_schema, "%s[%d]" % (path, index), errors, pruned) for index, item in enumerate(value)
    ]
    count = len(cleaned)
    if "minItems" in schema and count < schema["minItems"]:
        errors.append(
            FieldError.invalid(path, count, "%s in body should have at least %d items" % (path, schema["minItems"]))
        )
    if "maxItems" in schema and count > schema["maxItems"]:
        errors.append(FieldError.too_many(path, count, schema["maxItems"]))
    if schema.get(LIST_TYPE) == "set":
        seen = []
        for index, item in enumerate(cleaned):
            if item in seen:
                errors.append(FieldError.duplicate("%s[%d]" % (path, index), item))
            else:
                seen.append(item)
    return cleaned


# CEL rules and oneOf, coded by hand: rule(new_object, old_object_or_None) -> [FieldError]

MKL_IMMUTABLE_MESSAGE = "strategy is immutable"
MKL_EXACTLY_ONE_MESSAGE = "exactly one of the fields in [priority weighted] must be set"


def _strategy_kinds(obj, section="spec"):
    part = obj.get(section) if isinstance(obj, dict) else None
    strategy = part.get("strategy") if isinstance(part, dict) else None
    if not isinstance(strategy, dict):
        return None
    return [key for key in ("priority", "weighted") if key in strategy]


def _multikeylistener_rules(new, old):
    """The x-kubernetes-validations of skupper_multikeylistener_crd.yaml, in the CRD's order.

    On ``spec.strategy``: the transition rule "strategy is immutable" (only on
    update: a key the old strategy had must still be there) and "exactly one of
    the fields in [priority weighted] must be set"; on ``status.strategy`` the
    exactly-one rule again. A CEL failure reads ``<path>: Invalid value: "object":
    <message>``, as the API server prints it.
    """
    errors = []
    kinds = _strategy_kinds(new)
    if kinds is not None:
        old_kinds = _strategy_kinds(old) if old is not None else None
        if old_kinds is not None and not set(old_kinds) <= set(kinds):
            errors.append(FieldError.invalid("spec.strategy", "object", MKL_IMMUTABLE_MESSAGE))
        if len(kinds) != 1:
            errors.append(FieldError.invalid("spec.strategy", "object", MKL_EXACTLY_ONE_MESSAGE))
    status_kinds = _strategy_kinds(new, "status")
    if status_kinds is not None and len(status_kinds) != 1:
        errors.append(FieldError.invalid("status.strategy", "object", MKL_EXACTLY_ONE_MESSAGE))
    return errors


def _connector_rules(new, old):
    """The ``oneOf`` (required selector, or required host) of skupper_connector_crd.yaml."""
    spec = new.get("spec")
    if not isinstance(spec, dict):
        return []
    matched = sum(1 for key in ("selector", "host") if key in spec)
    if matched == 1:
        return []
    found = "Found none valid" if matched == 0 else "Found %d valid alternatives" % matched
    detail = '"spec" must validate one and only one schema (oneOf). ' + found
    return [FieldError.invalid("spec", "object", detail)]


# --------------------------------------------------------------------------
# Skupper versions
# --------------------------------------------------------------------------

#: The Skupper versions whose CRDs the double can serve (tags of github.com/skupperproject/skupper).
SKUPPER_RELEASES = ("2.0.0", "2.0.1", "2.1.0", "2.1.1", "2.1.2", "2.1.3", "2.1.4", "2.2.0", "2.2.1", "main")
#: The default: the newest release.
DEFAULT_SKUPPER_VERSION = "2.2.1"


def skupper_version_key(version):
    """``"2.1.1"`` -> ``(2, 1, 1)``; ``"main"`` sorts after every release. ValueError for others."""
    text = str(version).strip()
    if text in ("main", "latest"):
        return (99, 0, 0)
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match or int(match.group(1)) != 2:
        raise ValueError("the double serves Skupper 2.x CRDs (2.0.0 to 2.2.1, or main), not %r" % (version,))
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


# --------------------------------------------------------------------------
# Resource types
# --------------------------------------------------------------------------

CUSTOM_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")
CORE_NAMESPACED_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NAMESPACE_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One REST resource the double serves."""

    group: str  # "" for core
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool = True
    short_names: tuple = ()
    status_subresource: bool = True
    verbs: tuple = CUSTOM_VERBS
    schema: Optional[dict] = None
    rules: Optional[Callable] = None
    name_rule: str = "subdomain"  # subdomain | label | label1035
    field_labels: tuple = ("metadata.name", "metadata.namespace")

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def resource_ref(self):
        """How error messages name the resource: listeners.skupper.io, secrets."""
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural

    @property
    def kind_ref(self):
        """How Invalid messages name the kind: Listener.skupper.io, Secret."""
        return "%s.%s" % (self.kind, self.group) if self.group else self.kind

    @property
    def is_custom(self):
        return bool(self.group)


def _skupper(plural, kind, spec=None, short_names=(), rules=None, spec_required=False):
    schema = _custom_schema(kind, spec if spec is not None else _open_object(), spec_required)
    return ResourceType(
        SKUPPER_GROUP, SKUPPER_VERSION, plural, kind.lower(), kind,
        short_names=short_names, schema=schema, rules=rules,
    )


def skupper_types(skupper_version=DEFAULT_SKUPPER_VERSION):
    """The skupper.io resources a cluster with that Skupper version's CRDs serves.

    From config/crd/bases/ at each tag: MultiKeyListener exists from 2.2.0 on
    (commit 00a13b58, #2372); only MultiKeyListener has ``required: [spec]`` at
    the top, so a Listener or Connector without ``spec`` is accepted. Short
    names are the CRDs' ``shortNames``.
    """
    version = skupper_version_key(skupper_version)
    types = [
        _skupper("listeners", "Listener", _listener_spec(version), ("lnr",)),
        _skupper("connectors", "Connector", CONNECTOR_SPEC, ("cnr",), rules=_connector_rules),
        _skupper("sites", "Site", SITE_SPEC, ("st",)),
        _skupper("links", "Link", LINK_SPEC, ("ln",)),
        _skupper("accessgrants", "AccessGrant", ACCESSGRANT_SPEC, ("grant", "gr")),
        _skupper("accesstokens", "AccessToken", ACCESSTOKEN_SPEC, ("token", "to")),
        _skupper("routeraccesses", "RouterAccess", ROUTERACCESS_SPEC),
        _skupper("certificates", "Certificate", CERTIFICATE_SPEC),
        _skupper("securedaccesses", "SecuredAccess", SECUREDACCESS_SPEC),
        _skupper("attachedconnectors", "AttachedConnector", ATTACHEDCONNECTOR_SPEC, ("acnr",)),
        _skupper("attachedconnectorbindings", "AttachedConnectorBinding", ATTACHEDCONNECTORBINDING_SPEC,
                 ("acnrb",)),
    ]
    if version >= (2, 2, 0):
        types.insert(1, _skupper("multikeylisteners", "MultiKeyListener", _multikeylistener_spec(version),
                                 rules=_multikeylistener_rules, spec_required=True))
    return tuple(types)


SKUPPER_TYPES = skupper_types()

CORE_TYPES = (
    ResourceType("", "v1", "namespaces", "namespace", "Namespace", namespaced=False, short_names=("ns",),
                 verbs=NAMESPACE_VERBS, name_rule="label", field_labels=("metadata.name", "status.phase")),
    ResourceType("", "v1", "secrets", "secret", "Secret", status_subresource=False,
                 verbs=CORE_NAMESPACED_VERBS, field_labels=("metadata.name", "metadata.namespace", "type")),
    ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", short_names=("cm",),
                 status_subresource=False, verbs=CORE_NAMESPACED_VERBS),
    ResourceType("", "v1", "services", "service", "Service", short_names=("svc",),
                 verbs=CORE_NAMESPACED_VERBS, name_rule="label1035"),
    ResourceType("", "v1", "pods", "pod", "Pod", short_names=("po",), verbs=CORE_NAMESPACED_VERBS,
                 field_labels=("metadata.name", "metadata.namespace", "status.phase")),
)

ALL_TYPES = CORE_TYPES + SKUPPER_TYPES
_TYPES_BY_PLURAL = {rtype.plural: rtype for rtype in ALL_TYPES}


def resource_type(plural):
    """The ResourceType of a plural name (KeyError when the double does not serve it)."""
    return _TYPES_BY_PLURAL[plural]


# --------------------------------------------------------------------------
# Names, labels and selectors
# --------------------------------------------------------------------------

_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL1035_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")

_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_LABEL1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_QUALIFIED_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
    "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)

_NAME_RULES = {
    "subdomain": (_SUBDOMAIN_RE, 253, _SUBDOMAIN_MSG),
    "label": (_LABEL_RE, 63, _LABEL_MSG),
    "label1035": (_LABEL1035_RE, 63, _LABEL1035_MSG),
}


def name_errors(name, rule="subdomain", path="metadata.name"):
    """Field errors for an object name under one of the Kubernetes name rules."""
    regex, limit, message = _NAME_RULES[rule]
    errors = []
    if len(name) > limit:
        errors.append(FieldError.invalid(path, name, "must be no more than %d characters" % limit))
    if not regex.match(name):
        errors.append(FieldError.invalid(path, name, message))
    return errors


def _label_key_errors(key, path):
    errors = []
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            errors.append(FieldError.invalid(path, key, "prefix part must be non-empty"))
        elif len(prefix) > 253 or not _SUBDOMAIN_RE.match(prefix):
            errors.append(FieldError.invalid(path, key, "prefix part " + _SUBDOMAIN_MSG))
    if not name:
        errors.append(FieldError.invalid(path, key, "name part must be non-empty"))
    elif len(name) > 63:
        errors.append(FieldError.invalid(path, key, "name part must be no more than 63 characters"))
    elif not _QUALIFIED_NAME_RE.match(name):
        errors.append(FieldError.invalid(path, key, _QUALIFIED_NAME_MSG))
    return errors


def _label_value_errors(value, path):
    errors = []
    if len(value) > 63:
        errors.append(FieldError.invalid(path, value, "must be no more than 63 characters"))
    if not _LABEL_VALUE_RE.match(value):
        errors.append(FieldError.invalid(path, value, _LABEL_VALUE_MSG))
    return errors


class SelectorError(ValueError):
    """A label or field selector that does not parse."""


def _split_top_level(text):
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


_SET_REQUIREMENT_RE = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")
_OPERATOR_RE = re.compile(r"^\s*([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(\S*)\s*$")


def parse_label_selector(text):
    """Parse a label selector into a list of (key, operator, values) requirements."""
    requirements = []
    if not text or not text.strip():
        return requirements
    for raw in _split_top_level(text):
        part = raw.strip()
        if not part:
            raise SelectorError("unable to parse requirement: found '', expected: identifier")
        match = _SET_REQUIREMENT_RE.match(part)
        if match:
            key, operator, values = match.group(1), match.group(2), match.group(3)
            values = [value.strip() for value in values.split(",")]
            values = [value for value in values if value]
            if not values:
                raise SelectorError("unable to parse requirement: for 'in', 'notin' operators, "
                                    "values set can't be empty")
        elif part.startswith("!"):
            key, operator, values = part[1:].strip(), "!", []
        else:
            match = _OPERATOR_RE.match(part)
            if match:
                key, operator, values = match.group(1), match.group(2), [match.group(3)]
                if operator == "==":
                    operator = "="
                if operator in ("<", ">") and not re.match(r"^-?\d+$", values[0]):
                    raise SelectorError(
                        "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"
                    )
            elif re.match(r"^\S+$", part) and not any(c in part for c in "=!<>()"):
                key, operator, values = part, "exists", []
            else:
                raise SelectorError("unable to parse requirement: found '%s', expected: identifier" % part)
        key_problems = _label_key_errors(key, "key")
        if key_problems:
            raise SelectorError("unable to parse requirement: %s" % key_problems[0])
        if operator not in ("<", ">"):
            for value in values:
                value_problems = _label_value_errors(value, "values[0]")
                if value_problems:
                    raise SelectorError("unable to parse requirement: %s" % value_problems[0])
        requirements.append((key, operator, values))
    return requirements


def labels_match(requirements, labels):
    """True when the labels satisfy every requirement of a parsed selector."""
    labels = labels or {}
    for key, operator, values in requirements:
        present = key in labels
        value = labels.get(key)
        if operator == "=" and value != values[0]:
            return False
        if operator == "!=" and present and value == values[0]:
            return False
        if operator == "in" and (not present or value not in values):
            return False
        if operator == "notin" and present and value in values:
            return False
        if operator == "exists" and not present:
            return False
        if operator == "!" and present:
            return False
        if operator in ("<", ">"):
            try:
                number = int(value)
            except (TypeError, ValueError):
                return False
            limit = int(values[0])
            if (operator == ">" and number <= limit) or (operator == "<" and number >= limit):
                return False
    return True


def parse_field_selector(text, allowed):
    """Parse a field selector into (path, operator, value) terms; SelectorError if unsupported."""
    terms = []
    if not text or not text.strip():
        return terms
    for raw in text.split(","):
        part = raw.strip()
        match = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", part)
        if not match:
            raise SelectorError("invalid selector: '%s'; can't understand '%s'" % (text, part))
        path, operator, value = match.group(1).strip(), match.group(2), match.group(3).strip()
        if path not in allowed:
            raise SelectorError("field label not supported: %s" % path)
        terms.append((path, "!=" if operator == "!=" else "=", value))
    return terms


def _dotted(obj, path):
    current = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return ""
        current = current.get(part)
    return "" if current is None else str(current)


def fields_match(terms, obj):
    for path, operator, value in terms:
        actual = _dotted(obj, path)
        if (operator == "=") != (actual == value):
            return False
    return True


# --------------------------------------------------------------------------
# Patches
# --------------------------------------------------------------------------

def merge_patch(target, patch):
    """Apply a JSON merge patch (RFC 7386) and return the result (inputs untouched)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class JsonPatchError(ValueError):
    """A JSON patch operation that cannot be applied."""


def _pointer_tokens(pointer):
    if not isinstance(pointer, str):
        raise JsonPatchError("invalid JSON pointer: %r" % (pointer,))
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise JsonPatchError("JSON pointer must be empty or start with a \"/\": %s" % pointer)
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _list_index(container, token, pointer, allow_end):
    if token == "-" and allow_end:
        return len(container)
    if not re.match(r"^(0|[1-9][0-9]*)$", token):
        raise JsonPatchError("invalid array index %r in %s" % (token, pointer))
    index = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if index > limit:
        raise JsonPatchError("array index out of bounds: %s" % pointer)
    return index


def _resolve_parent(doc, tokens, pointer, operation):
    current = doc
    for token in tokens[:-1]:
        if isinstance(current, dict):
            if token not in current:
                raise JsonPatchError("%s operation does not apply: doc is missing path: \"%s\": missing value"
                                     % (operation, pointer))
            current = current[token]
        elif isinstance(current, list):
            current = current[_list_index(current, token, pointer, False)]
        else:
            raise JsonPatchError("%s operation does not apply: doc is missing path: \"%s\": missing value"
                                 % (operation, pointer))
    return current


def _pointer_get(doc, pointer, operation):
    tokens = _pointer_tokens(pointer)
    if not tokens:
        return doc
    parent = _resolve_parent(doc, tokens, pointer, operation)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_list_index(parent, last, pointer, False)]
    raise JsonPatchError("%s operation does not apply: doc is missing key: %s: missing value" % (operation, pointer))


def _pointer_add(doc, pointer, value, operation="add"):
    tokens = _pointer_tokens(pointer)
    if not tokens:
        return value
    parent = _resolve_parent(doc, tokens, pointer, operation)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_list_index(parent, last, pointer, True), value)
    else:
        raise JsonPatchError("%s operation does not apply: doc is missing path: \"%s\": missing value"
                             % (operation, pointer))
    return doc


def _pointer_remove(doc, pointer, operation="remove"):
    tokens = _pointer_tokens(pointer)
    if not tokens:
        raise JsonPatchError("%s operation does not apply: cannot remove the whole document" % operation)
    parent = _resolve_parent(doc, tokens, pointer, operation)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_list_index(parent, last, pointer, False))
    raise JsonPatchError("%s operation does not apply: doc is missing key: %s: missing value" % (operation, pointer))


def json_patch(document, operations):
    """Apply a JSON patch (RFC 6902) and return the result (inputs untouched)."""
    if not isinstance(operations, list):
        raise JsonPatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict):
            raise JsonPatchError("a JSON patch operation must be an object")
        name = operation.get("op")
        path = operation.get("path")
        if name in ("add", "replace", "test") and "value" not in operation:
            raise JsonPatchError("%s operation has no value" % name)
        if name == "add":
            doc = _pointer_add(doc, path, copy.deepcopy(operation["value"]))
        elif name == "remove":
            _pointer_remove(doc, path)
        elif name == "replace":
            if _pointer_tokens(path):
                _pointer_remove(doc, path, "replace")
            doc = _pointer_add(doc, path, copy.deepcopy(operation["value"]), "replace")
        elif name == "move":
            value = _pointer_remove(doc, operation.get("from"), "move")
            doc = _pointer_add(doc, path, value, "move")
        elif name == "copy":
            value = copy.deepcopy(_pointer_get(doc, operation.get("from"), "copy"))
            doc = _pointer_add(doc, path, value, "copy")
        elif name == "test":
            if _pointer_get(doc, path, "test") != operation["value"]:
                raise JsonPatchError("testing value %s failed: test failed" % path)
        else:
            raise JsonPatchError("Unexpected kind: %s" % name)
    return doc


# --------------------------------------------------------------------------
# Status bodies
# --------------------------------------------------------------------------

class ApiError(Exception):
    """An error answer: an HTTP code and a Status body."""

    def __init__(self, body, headers=None):
        super().__init__(body.get("message", ""))
        self.code = body["code"]
        self.body = body
        self.headers = headers or {}


def status_failure(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def _details(rtype, name=None, **extra):
    details = {}
    if name:
        details["name"] = name
    if rtype.group:
        details["group"] = rtype.group
    details["kind"] = rtype.plural
    details.update(extra)
    return details


def error_not_found(rtype, name):
    return ApiError(status_failure(404, "NotFound", '%s "%s" not found' % (rtype.resource_ref, name),
                                   _details(rtype, name)))


def error_unknown_resource():
    return ApiError(status_failure(404, "NotFound", UNKNOWN_RESOURCE_MESSAGE, {}))


def error_already_exists(rtype, name):
    return ApiError(status_failure(409, "AlreadyExists", '%s "%s" already exists' % (rtype.resource_ref, name),
                                   _details(rtype, name)))


def error_conflict(rtype, name, reason_text=None):
    text = reason_text or ("the object has been modified; please apply your changes to the latest version "
                           "and try again")
    message = 'Operation cannot be fulfilled on %s "%s": %s' % (rtype.resource_ref, name, text)
    return ApiError(status_failure(409, "Conflict", message, _details(rtype, name)))


def error_invalid(rtype, name, errors):
    if len(errors) == 1:
        listing = str(errors[0])
    else:
        listing = "[" + ", ".join(str(error) for error in errors) + "]"
    message = '%s "%s" is invalid: %s' % (rtype.kind_ref, name, listing)
    details = {"name": name} if name else {}
    if rtype.group:
        details["group"] = rtype.group
    details["kind"] = rtype.kind
    details["causes"] = [error.cause() for error in errors]
    return ApiError(status_failure(422, "Invalid", message, details))


def error_bad_request(message):
    return ApiError(status_failure(400, "BadRequest", message))


def error_method_not_allowed():
    return ApiError(status_failure(405, "MethodNotAllowed",
                                   "the server does not allow this method on the requested resource", {}))


def error_unsupported_media(accepted):
    message = ("the body of the request was in an unknown format - accepted media types include: "
               + ", ".join(accepted))
    return ApiError(status_failure(415, "UnsupportedMediaType", message))


# --------------------------------------------------------------------------
# Table output (what kubectl get asks for)
# --------------------------------------------------------------------------

# (column name, type, dotted path into the object, or #field for its size); the Skupper rows come
# from the CRDs' additionalPrinterColumns
PRINTER_COLUMNS = {
    "listeners": (("Routing Key", "string", "spec.routingKey"), ("Port", "integer", "spec.port"),
                  ("Host", "string", "spec.host"), ("Status", "string", "status.status"),
                  ("Has Matching Connector", "boolean", "status.hasMatchingConnector"),
                  ("Message", "string", "status.message")),
    "multikeylisteners": (("Status", "string", "status.status"), ("Message", "string", "status.message"),
                          ("HasDestination", "boolean", "status.hasDestination")),
    "connectors": (("Routing Key", "string", "spec.routingKey"), ("Port", "integer", "spec.port"),
                   ("Host", "string", "spec.host"), ("Selector", "string", "spec.selector"),
                   ("Status", "string", "status.status"),
                   ("Has Matching Listener", "boolean", "status.hasMatchingListener"),
                   ("Message", "string", "status.message")),
    "sites": (("Status", "string", "status.status"), ("Sites In Network", "integer", "status.sitesInNetwork"),
              ("Message", "string", "status.message")),
    "namespaces": (("Status", "string", "status.phase"),),
    "secrets": (("Type", "string", "type"), ("Data", "integer", "#data")),
    "configmaps": (("Data", "integer", "#data"),),
}
_AGE = ("Age", "date", None)


def _lookup(obj, dotted):
    current = obj
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def _human_age(timestamp):
    try:
        created = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return "<unknown>"
    seconds = max(0, int((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds


def table_of(rtype, items, list_metadata):
    """A meta.k8s.io/v1 Table of objects, as the server answers kubectl get."""
    columns = PRINTER_COLUMNS.get(rtype.plural, ())
    if not rtype.is_custom or not columns:
        columns = columns + (_AGE,)
    definitions = [{"name": "Name", "type": "string", "format": "name", "description": "Name of the object",
                    "priority": 0}]
    definitions += [{"name": name, "type": kind, "format": "", "description": "", "priority": 0}
                    for name, kind, _path in columns]
    rows = []
    for obj in items:
        meta = obj.get("metadata", {})
        cells = [meta.get("name", "")]
        for _name, kind, path in columns:
            if kind == "date":
                cells.append(_human_age(meta.get("creationTimestamp")))
            elif path.startswith("#"):
                cells.append(len(obj.get(path[1:]) or {}))  # a count, as the Data column of secrets
            else:
                cells.append(_lookup(obj, path))
        rows.append({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                                "metadata": copy.deepcopy(meta)}})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": dict(list_metadata),
            "columnDefinitions": definitions, "rows": rows}


# --------------------------------------------------------------------------
# Request log and fault switches
# --------------------------------------------------------------------------

@dataclass
class RequestRecord:
    """One HTTP request the double received."""

    method: str
    path: str
    query: dict
    content_type: str
    body: Any = None
    discovery: bool = False
    group: Optional[str] = None
    version: Optional[str] = None
    namespace: Optional[str] = None
    plural: Optional[str] = None
    name: Optional[str] = None
    subresource: Optional[str] = None
    dry_run: bool = False
    token: Optional[str] = None
    user_agent: str = ""
    status: Optional[int] = None  # the HTTP code answered; 0 when the connection was dropped
    dropped: bool = False
    timestamp: float = field(default_factory=time.time)

    @property
    def is_write(self):
        return self.method in WRITE_METHODS


@dataclass
class _Fault:
    action: str  # drop | fail | conflict
    remaining: int
    status: int = 500
    path_contains: Optional[str] = None
    methods: Optional[tuple] = None
    after_processing: bool = False

    def matches(self, record):
        if self.remaining <= 0:
            return False
        if self.methods is not None and record.method not in self.methods:
            return False
        if self.path_contains is not None and self.path_contains not in record.path:
            return False
        if self.action == "conflict" and (record.discovery or record.plural is None):
            return False
        return True


_FAIL_BODIES = {
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected by the test double"),
    502: ("InternalError", "Internal error occurred: bad gateway (injected by the test double)"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, but may still be "
                     "processing the request"),
}


def _describe_path(path):
    """Split a request path the way the API server's RequestInfo resolver does."""
    parts = [urllib.parse.unquote(part) for part in path.split("/") if part]
    info = {"discovery": False, "group": None, "version": None, "namespace": None, "plural": None,
            "name": None, "subresource": None}
    if not parts:
        return info
    if parts[0] in ("version", "openapi"):
        info["discovery"] = True
        return info
    if parts[0] == "api":
        if len(parts) <= 2:
            info["discovery"] = True
            return info
        info["group"], info["version"], rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) <= 3:
            info["discovery"] = True
            return info
        info["group"], info["version"], rest = parts[1], parts[2], parts[3:]
    else:
        return info
    if rest[0] == "namespaces" and len(rest) > 1:
        info["namespace"] = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    info["plural"] = rest[0]
    if len(rest) > 1:
        info["name"] = rest[1]
    if len(rest) > 2:
        info["subresource"] = "/".join(rest[2:])
    return info


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bearer(header_value):
    if header_value and header_value.lower().startswith("bearer "):
        return header_value[7:].strip()
    return None


CONTROLLED_PLURALS = ("listeners", "multikeylisteners", "connectors", "sites")
CONTROLLER_TRIGGERS = CONTROLLED_PLURALS + ("services", "namespaces", "pods", "secrets", "accessgrants",
                                            "accesstokens", "links")

_SERVER_OWNED = ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                 "deletionGracePeriodSeconds", "generation", "managedFields", "selfLink")


LISTENERS_PLURAL, CONNECTORS_PLURAL = "listeners", "connectors"


def _pod_selectable(pod, include_not_ready):
    """internal/kube/site/bindings.go ``PodWatcher.pods``: (Ready or includeNotReadyPods), Running, not deleted."""
    status = pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ()
                if isinstance(c, dict))
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    return (ready or include_not_ready) and status.get("phase") == "Running" and not deleting


def _without_version(obj):
    clone = copy.deepcopy(obj)
    clone.get("metadata", {}).pop("resourceVersion", None)
    return clone


def _spec_part(obj):
    return {key: value for key, value in obj.items() if key not in ("metadata", "status")}


def _ordered(obj):
    """apiVersion, kind and metadata first, as the real server prints them."""
    head = {key: obj[key] for key in ("apiVersion", "kind", "metadata") if key in obj}
    head.update((key, value) for key, value in obj.items() if key not in head)
    return head


# --------------------------------------------------------------------------
# AccessGrants, AccessTokens and Links (a TEST DOUBLE of Skupper's controller)
# --------------------------------------------------------------------------

GRANT_PLURALS = ("accessgrants", "accesstokens", "links")
# internal/kube/grants/tokens.go NewCertToken: the router ports of the inter-router and edge roles that
# internal/kube/site/site.go checkDefaultRouterAccess gives the "skupper-router" RouterAccess.
ROUTER_ACCESS_ROLES = (("inter-router", "55671"), ("edge", "45671"))
# internal/kube/grants/redeem.go postTokenRequest: http.Client{Timeout: 10 * time.Second}.
TOKEN_REQUEST_TIMEOUT = 10.0


def _condition(status, ctype):
    for condition in status.get("conditions") or ():
        if isinstance(condition, dict) and condition.get("type") == ctype:
            return condition
    return None


def _condition_true(status, ctype):
    condition = _condition(status or {}, ctype)
    return condition is not None and condition.get("status") == "True"


def _state(error=None, pending=None):
    """pkg/apis/skupper/v2alpha1/types.go ErrorOrReadyCondition / PendingCondition: (status, reason, message)."""
    if error is not None:
        return ("False", "Error", str(error))
    if pending is not None:
        return ("False", "Pending", pending)
    return ("True", "Ready", "OK")


def _set_condition(status, ctype, state, generation):
    """types.go SetCondition / setStatusCondition: add or update one condition; True when it changed."""
    conditions = status.setdefault("conditions", [])
    value, reason, message = state
    existing = _condition(status, ctype)
    if existing is None:
        conditions.append({"type": ctype, "status": value, "observedGeneration": generation,
                           "lastTransitionTime": _now(), "reason": reason, "message": message})
        return True
    changed = False
    if existing.get("status") != value:
        existing["status"] = value
        existing["lastTransitionTime"] = _now()
        changed = True
    for key, wanted in (("reason", reason), ("message", message), ("observedGeneration", generation)):
        if existing.get(key) != wanted:
            existing[key] = wanted
            changed = True
    return changed


def _set_ready(status, required, generation):
    """types.go Status.setReady: the first required condition missing (Pending "Not <type>") or False
    decides, else Ready; writes ``status``, ``message`` and the Ready condition."""
    state = _state()
    for ctype in required:
        existing = _condition(status, ctype)
        if existing is None:
            state = _state(pending="Not " + ctype)
            break
        if existing.get("status") == "False":
            state = ("False", existing.get("reason", ""), existing.get("message", ""))
            break
    changed = False
    for key, wanted in (("status", state[1]), ("message", state[2])):
        if status.get(key) != wanted:
            status[key] = wanted
            changed = True
    return _set_condition(status, "Ready", state, generation) or changed


# pkg/apis/skupper/v2alpha1/types.go: the JSON field order of the status structs (Status inlined first).
STATUS_ORDER = {
    "AccessGrant": ("conditions", "status", "message", "url", "code", "ca", "redemptions", "expirationTime"),
    "AccessToken": ("conditions", "status", "message", "redeemed"),
    "Link": ("conditions", "status", "message", "remoteSiteId", "remoteSiteName"),
}


def _omitempty(status, kind=None):
    """Go's omitempty on the status structs: no empty strings, zero counts, false flags or empty lists;
    fields in the struct's order when ``kind`` is given."""
    kept = {key: value for key, value in status.items() if value not in ("", 0, False, None, [], {})}
    order = STATUS_ORDER.get(kind, ())
    ordered = {key: kept[key] for key in order if key in kept}
    ordered.update((key, value) for key, value in kept.items() if key not in ordered)
    return ordered


def _go_quote(text):
    return json.dumps(text, ensure_ascii=False)


def _duration_error(text):
    """The error of Go's time.ParseDuration for a text grant_server.parse_go_duration refuses (the two
    common cases; other texts get the generic one)."""
    if re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)", text or ""):
        return "time: missing unit in duration %s" % _go_quote(text)
    unit = re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([^\d.]+)", text or "")
    if unit:
        return "time: unknown unit %s in duration %s" % (_go_quote(unit.group(3)), _go_quote(text))
    return "time: invalid duration %s" % _go_quote(text)


class _Linking:
    """AccessGrants, AccessTokens and Links for KubeApiDouble: a TEST DOUBLE of Skupper's controller.

    Only runs as part of the status controller (``controller_enabled`` or
    ``run_controller()``). Built from github.com/skupperproject/skupper (2.0.0 to
    main 80b1ba6d unless said otherwise), each rule with its source file:

    * One grant server per double, as one Skupper controller serves every
      namespace it watches (``internal/kube/grants/enabled.go``): a
      ``tests/support/grant_server.py`` double started lazily on 127.0.0.1 port 0
      (``grant_server``), stopped by ``stop()``. ``grants_enabled = False`` is a
      controller without ``-enable-grants`` (``disabled.go``): every AccessGrant
      gets only the status message ``AccessGrants are not enabled``.
    * AccessGrant (``internal/kube/grants/grants.go`` ``checkGrant``): no
      ``redemptionsAllowed`` -> the spec is updated to 1 first (a spec write:
      generation + 1); then ``url`` = ``https://<grant server>/<grant uid>``,
      ``ca`` = the grant server's CA, ``code`` = ``spec.code`` or 24 random
      letters and digits, ``expirationTime`` = now + ``expirationWindow`` or 10
      minutes without one (the CRD says 15m: the code wins); an invalid window
      sets no expiration and makes ``Processed`` Error ``Invalid duration "x":
      <Go's error>``; a Ready edge Site in the namespace makes it Error ``Edge
      sites cannot accept incoming links from remote sites``. Conditions
      Processed, Ready, Resolved (types.go ``SetProcessed``/``SetResolved``). The
      grant does NOT depend on the namespace's Site or its ``linkAccess``: those
      matter only when the grant is redeemed (``generateLinkConfig``: 500 ``Site
      not yet defined for <ns>``, ``tokens.go``: 500 ``Edge sites cannot accept
      incoming links from remote sites`` / ``No valid endpoints found for
      site``). Code and expiration are kept once set. Each redemption the grant
      server counts is written to ``status.redemptions`` before the answer is
      sent; a deleted grant is forgotten by the server (``grants.go remove``).
    * The answer's Link endpoints (``tokens.go``): the Site's
      ``status.endpoints`` when a test has set them, else, for a Site whose
      ``linkAccess`` is set and not ``none``, the ``inter-router`` (55671) and
      ``edge`` (45671) endpoints of the group ``skupper-router`` on
      ``link_host(namespace)`` (``skupper-router.<namespace>.<link_domain>``).
    * AccessToken (``internal/kube/controller/controller.go``
      ``checkAccessToken``, ``internal/kube/grants/redeem.go``): nothing while
      the namespace has no Site or once the token is redeemed (its ``Redeemed``
      condition is True: never again). Otherwise a real HTTPS POST to
      ``spec.url`` (TLS 1.3 at least, verified against ``spec.ca`` only, no
      redirects, 10 s), body the code, headers ``name`` (the token's name) and
      ``subject`` (the Site's uid). A 200 answer: the Secret and each Link are
      created in the token's namespace, owned by the Site (ownerReference kind
      Site, name, uid), ``spec.linkCost`` > 0 becomes each Link's
      ``spec.cost``; the token gets ``redeemed: true``, ``Redeemed``
      True/Ready/OK, status Ready, message OK. A failure gets ``Redeemed``
      False/Error and status Error with Skupper's message: ``token does not have
      a CA``, ``token url scheme must be https``, ``Controller got error:
      <transport error>``, ``Controller got failed response: 404 (Not Found) No
      such access granted``, ``Controller could not decode response``,
      ``Controller could not create received secret|link: <API error>``.
      Retries as Skupper's event loop does: the error's own status write is an
      event, so a refused token is tried once more at once (a second POST; the
      same error writes nothing, which ends it); after that only a change of the
      token or an informer resync (every 5 minutes in Skupper,
      ``internal/kube/watchers/watchers.go``; here ``resync_access_tokens()``)
      tries again. A Site deleted after redeeming marks its redeemed tokens
      ``Redeemed`` True/Error ``Already redeemed for a deleted site``
      (``internal/kube/site/site.go`` ``updateAccessTokensForDeletedSite``).
    * Link (``internal/kube/site/site.go`` ``link``, types.go ``SetConfigured``):
      ``Configured`` True once the namespace has a Site, else Error ``No active
      site in namespace``; on main after 2.2.1 also Error ``TLS credentials secret
      "<name>" not found`` (#2449). With no ``Operational`` condition the link
      reads Pending / ``Not Operational``.
    * Link ``Operational`` (``site.go`` ``NetworkStatusUpdated`` ->
      ``updateLinkOperationalCondition``, ``internal/network/network.go``): set
      only from the router's link records, and a record exists only once the
      link has a peer. The double: a Link whose endpoint of its role
      (inter-router; edge from an edge Site, ``internal/site/link.go``) is the
      host and port of a site it knows (a Site of this double: ``link_host(ns)``
      or its ``status.endpoints``; with the registry, any site recorded there;
      loopback hosts never leave the pod) and whose Secret's ``ca.crt``, when
      it has one, is that site's CA, gets Operational True with
      ``remoteSiteId``/``remoteSiteName``. A link to an unknown endpoint is never
      touched: it stays Pending ``Not Operational``, never Error (issue 9 said
      "Error otherwise": Skupper's source has no such rule). A link that was up
      and whose peer is gone gets Operational False, Pending ``Not operational``
      (the double's reading: the router keeps reporting the link, down).
      ``set_link_operational(namespace, name, ...)`` overrides the rule
      (``operational=None`` hands the link back to it).
    * ``grant_server_host`` (constructor argument or attribute, before the
      grant server's first use): the address the grant server binds and names
      in grant urls, e.g. a fleet bridge address other network namespaces reach.

    What it leaves out: there is no router, so no link is ever dialled; the
    rule above stands for it. No SecuredAccess or Certificate for the grant server
    (``autoconfigure.go``): its url and CA exist at once; no ``skupper-site-ca``
    Secret is looked up (the grant server double signs with its own site CA, so
    ``Could not get issuer for requested certificate`` never happens); no
    RouterAccess objects and no Site ``status.endpoints`` are written; no
    redeem-by-key; no rate-limited requeue of failed status writes; transport
    error texts are Python's, not Go's; no garbage collection of what a token
    created (ownerReferences are written but not acted on).
    """

    def _init_linking(self):
        #: False: a controller started without -enable-grants (grants/disabled.go)
        self.grants_enabled = True
        #: the domain of the synthetic link endpoints (see link_host)
        self.link_domain = "cluster-%s.kube-api-double.test" % secrets.token_hex(3)
        #: seconds for one redemption (redeem.go: 10 s)
        self.token_request_timeout = TOKEN_REQUEST_TIMEOUT
        #: how many redemption POSTs the controller made (for tests)
        self.redemption_attempts = 0
        self._grant_server = None
        self._grant_uids = {}          # (namespace, name) -> uid recorded in the grant server
        self._token_attempts = {}      # (namespace, name) -> (uid, resourceVersion) last tried
        self._tokens_in_flight = set()
        self._link_operational = {}    # (namespace, name) -> (operational, remote id, remote name)
        self._namespaces_with_site = set()
        #: the address the grant server binds to and names in grant urls (set before its first use), e.g.
        #: the bridge address of an SSH fleet so that hosts in other network namespaces reach it
        self.grant_server_host = "127.0.0.1"
        #: TEST-ONLY network registry folder shared with the system-site double (None: the environment
        #: variable SKUPPER_DOUBLE_NETWORK_DIR; see the class docstring)
        self.network_dir = None
        self._registry_written = set()  # keys of this double's records in the registry
        self._auto_operational = set()  # (namespace, name) of Links the double saw come up

    # ---- the grant server ----------------------------------------------------

    @property
    def grant_server(self):
        """The grant server double of this "cluster" (started on first use)."""
        with self._lock:
            if self._grant_server is None:
                self._grant_server = _make_grant_server(_grant_module(), self).start()
            return self._grant_server

    def _stop_grant_server(self):
        with self._lock:
            server, self._grant_server = self._grant_server, None
        if server is not None:
            server.stop()

    def link_host(self, namespace):
        """The host of a Site's synthetic inter-router and edge endpoints."""
        return "skupper-router.%s.%s" % (namespace, self.link_domain)

    def _active_site(self, namespace):
        """The Site Skupper's controller works with in a namespace: the oldest one (the caller holds the lock)."""
        sites = [obj for (plural, ns, _n), obj in self._store.items() if plural == "sites" and ns == namespace]
        if not sites:
            return None
        return sorted(sites, key=skupper_status.creation_order)[0]

    def _site_endpoints(self, site):
        """tokens.go setValidHostsFromSite reads the Site's status.endpoints (see the class docstring)."""
        endpoints = list((site.get("status") or {}).get("endpoints") or ())
        if endpoints:
            return endpoints
        access = (site.get("spec") or {}).get("linkAccess")
        if not access or access == "none":
            return []
        host = self.link_host(site["metadata"]["namespace"])
        return [{"name": role, "host": host, "port": port, "group": "skupper-router"}
                for role, port in ROUTER_ACCESS_ROLES]

    def _generator_check(self, namespace):
        """controller.go generateLinkConfig and tokens.go NewTokenGenerator: (error text, endpoints)."""
        with self._lock:
            site = self._active_site(namespace)
            if site is None:
                return "Site not yet defined for %s" % namespace, None
            if (site.get("spec") or {}).get("edge"):
                return "Edge sites cannot accept incoming links from remote sites", None
            endpoints = self._site_endpoints(site)
        if not endpoints:
            return "No valid endpoints found for site", None
        return None, endpoints

    def _grant_redeemed(self, namespace, name, uid, redemptions):
        """grants.go checkAndUpdateAccessToken: the counted redemption goes to the grant's status."""
        with self._lock:
            obj = self._store.get(self._key("accessgrants", namespace, name))
            if obj is None or obj["metadata"].get("uid") != uid:
                return
            status = copy.deepcopy(obj.get("status") or {})
            if status.get("redemptions") == redemptions:
                return
            status["redemptions"] = redemptions
            self.set_status("accessgrants", namespace, name, _omitempty(status, "AccessGrant"), notify=False)
            self.controller_writes += 1

    # ---- AccessGrant (grants.go checkGrant) -----------------------------------

    def _check_grants(self):
        """The caller holds the lock. Returns how many objects were written."""
        written = 0
        grants = [obj for (plural, _ns, _n), obj in sorted(self._store.items()) if plural == "accessgrants"]
        present = {(g["metadata"]["namespace"], g["metadata"]["name"]) for g in grants}
        for key in [key for key in self._grant_uids if key not in present]:  # grants.go remove
            self._forget_grant(key)
        for grant in grants:
            written += self._check_grant(grant)
        return written

    def _forget_grant(self, key):
        uid = self._grant_uids.pop(key, None)
        server = self._grant_server
        if server is not None and uid is not None:
            with server.lock:
                if server.grant_index.get("%s/%s" % key) == uid:
                    server.grant_index.pop("%s/%s" % key, None)
                server.grants.pop(uid, None)

    def _check_grant(self, grant):
        meta = grant["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        if not self.grants_enabled:
            # grants/disabled.go markGrantNotEnabled: SetStatusMessage only.
            status = copy.deepcopy(grant.get("status") or {})
            if status.get("message") == "AccessGrants are not enabled":
                return 0
            status["message"] = "AccessGrants are not enabled"
            self.set_status("accessgrants", namespace, name, status, notify=False)
            return 1
        written = 0
        spec = grant.get("spec") or {}
        if not spec.get("redemptionsAllowed"):
            # grants.go checkGrant: "default to 1 so that grant is usable", a spec Update (generation + 1).
            grant = copy.deepcopy(grant)
            grant.setdefault("spec", {})["redemptionsAllowed"] = 1
            grant["metadata"]["generation"] = grant["metadata"].get("generation", 1) + 1
            grant = self.put_object("accessgrants", namespace, grant, notify=False)
            written += 1
            spec = grant["spec"]
        generation = grant["metadata"].get("generation", 1)
        status = copy.deepcopy(grant.get("status") or {})
        before = copy.deepcopy(status)
        problems = []
        for site in self._store.values():
            if (site.get("kind") == "Site" and site["metadata"].get("namespace") == namespace
                    and _condition_true(site.get("status"), "Ready") and (site.get("spec") or {}).get("edge")):
                problems.append("Edge sites cannot accept incoming links from remote sites")
                break
        server = self.grant_server
        status["url"] = "https://%s/%s" % (server.address, meta["uid"])  # grants.go claimUrl
        status["ca"] = server.ca.pem  # enabled.go tlsCredentialsUpdated: the grant server's ca.crt
        if not status.get("code"):
            status["code"] = spec.get("code") or _random_code(24)
        if not status.get("expirationTime"):
            window = spec.get("expirationWindow")
            if window:
                from_window = _parse_duration(window)
                if from_window is None:
                    problems.append("Invalid duration %s: %s" % (_go_quote(window), _duration_error(window)))
                else:
                    status["expirationTime"] = _rfc3339(datetime.datetime.now(datetime.timezone.utc)
                                                        + from_window)
            else:
                status["expirationTime"] = _rfc3339(datetime.datetime.now(datetime.timezone.utc)
                                                    + datetime.timedelta(minutes=10))
        error = ", ".join(problems) if problems else None
        # types.go SetProcessed then SetResolved, each followed by setReady(Processed, Resolved).
        if _set_condition(status, "Processed", _state(error), generation):
            _set_ready(status, ("Processed", "Resolved"), generation)
        resolved = _state() if status.get("url") and status.get("ca") else _state(pending="Pending")
        if _set_condition(status, "Resolved", resolved, generation):
            _set_ready(status, ("Processed", "Resolved"), generation)
        self._record_grant(grant, status)
        status = _omitempty(status, "AccessGrant")
        if status != _omitempty(before, "AccessGrant"):
            self.set_status("accessgrants", namespace, name, status, notify=False)
            written += 1
        return written

    def _record_grant(self, grant, status):
        """grants.go record: the grant server checks redemptions against the newest grant."""
        meta = grant["metadata"]
        key = (meta["namespace"], meta["name"])
        server = self.grant_server
        module = _grant_module()
        old_uid = self._grant_uids.get(key)
        with server.lock:
            existing = server.grants.get(meta["uid"])
            counted = max(existing.redemptions if existing is not None else 0, status.get("redemptions") or 0)
            record = _grant_record(module, namespace=meta["namespace"], name=meta["name"], uid=meta["uid"],
                                   code=status.get("code", ""),
                                   redemptions_allowed=(grant.get("spec") or {}).get("redemptionsAllowed") or 1,
                                   expiration_time=status.get("expirationTime", ""), url=status.get("url", ""),
                                   ca=status.get("ca", ""), redemptions=counted)
            if old_uid is not None and old_uid != meta["uid"]:
                server.grants.pop(old_uid, None)
            server.grant_index["%s/%s" % key] = meta["uid"]
            server.grants[meta["uid"]] = record
        self._grant_uids[key] = meta["uid"]
        if counted and counted != (status.get("redemptions") or 0):
            status["redemptions"] = counted

    # ---- Link (site.go link, types.go SetConfigured/SetOperational) -----------

    def _check_links(self):
        """The caller holds the lock. Returns how many Link statuses were written."""
        written = 0
        links = [obj for (plural, _ns, _n), obj in sorted(self._store.items()) if plural == "links"]
        present = {(obj["metadata"]["namespace"], obj["metadata"]["name"]) for obj in links}
        for key in [key for key in self._link_operational if key not in present]:
            del self._link_operational[key]
        secrets_by_ns = {}
        for (plural, ns, secret_name) in self._store:
            if plural == "secrets":
                secrets_by_ns.setdefault(ns, set()).add(secret_name)
        records = self._network_records()
        for link in links:
            meta = link["metadata"]
            namespace, name = meta["namespace"], meta["name"]
            generation = meta.get("generation", 1)
            status = copy.deepcopy(link.get("status") or {})
            before = copy.deepcopy(status)
            error = None
            if self._active_site(namespace) is None:
                error = "No active site in namespace"
            elif self._version > (2, 2, 1):
                credentials = (link.get("spec") or {}).get("tlsCredentials")
                if credentials and credentials not in secrets_by_ns.get(namespace, set()):
                    error = 'TLS credentials secret "%s" not found' % credentials  # site.go (#2449)
            required = ("Configured", "Operational")
            if _set_condition(status, "Configured", _state(error), generation):
                _set_ready(status, required, generation)
            switch = self._link_operational.get((namespace, name))
            if switch is None and error is None:
                switch = self._link_reaches(namespace, link, records)
            if switch is not None:
                operational, remote_id, remote_name = switch
                changed = False
                for field_name, value in (("remoteSiteId", remote_id), ("remoteSiteName", remote_name)):
                    if status.get(field_name, "") != value:
                        status[field_name] = value
                        changed = True
                state = _state() if operational else _state(pending="Not operational")
                if _set_condition(status, "Operational", state, generation) or changed:
                    _set_ready(status, required, generation)
            status = _omitempty(status, "Link")
            if status != _omitempty(before, "Link"):
                self.set_status("links", namespace, name, status, notify=False)
                written += 1
        return written

    # ---- the network: which link endpoints belong to a site the double knows -----

    def _registry(self):
        return _system_module().network_dir(self.network_dir)

    def _record_key(self, namespace):
        return "kubernetes_%s_%s" % (self.link_domain, namespace)

    def _link_entry(self, namespace, link):
        """A Link as the registry describes it: endpoints and the fingerprint of its Secret's ca.crt."""
        spec = link.get("spec") or {}
        secret = self._store.get(self._key("secrets", namespace, spec.get("tlsCredentials") or ""))
        data = (secret or {}).get("data") or {}
        try:
            ca_text = base64.b64decode(data.get("ca.crt") or "").decode("ascii", "replace")
        except (ValueError, TypeError):
            ca_text = ""
        return {"name": link["metadata"]["name"], "ca": _system_module().pem_fingerprint(ca_text),
                "endpoints": [{"name": (e or {}).get("name"), "host": (e or {}).get("host"),
                               "port": str((e or {}).get("port") or "")} for e in spec.get("endpoints") or []]}

    def _own_records(self):
        """One record per namespace with an active Site (the caller holds the lock), shaped as the
        system-site double's registry records."""
        records = []
        server = self._grant_server
        cas = [_system_module().pem_fingerprint(server.site_ca.pem)] if server is not None else []
        namespaces = sorted({ns for (plural, ns, _n) in self._store if plural == "sites"})
        for namespace in namespaces:
            site = self._active_site(namespace)
            by_plural = {}
            for (plural, ns, _n), obj in sorted(self._store.items()):
                if ns == namespace:
                    by_plural.setdefault(plural, []).append(obj)
            endpoints = []
            for endpoint in self._site_endpoints(site):
                role = "edge" if str(endpoint.get("name", "")).endswith("edge") else "inter-router"
                endpoints.append({"role": role, "host": endpoint.get("host"), "port": str(endpoint.get("port"))})
            records.append({
                "key": self._record_key(namespace), "double": "kubernetes", "site_name": site["metadata"]["name"],
                "site_id": site["metadata"].get("uid", ""), "namespace": namespace,
                "hostname": "kubernetes:%s" % self.link_domain, "edge": bool((site.get("spec") or {}).get("edge")),
                "cas": cas, "endpoints": endpoints,
                "connector_keys": sorted(skupper_status.connector_keys(by_plural.get("connectors"))),
                "listener_keys": sorted(skupper_status.listener_keys(by_plural.get("listeners"),
                                                                     by_plural.get("multikeylisteners"))),
                "links": [self._link_entry(namespace, link) for link in by_plural.get("links", ())]})
        return records

    def _network_records(self):
        """This double's sites and, with a registry, every other site recorded there (the caller holds the
        lock). With a registry the double's own records are written to it."""
        own = self._own_records()
        directory = self._registry()
        if not directory:
            return own
        module = _system_module()
        keys = {record["key"] for record in own}
        for record in own:
            module.write_record(directory, record)
        for key in self._registry_written - keys:
            module.remove_record(directory, key)
        self._registry_written = keys
        prefix = "kubernetes_%s_" % self.link_domain
        return own + [r for r in module.read_network(directory) if not r["key"].startswith(prefix)]

    def _forget_registry(self):
        directory = self._registry()
        if directory:
            for key in self._registry_written:
                _system_module().remove_record(directory, key)
        self._registry_written = set()

    def _link_reaches(self, namespace, link, records):
        """(operational, remote id, remote name) for a Link from the endpoints the double knows, or None
        to leave the Operational condition as it is (see the class docstring)."""
        own = next((r for r in records if r["key"] == self._record_key(namespace)), None)
        key = (namespace, link["metadata"]["name"])
        peer = None
        if own is not None:
            peer = _system_module().link_peer(own, self._link_entry(namespace, link), records)
        if peer is not None:
            self._auto_operational.add(key)
            return True, peer.get("site_id") or "", peer.get("site_name") or ""
        if key in self._auto_operational:
            status = link.get("status") or {}
            return False, status.get("remoteSiteId", ""), status.get("remoteSiteName", "")
        return None

    def _network_keys(self, records):
        """Routing keys (connectors, listeners) of the registry sites linked to any site of this double."""
        module = _system_module()
        reached = set()
        for record in records:
            if record.get("double") == "kubernetes" and record["key"].startswith(
                    "kubernetes_%s_" % self.link_domain):
                reached |= module.connected_keys(records, record["key"])
        return module.network_routing_keys(records, reached)

    def set_link_operational(self, namespace, name, operational=True, remote_site_name=None,
                             remote_site_id=None):
        """Test switch, in place of the router: the Link's ``Operational`` condition (site.go
        ``updateLinkOperationalCondition``). ``remote_site_id`` defaults to the uid of a Site named
        ``remote_site_name`` in this double, if any. ``operational=None`` removes the switch (the
        condition stays as last written). Runs the controller."""
        with self._lock:
            if operational is None:
                self._link_operational.pop((namespace, name), None)
            else:
                if remote_site_id is None and remote_site_name:
                    remote_site_id = next((obj["metadata"]["uid"] for (plural, _ns, site_name), obj
                                           in sorted(self._store.items())
                                           if plural == "sites" and site_name == remote_site_name), "")
                self._link_operational[(namespace, name)] = (bool(operational), remote_site_id or "",
                                                             remote_site_name or "")
        self._run_controller_tracked()

    # ---- AccessToken (controller.go checkAccessToken, redeem.go) --------------

    def resync_access_tokens(self):
        """Skupper's informer resync (every 5 minutes): every token not yet redeemed is tried again."""
        with self._lock:
            self._token_attempts.clear()
        self._run_controller_tracked()

    def _deleted_sites(self):
        """site.go Deleted -> updateAccessTokensForDeletedSite. The caller holds the lock."""
        written = 0
        with_site = {ns for (plural, ns, _n) in self._store if plural == "sites"}
        for namespace in sorted(self._namespaces_with_site - with_site):
            for (plural, ns, name), token in sorted(self._store.items()):
                if plural != "accesstokens" or ns != namespace:
                    continue
                status = copy.deepcopy(token.get("status") or {})
                if not _condition_true(status, "Redeemed"):
                    continue
                generation = token["metadata"].get("generation", 1)
                if _set_condition(status, "Redeemed", ("True", "Error", "Already redeemed for a deleted site"),
                                  generation):
                    status.update(redeemed=True, status="Error", message="Already redeemed for a deleted site")
                    self.set_status("accesstokens", namespace, name, _omitempty(status, "AccessToken"),
                                    notify=False)
                    written += 1
        self._namespaces_with_site = with_site
        return written

    def _pending_tokens(self):
        """Tokens to try now (the caller holds the lock): [(token copy, site copy)]."""
        pending = []
        for (plural, namespace, name), token in sorted(self._store.items()):
            if plural != "accesstokens":
                continue
            if _condition_true(token.get("status"), "Redeemed"):  # controller.go: IsRedeemed -> nothing
                continue
            site = self._active_site(namespace)
            if site is None:  # controller.go: no Site -> nothing (tried again at the next run)
                continue
            key = (namespace, name)
            seen = (token["metadata"].get("uid"), token["metadata"].get("resourceVersion"))
            if key in self._tokens_in_flight or self._token_attempts.get(key) == seen:
                continue
            self._tokens_in_flight.add(key)
            pending.append((copy.deepcopy(token), copy.deepcopy(site)))
        return pending

    def _redeem_access_tokens(self):
        """Outside the store lock (the POST may go to this double's own grant server)."""
        written = 0
        with self._lock:
            pending = self._pending_tokens()
        for token, site in pending:
            key = (token["metadata"]["namespace"], token["metadata"]["name"])
            try:
                for _attempt in range(3):  # the error's own status write is an event: one more try
                    error, body = self._post_token(token, site)
                    with self._lock:
                        changed, token = self._apply_redemption(token, site, error, body)
                        written += changed
                    if token is None or not changed or _condition_true(token.get("status"), "Redeemed"):
                        break
            finally:
                with self._lock:
                    self._tokens_in_flight.discard(key)
        return written

    def _post_token(self, token, site):
        """redeem.go RedeemAccessToken/postTokenRequest: (error text or None, answer bytes)."""
        spec = token.get("spec") or {}
        url, ca = spec.get("url") or "", spec.get("ca") or ""
        if not ca:
            return "token does not have a CA", None
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https":
            return "token url scheme must be https", None
        with self._lock:
            self.redemption_attempts += 1
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_3  # redeem.go tlsConfig: MinVersion TLS 1.3
        try:
            context.load_verify_locations(cadata=ca)  # RootCAs: the token's CA only
        except (ssl.SSLError, ValueError):
            pass  # Go's AppendCertsFromPEM ignores what it cannot read: verification then fails
        body = (spec.get("code") or "").encode("utf-8")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, context=context,
                                                 timeout=self.token_request_timeout)
        try:
            connection.request("POST", path, body=body, headers={
                "User-Agent": "Go-http-client/1.1", "name": token["metadata"]["name"],
                "subject": site["metadata"].get("uid", ""), "Accept-Encoding": "gzip"})
            response = connection.getresponse()  # never follows redirects: a 3xx is a failure below
            answer = response.read()
        except Exception as error:  # noqa: BLE001 - any transport failure is one message, as in Go
            return "Controller got error: Post %s: %s" % (_go_quote(url), error), None
        finally:
            connection.close()
        if response.status != 200:
            try:
                text = http.HTTPStatus(response.status).phrase
            except ValueError:
                text = ""
            return "Controller got failed response: %d (%s) %s" % (
                response.status, text, answer.decode("utf-8", "replace").strip()), None
        return None, answer

    def _apply_redemption(self, token, site, error, body):
        """redeem.go handleTokenResponse + updateAccessTokenStatus (the caller holds the lock).

        Returns (objects written, the stored token after the attempt, or None if it went away)."""
        meta = token["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        stored = self._store.get(self._key("accesstokens", namespace, name))
        if stored is None or stored["metadata"].get("uid") != meta.get("uid"):
            return 0, None
        if _condition_true(stored.get("status"), "Redeemed"):
            return 0, copy.deepcopy(stored)
        written = 0
        if error is None:
            error, written = self._create_from_answer(stored, site, body)
        status = copy.deepcopy(stored.get("status") or {})
        generation = stored["metadata"].get("generation", 1)
        result = copy.deepcopy(stored)
        if _set_condition(status, "Redeemed", _state(error), generation):  # types.go SetRedeemed
            status["redeemed"] = _condition_true(status, "Redeemed")
            state = _state(error)
            status["status"], status["message"] = state[1], state[2]
            result = self.set_status("accesstokens", namespace, name, _omitempty(status, "AccessToken"),
                                     notify=False)
            written += 1
        self._token_attempts[(namespace, name)] = (result["metadata"].get("uid"),
                                                   result["metadata"].get("resourceVersion"))
        self.controller_writes += written
        return written, result

    def _create_from_answer(self, token, site, body):
        """redeem.go handleTokenResponse: (error text or None, objects written)."""
        namespace = token["metadata"]["namespace"]
        try:
            if yaml is None:
                raise ValueError("PyYAML is needed to read the grant server's answer")
            documents = [doc for doc in yaml.safe_load_all(body.decode("utf-8")) if doc is not None]
            if not documents or not all(isinstance(doc, dict) for doc in documents):
                raise ValueError("not a YAML stream of objects")
        except Exception:  # noqa: BLE001 - redeem.go: any decode failure is this one message
            return "Controller could not decode response", 0
        refs = [{"kind": "Site", "apiVersion": SKUPPER_API_VERSION, "name": site["metadata"]["name"],
                 "uid": site["metadata"].get("uid", "")}]
        secret, links = documents[0], documents[1:]
        written = 0
        secret = _received(secret, refs)
        secret["apiVersion"], secret["kind"] = "v1", "Secret"
        secret_name = secret["metadata"].get("name") or ""
        if self._key("secrets", namespace, secret_name) in self._store:
            return ('Controller could not create received secret: secrets "%s" already exists' % secret_name,
                    written)
        self.put_object("secrets", namespace, secret, notify=False)
        written += 1
        cost = (token.get("spec") or {}).get("linkCost") or 0
        for link in links:
            link = _received(link, refs)
            link.pop("status", None)
            if cost > 0:
                link.setdefault("spec", {})["cost"] = cost
            link_name = link["metadata"].get("name") or ""
            if self._key("links", namespace, link_name) in self._store:
                return ('Controller could not create received link: links.skupper.io "%s" already exists'
                        % link_name, written)
            self.put_object("links", namespace, link, notify=False)
            written += 1
        return None, written


def _received(obj, refs):
    """An object of the grant server's answer as the controller creates it: its name, the Site as owner."""
    obj = copy.deepcopy(obj)
    meta = {key: value for key, value in (obj.get("metadata") or {}).items()
            if value is not None and key not in _SERVER_OWNED and key != "namespace"}
    meta["ownerReferences"] = copy.deepcopy(refs)
    obj["metadata"] = meta
    return obj


def _random_code(length):
    """internal/utils/utils.go RandomId (grants.go: 24 for a grant's code)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _unused in range(length))


def _system_module():
    """tests/support/system_controller.py (its network registry and link matching), imported on first use."""
    try:
        from . import system_controller as module
    except ImportError:  # run as a script: this folder is on sys.path
        import system_controller as module
    return module


def _grant_module():
    """tests/support/grant_server.py, imported on first use (it needs ``cryptography``)."""
    try:
        from . import grant_server as module
    except ImportError:  # run as a script: this folder is on sys.path
        import grant_server as module
    return module


def _parse_duration(text):
    """time.ParseDuration (grants.go, expirationWindow); None when Go would refuse the text."""
    return _grant_module().parse_go_duration(text)


def _rfc3339(moment):
    """time.Format(time.RFC3339) in UTC, whole seconds."""
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _grant_record(module, **fields):
    return module.Grant(**fields)


def _make_grant_server(module, double):
    """The grant server double, answering from this double's Sites and counting into its AccessGrants."""

    class _KubeGrantServer(module.GrantServer):
        def __init__(self):
            super().__init__(host=double.grant_server_host, port=0)
            self._local = threading.local()

        def _check_and_update(self, key, body):
            grant, error = super()._check_and_update(key, body)
            if grant is not None:
                self._local.counted = (grant.namespace, grant.name, grant.uid, grant.redemptions)
            return grant, error

        def site_endpoints(self):
            return list(getattr(self._local, "endpoints", None) or ())

        def generate(self, namespace, name, subject):
            problem, endpoints = double._generator_check(namespace)
            if problem is not None:
                raise module._GeneratorError(problem)
            self._local.endpoints = endpoints
            try:
                return super().generate(namespace, name, subject)
            finally:
                self._local.endpoints = None

        def answer(self, method, raw_path, headers, body):
            self._local.counted = None
            try:
                return super().answer(method, raw_path, headers, body)
            finally:
                counted, self._local.counted = self._local.counted, None
                if counted is not None:
                    double._grant_redeemed(*counted)

    return _KubeGrantServer()


# --------------------------------------------------------------------------
# The double
# --------------------------------------------------------------------------

class KubeApiDouble(_Linking):
    """A TEST DOUBLE of the Kubernetes API server (see the module docstring).

    Use as ``with KubeApiDouble() as api: api.write_kubeconfig(path)``, or call
    :meth:`start` and :meth:`stop`. Every public method is thread safe.
    """

    def __init__(self, crds_installed=True, token=None, user=DEFAULT_USER, controller=False,
                 skupper_version=DEFAULT_SKUPPER_VERSION, grant_server_host=None, network_dir=None):
        self._lock = threading.RLock()
        #: the Skupper version whose CRDs and controller rules the double serves (see SKUPPER_RELEASES)
        self.skupper_version = str(skupper_version)
        self._version = skupper_version_key(skupper_version)
        self._all_types = CORE_TYPES + skupper_types(skupper_version)
        self._types = {rtype.plural: rtype for rtype in self._all_types}
        # the Kubernetes controller's own memory (internal/kube/site/site.go): lead listeners per
        # namespace ({name: "host/port"}) and, per connector with a selector, whether its pod
        # watcher has had an event (see _kube_binding_errors)
        self._lead_listeners = {}
        self._selections = {}
        self._store = {}  # (plural, namespace or "", name) -> object
        self._rv = 100
        self._faults = []
        self._ip_counter = 10
        self._server = None
        self._thread = None
        #: every request received, oldest first (RequestRecord); see calls()
        self.requests = []
        #: seconds added before every response
        self.latency = 0.0
        #: None, 401 (every request is Unauthorized) or 403 (every resource request is Forbidden)
        self.auth_mode = None
        #: False makes skupper.io unknown to the server (discovery and every path)
        self.crds_installed = crds_installed
        #: the user named in 403 messages
        self.forbidden_user = user
        #: the bearer token written into kubeconfigs (never checked)
        self.token = token or "kube-api-double-" + secrets.token_hex(8)
        #: tracebacks of exceptions raised by _on_change or by a bug in the double (answered 500)
        self.errors = []
        self.version_info = {
            "major": "1", "minor": "31", "gitVersion": "v1.31.0",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2024-08-13T07:28:49Z", "goVersion": "go1.22.5", "compiler": "gc",
            "platform": "linux/amd64",
        }
        #: the status controller runs after changes (see run_controller)
        self.controller_enabled = controller
        #: seconds between a change and the controller run (0: at once, in the writing thread)
        self.controller_delay = 0.0
        #: bindings of a namespace without a Site are in error, as in Skupper
        self.controller_require_site = True
        #: how many times the controller ran, and how many statuses it wrote
        self.controller_runs = 0
        self.controller_writes = 0
        self._controller_errors = {}  # (plural, namespace, name) -> message
        self._controller_timer = None
        self._controller_busy = 0
        self._controller_state = threading.Condition(threading.Lock())
        self._init_linking()  # AccessGrants, AccessTokens, Links: see _Linking
        if grant_server_host:
            self.grant_server_host = grant_server_host
        if network_dir:
            self.network_dir = network_dir
        for namespace in INITIAL_NAMESPACES:
            self.create_namespace(namespace, notify=False)

    # ---- life cycle ------------------------------------------------------

    def start(self):
        """Serve on 127.0.0.1 on a free port, in a daemon thread. Returns self."""
        with self._lock:
            if self._server is not None:
                return self
            server = _Server(("127.0.0.1", 0), _Handler, self)
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                            name="kube-api-double-%d" % server.server_address[1], daemon=True)
            self._thread.start()
        return self

    def stop(self):
        """Stop serving, cancel a pending controller run and close every open connection."""
        self._cancel_controller_timer()
        self._stop_grant_server()
        with self._lock:
            self._forget_registry()
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.close_all_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self):
        if self._server is None:
            raise RuntimeError("the KubeApiDouble is not started")
        return self._server.server_address[1]

    @property
    def url(self):
        """The server URL, http://127.0.0.1:PORT (the double must be started)."""
        return "http://127.0.0.1:%d" % self.port

    def write_kubeconfig(self, path, namespace=None, context="double", token=None):
        """Write a kubeconfig for this server (bearer token, current context set); return the path."""
        context_body = {"cluster": context, "user": context}
        if namespace:
            context_body["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": context_body}],
            "current-context": context,
            "preferences": {},
        }
        path = os.fspath(path)
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            if yaml is not None:
                yaml.safe_dump(config, handle, default_flow_style=False, sort_keys=False)
            else:
                json.dump(config, handle, indent=2)
        os.chmod(path, 0o600)
        return path

    # ---- request log -----------------------------------------------------

    def calls(self, method=None, plural=None, name=None, exclude_discovery=True, namespace=None):
        """The logged requests (RequestRecord) that match every filter given, oldest first.

        ``plural``, ``name`` and ``namespace`` are read from the path as the API
        server does (for /api/v1/namespaces/x both name and namespace are "x").
        """
        wanted_method = method.upper() if method else None
        with self._lock:
            records = list(self.requests)
        return [
            record for record in records
            if (wanted_method is None or record.method == wanted_method)
            and (plural is None or record.plural == plural)
            and (name is None or record.name == name)
            and (namespace is None or record.namespace == namespace)
            and not (exclude_discovery and record.discovery)
        ]

    def writes(self):
        """POST, PUT, PATCH and DELETE requests that were not dry runs (whatever their answer)."""
        return [record for record in self.calls() if record.is_write and not record.dry_run]

    def reset_calls(self):
        with self._lock:
            self.requests.clear()

    # ---- fault switches --------------------------------------------------

    def fail_next(self, n=1, status=500, path_contains=None, methods=None):
        """Answer the next ``n`` matching requests with ``status`` (500, 503, 429, 502, 504).

        Any request matches, discovery included, unless ``path_contains`` (a
        substring of the path) or ``methods`` narrow it. Nothing is processed.
        """
        if status not in _FAIL_BODIES:
            raise ValueError("fail_next supports the statuses %s" % sorted(_FAIL_BODIES))
        self._add_fault(_Fault("fail", n, status=status, path_contains=path_contains,
                               methods=self._methods(methods)))

    def drop_next(self, n=1, path_contains=None, methods=None, after_processing=False):
        """Close the connection of the next ``n`` matching requests without answering.

        With ``after_processing=True`` the request is carried out (a write is stored)
        and only the answer is lost.
        """
        self._add_fault(_Fault("drop", n, path_contains=path_contains, methods=self._methods(methods),
                               after_processing=after_processing))

    def conflict_next(self, n=1, methods=("PUT", "PATCH", "POST"), path_contains=None):
        """Answer the next ``n`` matching resource writes with 409 Conflict, storing nothing."""
        self._add_fault(_Fault("conflict", n, path_contains=path_contains, methods=self._methods(methods)))

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    @staticmethod
    def _methods(methods):
        if methods is None:
            return None
        if isinstance(methods, str):
            methods = (methods,)
        return tuple(method.upper() for method in methods)

    def _add_fault(self, fault):
        if fault.remaining < 0:
            raise ValueError("n must not be negative")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, record, actions):
        with self._lock:
            for fault in self._faults:
                if fault.action in actions and fault.matches(record):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    # ---- direct store access (no HTTP, no validation) ---------------------

    def get_object(self, plural, namespace, name):
        """A deep copy of a stored object, or None."""
        with self._lock:
            obj = self._store.get(self._key(plural, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list_objects(self, plural, namespace=None):
        """Deep copies of the stored objects of a type (in one namespace if given)."""
        with self._lock:
            return [copy.deepcopy(obj) for (kind, ns, _name), obj in sorted(self._store.items())
                    if kind == plural and (namespace is None or ns == namespace)]

    def put_object(self, plural, namespace, obj, notify=True):
        """Store an object as given (status included), filling server-owned metadata.

        No validation. A missing namespace is created. Bumps resourceVersion and
        returns a copy of what is stored.
        """
        rtype = self._type(plural)
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta = obj.setdefault("metadata", {})
        name = meta["name"]
        with self._lock:
            created_namespace = False
            if rtype.namespaced:
                meta["namespace"] = namespace
                if self._key("namespaces", None, namespace) not in self._store:
                    self.create_namespace(namespace, notify=False)
                    created_namespace = True
            key = self._key(plural, namespace if rtype.namespaced else None, name)
            old = self._store.get(key)
            meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", old["metadata"]["creationTimestamp"] if old else _now())
            if rtype.is_custom:
                meta.setdefault("generation", old["metadata"].get("generation", 1) if old else 1)
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            self._store[key] = _ordered(obj)
            stored = copy.deepcopy(self._store[key])
        if notify:
            if created_namespace:
                self._on_change("namespaces", None, namespace)
            self._on_change(plural, namespace if rtype.namespaced else None, name)
        return stored

    def delete_object(self, plural, namespace, name, notify=True):
        """Remove a stored object; returns True when there was one."""
        with self._lock:
            removed = self._store.pop(self._key(plural, namespace, name), None)
            if removed is not None:
                self._rv += 1
        if removed is not None and notify:
            self._on_change(plural, namespace, name)
        return removed is not None

    def set_status(self, plural, namespace, name, status, notify=True):
        """Replace the status of a stored object (bumps resourceVersion); KeyError if absent."""
        with self._lock:
            key = self._key(plural, namespace, name)
            if key not in self._store:
                raise KeyError("%s %s/%s does not exist" % (plural, namespace, name))
            obj = self._store[key]
            if status is None:
                obj.pop("status", None)
            else:
                obj["status"] = copy.deepcopy(status)
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            stored = copy.deepcopy(obj)
        if notify:
            self._on_change(plural, namespace, name)
        return stored

    def add_pod(self, namespace, name, labels=None, ready=True, phase="Running", ip=None, notify=True):
        """Store a Pod with ``labels`` whose status is ``phase`` and the Ready condition ``ready``.

        No kubelet runs here: a pod is whatever its stored status says (change it
        with set_status or the pods/status subresource). Returns a copy of it.
        """
        with self._lock:
            self._ip_counter += 1
            counter = self._ip_counter
        status = {"phase": phase, "podIP": ip or "10.244.%d.%d" % (counter // 250, counter % 250 + 1),
                  "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
        pod = {"metadata": {"name": name, "labels": dict(labels or {})},
               "spec": {"containers": [{"name": "main", "image": "example/app"}]}, "status": status}
        return self.put_object("pods", namespace, pod, notify=notify)

    def create_namespace(self, name, labels=None, notify=True):
        """Create a namespace directly (no-op if it exists); returns a copy of it."""
        with self._lock:
            key = self._key("namespaces", None, name)
            if key in self._store:
                return copy.deepcopy(self._store[key])
            meta = {"name": name, "labels": dict(labels or {})}
            obj = self._normalize_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": meta}, None)
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now())
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            self._store[key] = obj
            stored = copy.deepcopy(obj)
        if notify:
            self._on_change("namespaces", None, name)
        return stored

    @property
    def resource_version(self):
        """The current value of the global resourceVersion counter (a string)."""
        with self._lock:
            return str(self._rv)

    def _on_change(self, plural, namespace, name):
        """Hook called after every stored write (create, update, patch, delete, status).

        ``plural`` is the resource ("listeners", "secrets", "namespaces", ...),
        ``namespace`` is None for cluster-scoped objects. It runs in the thread that
        made the write, after the store lock is released and before the HTTP answer
        is sent; writes done by a dry run or by a no-op update do not call it. A
        status controller (a subclass, or an instance attribute) can read the store
        with get_object/list_objects and write status with
        ``set_status(..., notify=False)`` to avoid calling itself again.
        This base implementation runs the built-in status controller when
        ``controller_enabled`` is set and the change can affect a status.
        """
        if self.controller_enabled and plural in CONTROLLER_TRIGGERS:
            self._controller_changed()

    @staticmethod
    def _key(plural, namespace, name):
        return (plural, namespace or "", name)

    def _type(self, plural):
        """The ResourceType this double serves under a plural (KeyError when it serves none)."""
        try:
            return self._types[plural]
        except KeyError:
            raise KeyError("the double (Skupper %s CRDs) serves no resource %r" % (self.skupper_version, plural))

    def served(self, plural):
        """True when the double serves that resource (the CRD exists in its Skupper version)."""
        return plural in self._types

    # ---- status controller (a TEST DOUBLE of Skupper's, see skupper_status.py) ----

    def run_controller(self):
        """Recompute every Skupper status now and write those that changed; returns how many were written.

        Works whether or not ``controller_enabled`` is set. The whole run holds
        the store lock, so it sees and writes one consistent state; then
        AccessTokens are redeemed without the lock (HTTPS requests, see
        ``_Linking``) and the Links they created get their status.
        """
        with self._lock:
            now = _now()
            by_namespace = {}
            for (plural, namespace, _name), obj in sorted(self._store.items()):
                if plural in CONTROLLED_PLURALS or plural in ("services", "pods", "secrets"):
                    by_namespace.setdefault(namespace, {}).setdefault(plural, []).append(obj)
            active = {namespace for namespace, objs in by_namespace.items()
                      if objs.get("sites") or not self.controller_require_site}
            network_connectors, network_listeners = set(), set()
            for namespace in active:
                objs = by_namespace[namespace]
                network_connectors |= skupper_status.connector_keys(objs.get("connectors"))
                network_listeners |= skupper_status.listener_keys(objs.get("listeners"),
                                                                  objs.get("multikeylisteners"))
            sites_in_network = len([ns for ns in active if by_namespace[ns].get("sites")])
            if self._registry():
                # TEST-ONLY registry: sites of other doubles linked to a site of this one
                extra_connectors, extra_listeners = self._network_keys(self._network_records())
                network_connectors |= extra_connectors
                network_listeners |= extra_listeners
            written = 0
            for namespace in list(self._lead_listeners):
                if namespace not in active:  # no Site: Skupper forgets the site and its leads
                    del self._lead_listeners[namespace]
            for namespace, objs in sorted(by_namespace.items()):
                if not any(objs.get(plural) for plural in CONTROLLED_PLURALS):
                    continue
                kube_errors, held = ({}, set())
                if namespace in active:
                    kube_errors, held = self._kube_errors(namespace, objs)
                forced = {(plural, name): message
                          for (plural, ns, name), message in self._controller_errors.items() if ns == namespace}
                kube_errors.update(forced)
                # Kubernetes rules are computed here (_kube_errors), so skupper_status's own
                # host/port and Service checks (written for both platforms) are switched off.
                computed = skupper_status.site_statuses(
                    listeners=objs.get("listeners", ()), multikeylisteners=objs.get("multikeylisteners", ()),
                    connectors=objs.get("connectors", ()), sites=objs.get("sites", ()),
                    network_connector_keys=network_connectors, network_listener_keys=network_listeners,
                    errors=kube_errors, now=now, require_site=self.controller_require_site,
                    services=(), sites_in_network=sites_in_network, check_collisions=False)
                for plural, statuses in computed.items():
                    for name, status in sorted(statuses.items()):
                        if (plural, name) in held:
                            continue
                        stored = self._store.get(self._key(plural, namespace, name))
                        if stored is not None and stored.get("status") != status:
                            self.set_status(plural, namespace, name, status, notify=False)
                            written += 1
            # AccessGrants and Links (see _Linking), then AccessTokens outside the lock: a redemption is an
            # HTTPS request, maybe to this double's own grant server, which reads this store.
            written += self._deleted_sites() + self._check_grants() + self._check_links()
            self.controller_runs += 1
            self.controller_writes += written
        if self._lock._is_owned():  # called with the store lock held: redeem from another thread
            threading.Thread(target=self._run_controller_tracked, daemon=True,
                             name="kube-api-double-tokens").start()
            return written
        redeemed = self._redeem_access_tokens()
        if redeemed:
            with self._lock:
                links = self._check_links()
                self.controller_writes += links
                written += redeemed + links
        return written

    def _kube_errors(self, namespace, objs):
        """Errors Skupper's Kubernetes controller sets on the bindings of one site, and what it leaves alone.

        Returns ``({(plural, name): message}, {(plural, name) whose status is not written this run})``.
        The caller holds the store lock.
        """
        errors, held = {}, set()
        if self._version >= (2, 2, 0):
            self._listener_host_port(namespace, objs, errors, held)
        self._connector_selections(namespace, objs, errors)
        if self._version > (2, 2, 1):
            self._main_only_checks(objs, errors)
        return errors, held

    def _listener_host_port(self, namespace, objs, errors, held):
        """The host/port rule of internal/kube/site/site.go ``CheckListener`` (Skupper 2.2.0, #2389).

        * A listener whose host names a Service that does not carry the label
          ``internal.skupper.io/listener`` (the controller watches those as
          "observed services": internal/kube/controller/controller.go,
          ``sansSkupperListenerServices``) gets ``Service <host> already exists in
          namespace``; it neither becomes nor stops being a lead.
        * Else a listener that is not a lead becomes the lead of its ``host/port``,
          unless another lead has it: then ``Listener <lead> with host <H> and port <P>
          already exists in namespace``. Listeners with the same host and other
          ports share the Service and are fine.
        * A lead that changes host or port onto another lead's is dropped from the
          leads (and from the router) WITHOUT a status write ("pick up status next
          time around"): its old status stays until the next run, which reports the
          error.
        * A deleted lead frees its host/port. Skupper re-checks the other listeners
          at its informer resync (5 minutes, internal/kube/watchers/watchers.go); the
          double re-checks every listener at every run, so the next listener takes
          the place at once.
        * Multi-key listeners are not part of it (``CheckMultiKeyListener`` has no
          such check), and neither are listeners of other namespaces.
        """
        leads = self._lead_listeners.setdefault(namespace, {})
        listeners = sorted(objs.get("listeners", ()), key=skupper_status.creation_order)
        present = {skupper_status._name(obj) for obj in listeners}
        for name in list(leads):
            if name not in present:
                del leads[name]
        observed = {(svc.get("metadata") or {}).get("name") for svc in objs.get("services", ())
                    if "internal.skupper.io/listener" not in ((svc.get("metadata") or {}).get("labels") or {})}
        # leads first (a lead keeps its place), then the others in creation order
        ordered = [obj for obj in listeners if skupper_status._name(obj) in leads]
        ordered += [obj for obj in listeners if skupper_status._name(obj) not in leads]
        for obj in ordered:
            name = skupper_status._name(obj)
            spec = obj.get("spec") or {}
            host, port = spec.get("host"), spec.get("port")
            claim = "%s/%s" % (host, port)
            if host in observed:
                errors[(LISTENERS_PLURAL, name)] = "Service %s already exists in namespace" % host
                continue
            if name not in leads:
                lead = next((other for other, taken in sorted(leads.items()) if taken == claim), None)
                if lead is not None:
                    errors[(LISTENERS_PLURAL, name)] = (
                        "Listener %s with host %s and port %s already exists in namespace" % (lead, host, port))
                    continue
                leads[name] = claim
            elif leads[name] != claim:
                if any(other != name and taken == claim for other, taken in leads.items()):
                    del leads[name]
                    held.add((LISTENERS_PLURAL, name))
                else:
                    leads[name] = claim

    def _connector_selections(self, namespace, objs, errors):
        """Pod selection of connectors with a ``selector`` (internal/kube/site/bindings.go, site.go ``Select``).

        The selector goes to a pod informer as it is (internal/kube/watchers/watchers.go
        ``WatchPods``: ``LabelSelector = selector``), so set-based selectors work.
        Skupper sets Configured Error ``No matches for selector`` from a pod event
        (``TargetSelectionImpl.Updated``) when no selected pod is Ready (or
        ``includeNotReadyPods``), Running (internal/kube/site/pods.go) and not being
        deleted. A selector that never matched any pod gives no event, so the
        connector stays Configured. ("No pods match selector", in
        ``updateConnectorConfiguredStatusWithSelectedPods``, has no caller in any
        release; ``selectedPods`` is therefore never written for a Connector.)
        A selector that does not parse never matches (the informer's LIST fails).
        """
        pods = objs.get("pods", ())
        seen_names = set()
        for connector in objs.get("connectors", ()):
            name = skupper_status._name(connector)
            spec = connector.get("spec") or {}
            selector = spec.get("selector")
            key = (namespace, name)
            if not selector:
                self._selections.pop(key, None)
                continue
            seen_names.add(name)
            selection = self._selections.get(key)
            if selection is None or selection["selector"] != selector:
                selection = self._selections[key] = {"selector": selector, "events": False}
            try:
                requirements = parse_label_selector(selector)
            except SelectorError:
                continue
            matching = [pod for pod in pods
                        if labels_match(requirements, (pod.get("metadata") or {}).get("labels"))]
            if matching:
                selection["events"] = True
            include_not_ready = bool(spec.get("includeNotReadyPods"))
            selected = [pod for pod in matching if _pod_selectable(pod, include_not_ready)]
            if selection["events"] and not selected:
                errors[(CONNECTORS_PLURAL, name)] = "No matches for selector"
        for key in [key for key in self._selections if key[0] == namespace and key[1] not in seen_names]:
            del self._selections[key]

    def _main_only_checks(self, objs, errors):
        """Checks on Skupper main after 2.2.1 (no release has them yet).

        * internal/kube/site/site.go ``missingTlsCredentialsErr`` (#2449): a listener
          or connector whose ``tlsCredentials`` names no Secret of the namespace gets
          ``TLS credentials secret "<name>" not found``.
        * internal/kube/site/site.go ``verifySiteSpec`` (#2540): a Site with both
          ``edge`` and ``ha`` gets ``Edge sites cannot have HA enabled``.
        """
        secrets_present = {(obj.get("metadata") or {}).get("name") for obj in objs.get("secrets", ())}
        for plural in (LISTENERS_PLURAL, CONNECTORS_PLURAL):
            for obj in objs.get(plural, ()):
                credentials = (obj.get("spec") or {}).get("tlsCredentials")
                key = (plural, skupper_status._name(obj))
                if credentials and credentials not in secrets_present and key not in errors:
                    errors[key] = 'TLS credentials secret "%s" not found' % credentials
        for site in objs.get("sites", ()):
            spec = site.get("spec") or {}
            if spec.get("edge") and spec.get("ha"):
                errors[("sites", skupper_status._name(site))] = "Edge sites cannot have HA enabled"

    def controller_error(self, plural, namespace, name, message):
        """Force ``Configured`` False/Error with ``message`` on one object (None clears it).

        Lasts until cleared, across deletes and re-creates of the object. Takes
        effect at the next controller run, which this call triggers when the
        controller is enabled.
        """
        if plural not in CONTROLLED_PLURALS:
            raise ValueError("controller_error covers %s, not %s" % (", ".join(CONTROLLED_PLURALS), plural))
        with self._lock:
            if message is None:
                self._controller_errors.pop((plural, namespace, name), None)
            else:
                self._controller_errors[(plural, namespace, name)] = str(message)
        if self.controller_enabled:
            self._controller_changed()

    def wait_controller_idle(self, timeout=5.0):
        """Wait until no controller run is pending or running; returns False on timeout."""
        deadline = time.monotonic() + timeout
        with self._controller_state:
            while self._controller_timer is not None or self._controller_busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._controller_state.wait(remaining)
        return True

    def _controller_changed(self):
        if self.controller_delay <= 0:
            self._run_controller_tracked()
            return
        with self._controller_state:
            if self._controller_timer is not None:
                return  # a run is already due: it will read the newest state
            timer = threading.Timer(self.controller_delay, self._controller_timer_fired)
            timer.daemon = True
            timer.name = "kube-api-double-controller"
            self._controller_timer = timer
        timer.start()

    def _controller_timer_fired(self):
        with self._controller_state:
            if self._controller_timer is not threading.current_thread():
                return  # cancelled by stop()
            self._controller_timer = None
        try:
            self._run_controller_tracked()
        except Exception as error:  # no request to answer 500 to: record it for the test
            self._internal_error(error)

    def _run_controller_tracked(self):
        with self._controller_state:
            self._controller_busy += 1
        try:
            return self.run_controller()
        finally:
            with self._controller_state:
                self._controller_busy -= 1
                self._controller_state.notify_all()

    def _cancel_controller_timer(self):
        with self._controller_state:
            timer, self._controller_timer = self._controller_timer, None
            self._controller_state.notify_all()
        if timer is not None:
            timer.cancel()

    # ---- HTTP entry point -------------------------------------------------

    def _serve(self, handler):
        method = handler.command.upper()
        split = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        raw_body = handler.read_body()
        content_type = (handler.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        body = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = raw_body.decode("utf-8", "replace")
        info = _describe_path(split.path)
        dry_run = query.get("dryRun") == "All" or (
            method == "DELETE" and isinstance(body, dict) and "All" in (body.get("dryRun") or ()))
        record = RequestRecord(method=method, path=split.path, query=query, content_type=content_type,
                               body=body, dry_run=dry_run, token=_bearer(handler.headers.get("Authorization")),
                               user_agent=handler.headers.get("User-Agent", ""), **info)
        with self._lock:
            self.requests.append(record)
        if self.latency:
            time.sleep(self.latency)

        fault = self._take_fault(record, ("drop", "fail"))
        if fault is not None and fault.action == "drop" and not fault.after_processing:
            record.status, record.dropped = 0, True
            handler.drop()
            return
        changes = []
        headers = {}
        if fault is not None and fault.action == "fail":
            reason, message = _FAIL_BODIES[fault.status]
            details = {"retryAfterSeconds": 1} if fault.status == 429 else {"causes": [{"message": message}]}
            code, answer = fault.status, status_failure(fault.status, reason, message, details)
            headers = {"Retry-After": "1"} if fault.status == 429 else {}
        else:
            try:
                code, answer, headers = self._respond(record, method, info, query, raw_body, body, content_type,
                                                      changes, (handler.headers.get("Accept") or "").lower())
            except ApiError as error:
                code, answer, headers = error.code, error.body, error.headers
            except Exception as error:  # a bug in the double: answer 500 rather than hang the client
                code, answer = 500, self._internal_error(error)
        for change in changes:
            try:
                self._on_change(*change)
            except Exception as error:  # a bug in the hook: make it visible to the test
                code, answer, headers = 500, self._internal_error(error), {}
        if fault is not None and fault.action == "drop":
            record.status, record.dropped = 0, True
            handler.drop()
            return
        record.status = code
        handler.send_json(code, answer, headers)

    def _internal_error(self, error):
        text = traceback.format_exc()
        with self._lock:
            self.errors.append(text)
        sys.stderr.write("KubeApiDouble internal error:\n" + text)
        message = "Internal error occurred: %s: %s" % (type(error).__name__, error)
        return status_failure(500, "InternalError", message, {"causes": [{"message": message}]})

    def _respond(self, record, method, info, query, raw_body, body, content_type, changes, accept=""):
        if self.auth_mode == 401:
            raise ApiError(status_failure(401, "Unauthorized", "Unauthorized"))
        if info["discovery"]:
            if method not in ("GET", "HEAD"):
                raise error_method_not_allowed()
            return 200, self._discovery(record.path), {}
        if info["plural"] is None:
            raise error_unknown_resource()
        if self.auth_mode == 403:
            raise self._forbidden(info, method, query)
        rtype, namespace, name, sub = self._resolve(info)
        if method in WRITE_METHODS and (name is not None or method == "POST"):
            fault = self._take_fault(record, ("conflict",))
            if fault is not None:
                target = name
                if target is None and isinstance(body, dict) and isinstance(body.get("metadata"), dict):
                    target = body["metadata"].get("name")
                raise error_conflict(rtype, target or "")
        wants_table = "as=table" in accept and "g=meta.k8s.io" in accept
        if name is None:
            if method in ("GET", "HEAD"):
                answer = self._list(rtype, namespace, query)
                if wants_table:
                    answer = table_of(rtype, answer["items"], answer["metadata"])
                return 200, answer, {}
            if rtype.namespaced and namespace is None:
                raise error_method_not_allowed()
            if method == "POST":
                return self._create(rtype, namespace, query, raw_body, changes)
            if method == "DELETE":
                return 200, self._delete_collection(rtype, namespace, query, raw_body, changes), {}
            raise error_method_not_allowed()
        if method in ("GET", "HEAD"):
            answer = self._get(rtype, namespace, name)
            if wants_table:
                answer = table_of(rtype, [answer], {"resourceVersion": answer["metadata"]["resourceVersion"]})
            return 200, answer, {}
        if method == "PUT":
            return self._update(rtype, namespace, name, sub, query, raw_body, changes)
        if method == "PATCH":
            return self._patch(rtype, namespace, name, sub, query, raw_body, content_type, changes)
        if method == "DELETE" and sub is None:
            return 200, self._delete(rtype, namespace, name, query, raw_body, changes), {}
        raise error_method_not_allowed()

    def _resolve(self, info):
        """(ResourceType, namespace, name, subresource) of a resource path, or the unknown-resource 404."""
        group, version = info["group"], info["version"]
        if group == SKUPPER_GROUP and not self.crds_installed:
            raise error_unknown_resource()
        rtype = self._types.get(info["plural"])
        if rtype is None or rtype.group != group or rtype.version != version:
            raise error_unknown_resource()
        namespace, name, sub = info["namespace"], info["name"], info["subresource"]
        if not rtype.namespaced:
            if rtype.plural == "namespaces":
                namespace = None
            elif namespace is not None:
                raise error_unknown_resource()
        elif namespace is None and name is not None:
            raise error_unknown_resource()
        if sub is not None and not (sub == "status" and rtype.status_subresource):
            raise error_unknown_resource()
        return rtype, namespace, name, sub

    def _forbidden(self, info, method, query):
        if method in ("GET", "HEAD"):
            if info["name"] is not None:
                verb = "get"
            else:
                verb = "watch" if query.get("watch") in ("true", "1") else "list"
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, "delete")
            if method == "DELETE" and info["name"] is None:
                verb = "deletecollection"
        group, plural, name, namespace = info["group"], info["plural"], info["name"], info["namespace"]
        resource = plural + ("/" + info["subresource"] if info["subresource"] else "")
        qualified = "%s.%s" % (plural, group) if group else plural
        subject = '%s "%s"' % (qualified, name) if name else qualified
        scope = 'in the namespace "%s"' % namespace if namespace else "at the cluster scope"
        message = '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
            subject, self.forbidden_user, verb, resource, group, scope)
        details = {"name": name} if name else {}
        if group:
            details["group"] = group
        details["kind"] = plural
        return ApiError(status_failure(403, "Forbidden", message, details))

    # ---- discovery ---------------------------------------------------------

    def _discovery(self, path):
        path = "/" + path.strip("/")
        groups = self._groups()
        if path == "/version":
            return dict(self.version_info)
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:%d" % self.port}]}
        if path == "/api/v1":
            return self._resource_list("v1", [rtype for rtype in self._all_types if not rtype.group])
        if path == "/apis":
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group(g) for g in groups]}
        parts = path.split("/")[2:]
        if parts and parts[0] in groups:
            if len(parts) == 1:
                return dict(self._group(parts[0]), kind="APIGroup", apiVersion="v1")
            if len(parts) == 2 and parts[1] == SKUPPER_VERSION:
                return self._resource_list(SKUPPER_API_VERSION, [t for t in self._all_types if t.group == parts[0]])
        raise error_unknown_resource()

    def _groups(self):
        return [SKUPPER_GROUP] if self.crds_installed else []

    @staticmethod
    def _group(name):
        version = {"groupVersion": "%s/%s" % (name, SKUPPER_VERSION), "version": SKUPPER_VERSION}
        return {"name": name, "versions": [version], "preferredVersion": dict(version)}

    @staticmethod
    def _resource_list(group_version, types):
        resources = []
        for rtype in types:
            digest = hashlib.sha256(("%s/%s" % (group_version, rtype.kind)).encode()).digest()[:8]
            entry = {"name": rtype.plural, "singularName": rtype.singular, "namespaced": rtype.namespaced,
                     "kind": rtype.kind, "verbs": list(rtype.verbs),
                     "storageVersionHash": base64.b64encode(digest).decode()}
            if rtype.short_names:
                entry["shortNames"] = list(rtype.short_names)
            resources.append(entry)
            if rtype.status_subresource:
                resources.append({"name": rtype.plural + "/status", "singularName": "",
                                  "namespaced": rtype.namespaced, "kind": rtype.kind,
                                  "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                "resources": resources}

    # ---- reads ---------------------------------------------------------------

    def _get(self, rtype, namespace, name):
        with self._lock:
            obj = self._store.get(self._key(rtype.plural, namespace, name))
            if obj is None:
                raise error_not_found(rtype, name)
            return copy.deepcopy(obj)

    def _select(self, rtype, namespace, query):
        if query.get("watch") in ("true", "1"):
            raise ApiError(status_failure(405, "MethodNotAllowed",
                                          "watch is not implemented by the Kubernetes API test double", {}))
        try:
            labels = parse_label_selector(query.get("labelSelector", ""))
            fields = parse_field_selector(query.get("fieldSelector", ""), rtype.field_labels)
        except SelectorError as error:
            raise error_bad_request(str(error))
        with self._lock:
            items = [
                copy.deepcopy(obj) for (plural, ns, _name), obj in sorted(self._store.items())
                if plural == rtype.plural and (namespace is None or ns == namespace)
                and labels_match(labels, obj.get("metadata", {}).get("labels"))
                and fields_match(fields, obj)
            ]
            return items, str(self._rv)

    def _list(self, rtype, namespace, query):
        items, version = self._select(rtype, namespace, query)
        metadata = {"resourceVersion": version}
        start = 0
        if query.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(query["continue"].encode()))
                start = int(token["start"])
            except (ValueError, KeyError, TypeError):
                raise error_bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                        "(version meta.k8s.io/v1)")
        limit = query.get("limit")
        if limit not in (None, "", "0"):
            try:
                limit = int(limit)
            except ValueError:
                raise error_bad_request("limit: Invalid value: %s" % json.dumps(limit))
            end = start + limit
            if end < len(items):
                token = json.dumps({"rv": version, "start": end}).encode()
                metadata["continue"] = base64.urlsafe_b64encode(token).decode()
                metadata["remainingItemCount"] = len(items) - end
            items = items[start:end]
        else:
            items = items[start:]
        return {"apiVersion": rtype.api_version, "kind": rtype.kind + "List", "metadata": metadata,
                "items": items}

    # ---- writes --------------------------------------------------------------

    @staticmethod
    def _dry_run(query, options=None):
        values = [query["dryRun"]] if "dryRun" in query else []
        if isinstance(options, dict) and options.get("dryRun"):
            values.extend(options["dryRun"])
        for value in values:
            if value != "All":
                raise error_bad_request('dryRun: Unsupported value: "%s": supported values: "All"' % value)
        return bool(values)

    @staticmethod
    def _parse_body(raw_body):
        if not raw_body:
            raise error_bad_request("the request body is empty")
        try:
            return json.loads(raw_body)
        except ValueError as error:
            raise error_bad_request("the request body is not valid JSON: %s" % error)

    def _decode(self, rtype, body):
        """Check the envelope and metadata types of an incoming object; return a copy."""
        cannot = '%s in version "%s" cannot be handled as a %s: ' % (rtype.kind, rtype.version, rtype.kind)
        if not isinstance(body, dict):
            raise error_bad_request(cannot + "the body is not a JSON object")
        obj = copy.deepcopy(body)
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if rtype.is_custom:
            if not kind:
                raise error_bad_request("Object 'Kind' is missing in '%s'" % json.dumps(body, separators=(",", ":")))
            if not api_version:
                raise error_bad_request("Object 'apiVersion' is missing in '%s'"
                                        % json.dumps(body, separators=(",", ":")))
        if api_version and api_version != rtype.api_version:
            raise error_bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                                    % (api_version, rtype.api_version))
        if kind and kind != rtype.kind:
            raise error_bad_request("the kind in the data (%s) does not match the expected kind (%s)"
                                    % (kind, rtype.kind))
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise error_bad_request(cannot + "json: cannot unmarshal %s into Go struct field %s.metadata of type "
                                    "v1.ObjectMeta" % (_json_type(meta), rtype.kind))
        for key in ("name", "generateName", "namespace", "resourceVersion", "uid"):
            if meta.get(key) is not None and not isinstance(meta[key], str):
                raise error_bad_request(cannot + "json: cannot unmarshal %s into Go struct field "
                                        "ObjectMeta.metadata.%s of type string" % (_json_type(meta[key]), key))
        for key in ("labels", "annotations"):
            value = meta.get(key)
            if value is None:
                meta.pop(key, None)
                continue
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise error_bad_request(cannot + "json: cannot unmarshal %s into Go struct field "
                                        "ObjectMeta.metadata.%s of type map[string]string" % (_json_type(value), key))
        return obj

    def _check_identity(self, rtype, obj, namespace, name):
        meta = obj["metadata"]
        if name is not None and meta.get("name") and meta["name"] != name:
            raise error_bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                    % (meta["name"], name))
        if rtype.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise error_bad_request("the namespace of the provided object does not match the namespace sent on "
                                    "the request")

    def _validate(self, rtype, obj, old, pruned):
        """Prune and validate; returns the cleaned object or raises 422 Invalid."""
        meta = obj["metadata"]
        name = meta.get("name", "")
        errors = []
        if not name:
            errors.append(FieldError.required("metadata.name", "name or generateName is required"))
        else:
            errors.extend(name_errors(name, rtype.name_rule))
        for key, value in (meta.get("labels") or {}).items():
            errors.extend(_label_key_errors(key, "metadata.labels"))
            errors.extend(_label_value_errors(value, "metadata.labels"))
        for key in (meta.get("annotations") or {}):
            errors.extend(_label_key_errors(key, "metadata.annotations"))
        if rtype.plural in ("secrets", "configmaps"):
            for section in ("data", "binaryData", "stringData"):
                for key in (obj.get(section) or {}):
                    if len(key) > 253 or not _CONFIG_KEY_RE.match(key):
                        errors.append(FieldError.invalid("%s[%s]" % (section, key), key, _CONFIG_KEY_MSG))
        if rtype.schema is not None:
            body = {key: value for key, value in obj.items() if key != "metadata"}
            cleaned, schema_errors = validate_structural(body, rtype.schema, "", pruned)
            errors.extend(schema_errors)
            cleaned["metadata"] = meta
            obj = _ordered(cleaned)
        if rtype.rules is not None:
            errors.extend(rtype.rules(obj, old))
        if errors:
            raise error_invalid(rtype, name, errors)
        return obj

    @staticmethod
    def _field_validation(query, pruned):
        """The Warning header (or 400 under fieldValidation=Strict) for pruned unknown fields."""
        if not pruned:
            return {}
        mode = query.get("fieldValidation", "Warn")
        if mode == "Strict":
            raise error_bad_request("strict decoding error: " + ", ".join('unknown field "%s"' % p for p in pruned))
        if mode == "Ignore":
            return {}
        return {"Warning": ", ".join('299 - "unknown field \\"%s\\""' % p for p in pruned)}

    def _normalize(self, rtype, obj, old):
        """Core-type defaulting (namespaces, secrets, services)."""
        if rtype.plural == "namespaces":
            return self._normalize_namespace(obj, old)
        if rtype.plural == "secrets":
            return self._normalize_secret(obj)
        if rtype.plural == "services":
            return self._normalize_service(obj, old)
        if rtype.plural == "pods":
            obj.setdefault("spec", {})
            obj.setdefault("status", {"phase": "Pending"})  # what the API server answers a create with
        return obj

    @staticmethod
    def _normalize_namespace(obj, old):
        meta = obj["metadata"]
        labels = meta.setdefault("labels", {})
        if meta.get("name"):
            labels["kubernetes.io/metadata.name"] = meta["name"]
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = copy.deepcopy(old["status"]) if old and "status" in old else {"phase": "Active"}
        return obj

    @staticmethod
    def _normalize_secret(obj):
        cannot = 'Secret in version "v1" cannot be handled as a Secret: '
        data = obj.get("data") or {}
        if not isinstance(data, dict):
            raise error_bad_request(cannot + "json: cannot unmarshal %s into Go struct field Secret.data of type "
                                    "map[string][]uint8" % _json_type(data))
        for key, value in data.items():
            try:
                base64.b64decode(value or "", validate=True)
            except (ValueError, TypeError):
                raise error_bad_request(cannot + "illegal base64 data at input byte 0 (key %s)" % key)
        string_data = obj.pop("stringData", None) or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        if data:
            obj["data"] = data
        else:
            obj.pop("data", None)
        obj.setdefault("type", "Opaque")
        return obj

    def _normalize_service(self, obj, old):
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            raise error_bad_request('Service in version "v1" cannot be handled as a Service: spec must be an object')
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if old is not None and old.get("spec", {}).get("clusterIP"):
            spec["clusterIP"] = old["spec"]["clusterIP"]
        elif not spec.get("clusterIP"):
            with self._lock:
                self._ip_counter += 1
                counter = self._ip_counter
            spec["clusterIP"] = "10.96.%d.%d" % (counter // 250, counter % 250 + 1)
        spec["clusterIPs"] = [spec["clusterIP"]]
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])
        obj.setdefault("status", {"loadBalancer": {}})
        return obj

    def _create(self, rtype, namespace, query, raw_body, changes):
        dry = self._dry_run(query)
        obj = self._decode(rtype, self._parse_body(raw_body))
        self._check_identity(rtype, obj, namespace, None)
        meta = obj["metadata"]
        if rtype.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _index in range(5))
            meta["name"] = meta["generateName"] + suffix
        for key in _SERVER_OWNED:
            meta.pop(key, None)
        if rtype.status_subresource:
            obj.pop("status", None)
        obj = self._normalize(rtype, obj, None)
        pruned = []
        obj = self._validate(rtype, obj, None, pruned)
        headers = self._field_validation(query, pruned)
        name = meta["name"]
        with self._lock:
            if rtype.namespaced and self._key("namespaces", None, namespace) not in self._store:
                raise ApiError(status_failure(404, "NotFound", 'namespaces "%s" not found' % namespace,
                                              {"name": namespace, "kind": "namespaces"}))
            key = self._key(rtype.plural, namespace, name)
            if key in self._store:
                raise error_already_exists(rtype, name)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = _now()
            if rtype.is_custom:
                meta["generation"] = 1
            if dry:
                return 201, copy.deepcopy(obj), headers
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            self._store[key] = obj
            changes.append((rtype.plural, namespace, name))
            return 201, copy.deepcopy(obj), headers

    def _update(self, rtype, namespace, name, sub, query, raw_body, changes):
        dry = self._dry_run(query)
        obj = self._decode(rtype, self._parse_body(raw_body))
        self._check_identity(rtype, obj, namespace, name)
        with self._lock:
            old = self._store.get(self._key(rtype.plural, namespace, name))
            if old is None:
                raise error_not_found(rtype, name)
            wanted = obj["metadata"].get("resourceVersion")
            if wanted and wanted != old["metadata"]["resourceVersion"]:
                raise error_conflict(rtype, name)
            return self._commit_update(rtype, namespace, name, old, obj, sub, dry, query, changes)

    def _patch(self, rtype, namespace, name, sub, query, raw_body, content_type, changes):
        accepted = [JSON_PATCH, MERGE_PATCH] + ([] if rtype.is_custom else [STRATEGIC_PATCH])
        if content_type not in accepted:
            raise error_unsupported_media(accepted)
        dry = self._dry_run(query)
        patch = self._parse_body(raw_body)
        with self._lock:
            old = self._store.get(self._key(rtype.plural, namespace, name))
            if old is None:
                raise error_not_found(rtype, name)
            if content_type == JSON_PATCH:
                if not isinstance(patch, list):
                    raise error_bad_request("json: cannot unmarshal %s into Go value of type jsonpatch.Patch"
                                            % _json_type(patch))
                try:
                    result = json_patch(old, patch)
                except JsonPatchError as error:
                    raise ApiError(status_failure(422, "Invalid", str(error),
                                                  {"causes": [{"reason": "FieldValueInvalid",
                                                               "message": str(error)}]}))
            else:
                if not isinstance(patch, dict):
                    raise error_bad_request("the merge patch must be a JSON object")
                result = merge_patch(old, patch)
            obj = self._decode(rtype, result)
            wanted = obj["metadata"].get("resourceVersion")
            if wanted and wanted != old["metadata"]["resourceVersion"]:
                raise error_conflict(rtype, name)
            if obj["metadata"].get("name") != name:
                raise error_invalid(rtype, name, [FieldError.invalid("metadata.name", obj["metadata"].get("name"),
                                                                     "field is immutable")])
            self._check_identity(rtype, obj, namespace, name)
            return self._commit_update(rtype, namespace, name, old, obj, sub, dry, query, changes)

    def _commit_update(self, rtype, namespace, name, old, incoming, sub, dry, query, changes):
        """Shared tail of PUT and PATCH; the caller holds the lock."""
        if sub == "status":
            new = copy.deepcopy(old)
            if incoming.get("status") is not None:
                new["status"] = copy.deepcopy(incoming["status"])
            else:
                new.pop("status", None)
        else:
            new = copy.deepcopy(incoming)
            meta, old_meta = new["metadata"], old["metadata"]
            for key in ("uid", "creationTimestamp", "generation", "deletionTimestamp", "name", "namespace"):
                if key in old_meta:
                    meta[key] = old_meta[key]
                else:
                    meta.pop(key, None)
            meta.pop("managedFields", None)
            meta.pop("selfLink", None)
            if rtype.status_subresource:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
        new = self._normalize(rtype, new, old)
        pruned = []
        new = self._validate(rtype, new, old, pruned)
        headers = self._field_validation(query, pruned)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if _without_version(new) == _without_version(old):
            return 200, copy.deepcopy(old), headers  # a no-op update is not written
        if rtype.is_custom and _spec_part(new) != _spec_part(old):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        if dry:
            return 200, copy.deepcopy(new), headers
        self._rv += 1
        new["metadata"]["resourceVersion"] = str(self._rv)
        self._store[self._key(rtype.plural, namespace, name)] = new
        changes.append((rtype.plural, namespace, name))
        return 200, copy.deepcopy(new), headers

    def _delete_options(self, raw_body):
        if not raw_body:
            return {}
        options = self._parse_body(raw_body)
        if not isinstance(options, dict):
            raise error_bad_request("the DeleteOptions body must be a JSON object")
        return options

    def _delete(self, rtype, namespace, name, query, raw_body, changes):
        options = self._delete_options(raw_body)
        dry = self._dry_run(query, options)
        preconditions = options.get("preconditions") or {}
        with self._lock:
            key = self._key(rtype.plural, namespace, name)
            old = self._store.get(key)
            if old is None:
                raise error_not_found(rtype, name)
            meta = old["metadata"]
            if preconditions.get("uid") and preconditions["uid"] != meta["uid"]:
                raise error_conflict(rtype, name, "Precondition failed: UID in precondition: %s, UID in object "
                                     "meta: %s" % (preconditions["uid"], meta["uid"]))
            wanted = preconditions.get("resourceVersion")
            if wanted and wanted != meta["resourceVersion"]:
                raise error_conflict(rtype, name, "Precondition failed: ResourceVersion in precondition: %s, "
                                     "ResourceVersion in object meta: %s" % (wanted, meta["resourceVersion"]))
            if rtype.plural == "namespaces":
                answer = copy.deepcopy(old)
                answer["metadata"]["deletionTimestamp"] = _now()
                answer["status"] = {"phase": "Terminating"}
                if not dry:
                    for other in sorted(self._store):
                        if other[1] == name and self._types[other[0]].namespaced:
                            del self._store[other]
                            self._rv += 1
                            changes.append((other[0], name, other[2]))
                    del self._store[key]
                    self._rv += 1
                    answer["metadata"]["resourceVersion"] = str(self._rv)
                    changes.append(("namespaces", None, name))
                return answer
            if not dry:
                del self._store[key]
                self._rv += 1
                changes.append((rtype.plural, namespace, name))
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": _details(rtype, name, uid=meta["uid"])}

    def _delete_collection(self, rtype, namespace, query, raw_body, changes):
        options = self._delete_options(raw_body)
        dry = self._dry_run(query, options)
        if rtype.plural == "namespaces":
            raise error_method_not_allowed()
        with self._lock:
            items, _version = self._select(rtype, namespace, query)
            if not dry:
                for item in items:
                    item_meta = item["metadata"]
                    del self._store[self._key(rtype.plural, item_meta.get("namespace"), item_meta["name"])]
                    self._rv += 1
                    changes.append((rtype.plural, item_meta.get("namespace"), item_meta["name"]))
            return {"apiVersion": rtype.api_version, "kind": rtype.kind + "List",
                    "metadata": {"resourceVersion": str(self._rv)}, "items": items}


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------

class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, handler_class, double):
        self.double = double
        self._connections = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler_class)

    def track(self, connection, alive):
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_all_connections(self):
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "KubeApiDouble/1.0"
    sys_version = ""
    timeout = 120
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid the delayed-ACK stall

    def setup(self):
        super().setup()
        self.server.track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, *args):
        pass

    def _dispatch(self):
        try:
            self.server.double._serve(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_json(self, code, body, headers=None):
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def drop(self):
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# --------------------------------------------------------------------------
# Standalone use
# --------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the Kubernetes API TEST DOUBLE until interrupted.")
    parser.add_argument("--kubeconfig", required=True, help="where to write a kubeconfig for it")
    parser.add_argument("--namespace", help="namespace to create and set in the kubeconfig context")
    parser.add_argument("--context", default="double", help="context name in the kubeconfig")
    parser.add_argument("--no-crds", action="store_true", help="serve without the skupper.io resources")
    parser.add_argument("--controller", action="store_true",
                        help="run the status controller (Skupper's status rules, as a test double)")
    parser.add_argument("--controller-delay", type=float, default=0.0, metavar="SECONDS",
                        help="seconds between a change and the status update (with --controller)")
    args = parser.parse_args(argv)

    # Handlers first: whoever reads the URL below may signal at once.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_args: stop.set())
    double = KubeApiDouble(crds_installed=not args.no_crds, controller=args.controller)
    double.controller_delay = args.controller_delay
    double.start()
    if args.namespace:
        double.create_namespace(args.namespace)
    double.write_kubeconfig(args.kubeconfig, namespace=args.namespace, context=args.context)
    print(double.url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
