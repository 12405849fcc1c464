# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes back end: Skupper custom objects through the typed API.

Group, version and plural come from the kind table, so no discovery call is
ever made. ``kubernetes`` is imported only when this back end is built,
after argument validation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import os
import time
import traceback

from ansible_collections.skupperlabs.network.plugins.module_utils import validation
from ansible_collections.skupperlabs.network.plugins.module_utils.backend import Backend
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import ConflictError, SkupperError
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import API_GROUP, API_VERSION

IN_CLUSTER_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
IN_CLUSTER_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"
# One request's whole time bound (connect and answer), in seconds. The HTTP library's own retries
# are off (Configuration.retries = False), so a hung server costs one REQUEST_TIMEOUT per request,
# never a hidden multiple of it.
REQUEST_TIMEOUT = 30
# TEST ONLY: the integration tests shorten REQUEST_TIMEOUT with this variable (a hung server's test
# need not wait 30 s). Not a user setting; not documented for users.
REQUEST_TIMEOUT_TEST_ENV = "SKUPPERLABS_NETWORK_TEST_REQUEST_TIMEOUT"
# The module's own retry policy: these statuses, and a connection lost before an answer came (a
# restarting API server, a proxy dropping it), are tried again after these delays. A timed-out
# request is not: it already took REQUEST_TIMEOUT.
TRANSIENT_STATUSES = (429, 500, 502, 503, 504)
TRANSIENT_RETRY_DELAYS = (0.2, 0.5, 1.0)
DEFAULT_KUBECONFIG = "~/.kube/config"


def _import_client():
    try:
        from kubernetes import client, config
        from kubernetes.client.rest import ApiException
    except ImportError:
        raise SkupperError("the kubernetes Python client is required for platform kubernetes",
                           missing_lib="kubernetes", exception=traceback.format_exc())
    return client, config, ApiException


def request_timeout(environ=None):
    environ = os.environ if environ is None else environ
    try:
        value = float(environ.get(REQUEST_TIMEOUT_TEST_ENV) or REQUEST_TIMEOUT)
    except ValueError:
        return REQUEST_TIMEOUT
    return value if value > 0 else REQUEST_TIMEOUT


def _status_body(exc):
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class KubernetesBackend(Backend):
    """Skupper resources on a Kubernetes cluster."""

    name = "kubernetes"
    server_dry_run = True
    supports_selector = True

    def __init__(self, kubeconfig=None, context=None):
        Backend.__init__(self)
        client, config, self._api_exception = _import_client()
        import urllib3
        self._transport_errors = (urllib3.exceptions.HTTPError, OSError)
        self._timeout_errors = (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError)
        self._connect_errors = (urllib3.exceptions.NewConnectionError,)
        self._timeout = request_timeout()
        configuration = client.Configuration()
        self.default_namespace = "default"
        kubeconfig_path = kubeconfig or os.environ.get("KUBECONFIG")
        if not kubeconfig_path and os.path.exists(os.path.expanduser(DEFAULT_KUBECONFIG)):
            kubeconfig_path = os.path.expanduser(DEFAULT_KUBECONFIG)
        token_host = os.environ.get("K8S_AUTH_HOST")
        try:
            if kubeconfig_path and (kubeconfig or not token_host):
                if kubeconfig and not os.path.exists(kubeconfig):
                    raise SkupperError("kubeconfig %s does not exist" % kubeconfig)
                # The path chosen now, not the client's KUBE_CONFIG_DEFAULT_LOCATION, which it reads from
                # KUBECONFIG once, at import: the fast path applies a task's environment after that.
                contexts, active = config.list_kube_config_contexts(config_file=kubeconfig_path)
                chosen = active
                if context:
                    chosen = next((c for c in contexts if c.get("name") == context), None)
                    if chosen is None:
                        raise SkupperError("context %s is not in the kubeconfig (it has: %s)"
                                           % (context, ", ".join(sorted(c.get("name", "") for c in contexts))))
                self.default_namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
                config.load_kube_config(config_file=kubeconfig_path, context=context,
                                        client_configuration=configuration, persist_config=False)
            elif token_host:
                # What AWX's Kubernetes bearer-token credential injects.
                configuration.host = token_host
                token = os.environ.get("K8S_AUTH_API_KEY")
                if token:
                    configuration.api_key = {"authorization": "Bearer " + token}
                configuration.verify_ssl = os.environ.get("K8S_AUTH_VERIFY_SSL", "true").lower() not in (
                    "0", "false", "no", "off")
                configuration.ssl_ca_cert = os.environ.get("K8S_AUTH_SSL_CA_CERT") or None
            elif os.path.exists(IN_CLUSTER_TOKEN_FILE):
                config.load_incluster_config(client_configuration=configuration)
                with open(IN_CLUSTER_NAMESPACE_FILE) as handle:
                    self.default_namespace = handle.read().strip() or "default"
            else:
                raise SkupperError("no Kubernetes credentials found: set kubeconfig (or K8S_AUTH_KUBECONFIG, or "
                                   "KUBECONFIG), K8S_AUTH_HOST and K8S_AUTH_API_KEY, or run inside a cluster")
        except SkupperError:
            raise
        except Exception as exc:
            raise SkupperError("cannot load Kubernetes credentials from %s: %s"
                               % (kubeconfig_path or "the in-cluster service account", exc))
        self.server = configuration.host
        # No retries below the module's own (_call): urllib3 would otherwise try a hung request 4 times.
        configuration.retries = False
        self._api_client = client.ApiClient(configuration)
        self._api = client.CustomObjectsApi(self._api_client)
        self._core_api = None

    @property
    def _core(self):
        """Core kinds (a Link's Secret) through the typed core API, read as plain dicts like custom objects.
        Built at first use: with kubernetes client 37, CoreV1Api imports its module and some 250 model
        classes, about 0.5 s of CPU that a task without a core kind need not pay."""
        if self._core_api is None:
            from kubernetes import client
            self._core_api = client.CoreV1Api(self._api_client)
        return self._core_api

    # -- platform rules ------------------------------------------------
    @staticmethod
    def host_error(value):
        return validation.kubernetes_host(value)

    @staticmethod
    def name_error(value):
        return validation.kubernetes_name(value)

    @staticmethod
    def credentials_error(value):
        """tlsCredentials names a Secret of the namespace."""
        error = validation.secret_name(value)
        return error and error.replace("valid Secret name", "valid TLS credentials name on Kubernetes (a Secret name)")

    # Skupper's controller redeems an AccessToken resource (internal/kube/grants/redeem.go).
    token_redeemer = "controller"

    # Why two resources may not share a host and port here (kinds.Kind.host_port_rivals says which).
    host_port_reason = ("listeners with one host share one Service, and Skupper's controller gives the second "
                        "one an Error status ('Listener L with host H and port P already exists in namespace')")

    # -- calls -------------------------------------------------------------
    # verb -> (CustomObjectsApi method, CoreV1Api method pattern)
    _METHODS = {
        "get": ("get_namespaced_custom_object", "read_namespaced_%s"),
        "list": ("list_namespaced_custom_object", "list_namespaced_%s"),
        "create": ("create_namespaced_custom_object", "create_namespaced_%s"),
        "update": ("replace_namespaced_custom_object", "replace_namespaced_%s"),
        "delete": ("delete_namespaced_custom_object", "delete_namespaced_%s"),
    }

    def _invoke(self, verb, kind, namespace, name, body, kwargs):
        """One request: the custom-objects API for Skupper kinds, the core API for core kinds.

        The answer is parsed here, for both, and checked to be what the Kubernetes API answers
        (an object, a list with items, a Status): a server that answers with an HTML page or
        anything else is named as not speaking the Kubernetes API, never handed on.
        """
        custom, core = self._METHODS[verb]
        target_name = name
        if verb in ("create", "list"):
            name = None  # named in messages only
        if not kind.core:
            args = [API_GROUP, API_VERSION, namespace, kind.plural]
            args += [a for a in (name, body) if a is not None]
            method = getattr(self._api, custom)
        else:
            method = getattr(self._core, core % kind.kind.lower())
            args = [a for a in (name, namespace, body) if a is not None]
        # Not deserialized by the client (into models, or a string when it is no JSON): plain dicts for every kind.
        response = method(*args, _preload_content=False, **kwargs)
        return self._answer(verb, kind, namespace, target_name, response)

    def _answer(self, verb, kind, namespace, name, response):
        data = response.data
        headers = getattr(response, "headers", None)
        content_type = (headers.get("Content-Type") if hasattr(headers, "get") else None) or "no content type"
        try:
            answer = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
        except ValueError:
            answer = None
        if verb == "list":
            well_formed = isinstance(answer, dict) and isinstance(answer.get("items"), list) and all(
                isinstance(item, dict) and isinstance(item.get("metadata"), dict) for item in answer["items"])
        elif verb == "delete":
            well_formed = isinstance(answer, dict)
        else:
            well_formed = isinstance(answer, dict) and isinstance(answer.get("metadata"), dict)
        if not well_formed:
            raise SkupperError("the server at %s does not speak the Kubernetes API: it answered %s %s with HTTP %s "
                               "and %s (%s), not a Kubernetes object; check the server address of the kubeconfig "
                               "or K8S_AUTH_HOST" % (self.server, verb, self._target(kind, namespace, name),
                                                     getattr(response, "status", "?"), content_type,
                                                     "not JSON" if answer is None else "JSON of another shape"))
        return answer

    def _target(self, kind, namespace, name):
        group = ("." + API_GROUP) if not kind.core else ""
        return "%s%s %s in namespace %s" % (kind.plural, group, name or "(all)", namespace)

    def _call(self, verb, kind, namespace, name, body=None, **kwargs):
        kwargs["_request_timeout"] = self._timeout
        for delay in TRANSIENT_RETRY_DELAYS + (None,):
            try:
                return self._invoke(verb, kind, namespace, name, body, kwargs)
            except self._api_exception as exc:
                if exc.status == 404 and verb in ("get", "delete") and \
                        (_status_body(exc).get("details") or {}).get("name"):
                    return None
                if exc.status in TRANSIENT_STATUSES and delay is not None:
                    # An overloaded or restarting API server: try again shortly. A repeated
                    # write is safe: PUT carries the resourceVersion, and a repeated POST meets
                    # 409 AlreadyExists, which the engine answers with a fresh read.
                    time.sleep(delay)
                    continue
                raise self._translate(exc, verb, kind, namespace, name)
            except self._timeout_errors as exc:
                if isinstance(exc, self._connect_errors) and delay is not None:
                    time.sleep(delay)  # refused or unresolvable: that takes no time, try again shortly
                    continue
                if isinstance(exc, self._connect_errors):
                    raise SkupperError("cannot reach the Kubernetes API server at %s to %s %s: %s"
                                       % (self.server, verb, self._target(kind, namespace, name), exc))
                raise SkupperError("the Kubernetes API server at %s did not answer %s %s within %s s (the "
                                   "request timeout); nothing more was sent" % (
                                       self.server, verb, self._target(kind, namespace, name),
                                       "%g" % self._timeout))
            except self._transport_errors as exc:
                if delay is not None:
                    # The connection was lost before an answer came: try again, as for a 503.
                    time.sleep(delay)
                    continue
                raise SkupperError("the connection to the Kubernetes API server at %s failed to %s %s: %s"
                                   % (self.server, verb, self._target(kind, namespace, name), exc))
        return None

    def _translate(self, exc, verb, kind, namespace, name):
        body = _status_body(exc)
        message = body.get("message") or exc.reason or ""
        details = body.get("details") or {}
        target = self._target(kind, namespace, name)
        if exc.status == 404 and details.get("kind") == "namespaces":
            return SkupperError("namespace %s does not exist on %s: create it first" % (namespace, self.server))
        if exc.status == 404 and kind.core:
            return SkupperError("the API server at %s has no %s: HTTP 404 %s" % (self.server, kind.plural, message))
        if exc.status == 404:
            served = "%s.%s/%s" % (kind.plural, API_GROUP, API_VERSION)
            return SkupperError("the cluster at %s does not serve %s: Skupper's CRDs are missing; "
                                "install the Skupper controller first" % (self.server, served))
        if exc.status == 401:
            return SkupperError("unauthorized (401) to %s %s at %s: the credentials were refused: %s"
                                % (verb, target, self.server, message))
        if exc.status == 403:
            return SkupperError("forbidden (403) to %s %s: %s" % (verb, target, message))
        if exc.status == 409:
            return ConflictError("conflict (409) on %s %s: %s" % (verb, target, message))
        if exc.status == 422:
            causes = "; ".join("%s: %s" % (c.get("field", "?"), c.get("message", ""))
                               for c in details.get("causes") or [])
            return SkupperError("the API server refused to %s %s (422 Invalid): %s"
                                % (verb, target, causes or message), status=422)
        return SkupperError("the API server at %s failed to %s %s: HTTP %s %s"
                            % (self.server, verb, target, exc.status, message or exc.reason))

    @staticmethod
    def _dry(dry_run):
        return "All" if dry_run else None

    def get(self, kind, namespace, name):
        return self._call("get", kind, namespace, name)

    def list(self, kind, namespace, label_selector=None):
        """One LIST request; the API server applies the label selector."""
        result = self._call("list", kind, namespace, None, label_selector=label_selector or None)
        return dict((item["metadata"]["name"], item) for item in (result or {}).get("items") or [])

    def read_status(self, kind, namespace, name, desired_spec):
        return self.get(kind, namespace, name)

    def observed(self, kind, namespace, obj):
        """Objects from the API server carry their status already."""
        return obj

    def create(self, kind, namespace, obj, dry_run=False):
        return self._call("create", kind, namespace, obj["metadata"]["name"], obj, dry_run=self._dry(dry_run))

    def replace(self, kind, namespace, obj, dry_run=False):
        return self._call("update", kind, namespace, obj["metadata"]["name"], obj, dry_run=self._dry(dry_run))

    def delete(self, kind, namespace, name, dry_run=False):
        self._call("delete", kind, namespace, name, dry_run=self._dry(dry_run))

    def location(self, kind, namespace, name):
        return None

    @contextlib.contextmanager
    def locked(self, namespace):
        """resourceVersion guards every write on Kubernetes; no client-side lock."""
        yield

    def check_writable(self, namespace):
        """Permissions are the API server's to check, on the write itself."""
