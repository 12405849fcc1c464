# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linking sites: what the link, access_token and access_grant modules share.

A Link names its TLS credentials, a Secret of the same namespace (on system
sites a Secret in ``input/resources``, which Skupper's loader reads and its
validator requires: ``site_state_validator.go`` validateLinks). The Link goes
through the engine like every other kind; its Secret is a companion object
written before it, under the same lock, and removed after it.

Credentials (a token's code, a Secret's data) are never returned, shown in a
diff or put into a message: the kind table marks them (``Kind.hidden``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import re
import traceback

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.skupperlabs.network.plugins.module_utils import engine, redemption, validation, waiting
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import ConflictError, SkupperError, fail
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import (
    ACCESS_GRANT, ACCESS_TOKEN, LINK, MANAGED_BY_LABEL, MANAGED_BY_VALUE, SECRET)

SKUPPER_API = "skupper.io/v2alpha1"


def _require_yaml():
    if not HAS_YAML:
        raise SkupperError("PyYAML is required to read a link definition", missing_lib="PyYAML",
                           exception=YAML_IMPORT_ERROR)


def _ours(obj):
    return ((obj or {}).get("metadata") or {}).get("labels", {}).get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def _secret_differs(existing, wanted):
    metadata = existing.get("metadata") or {}
    for key in ("labels", "annotations"):
        have = metadata.get(key) or {}
        if any(have.get(k) != v for k, v in ((wanted.get("metadata") or {}).get(key) or {}).items()):
            return True
    return (existing.get("type") or "Opaque") != (wanted.get("type") or "Opaque") or \
        (existing.get("data") or {}) != (wanted.get("data") or {})


class SecretCompanion:
    """The Secret a Link uses: created or updated before the Link, deleted after it.

    ``secret`` is the object to store (state present). With state absent, the Secret
    the Link ``link_name`` names (as the engine read it) is removed: only one this
    collection wrote, and only when no other Link of the namespace still uses it.
    """

    def __init__(self, name=None, secret=None, state="present", link_names=()):
        self.name = name
        self.secret = secret
        self.state = state
        self.link_names = set(link_names)
        self.action = "none"
        self.before = None
        self.after = None

    def plan(self, reconciler, existing):
        backend = reconciler.backend
        if self.name is None:
            # The Link as the engine read it names its Secret: no second read of the Link.
            linked = [((existing.get(name) or {}).get("spec") or {}).get("tlsCredentials") for name in self.link_names]
            self.name = next((credentials for credentials in linked if credentials), None)
            if self.name is None:
                return
        self.before = backend.get(SECRET, reconciler.namespace, self.name)
        if self.state == "present":
            wanted = copy.deepcopy(self.secret)
            wanted["metadata"]["namespace"] = reconciler.namespace
            if self.before is None:
                self.action, self.after = "create", wanted
            elif _secret_differs(self.before, wanted):
                merged = copy.deepcopy(self.before)
                merged["metadata"].pop("managedFields", None)
                for key in ("labels", "annotations"):
                    values = dict(merged["metadata"].get(key) or {})
                    values.update((wanted["metadata"].get(key) or {}))
                    if values:
                        merged["metadata"][key] = values
                merged["type"] = wanted.get("type") or merged.get("type") or "Opaque"
                merged["data"] = wanted.get("data") or {}
                self.action, self.after = "update", merged
            else:
                self.after = self.before
            return
        if self.before is None or not _ours(self.before):
            return
        users = [name for name, link in backend.list(LINK, reconciler.namespace).items()
                 if name not in self.link_names and (link.get("spec") or {}).get("tlsCredentials") == self.name]
        if not users:
            self.action = "delete"

    def apply(self, reconciler):
        if self.action == "none":
            return
        backend = reconciler.backend
        if reconciler.check_mode and not backend.server_dry_run:
            return
        dry_run = reconciler.check_mode
        if self.action == "delete":
            backend.delete(SECRET, reconciler.namespace, self.name, dry_run=dry_run)
        elif self.action == "create":
            self.after = backend.create(SECRET, reconciler.namespace, self.after, dry_run=dry_run)
        else:
            self.after = backend.replace(SECRET, reconciler.namespace, self.after, dry_run=dry_run)

    def report(self, reconciler, output):
        """Name and action only: a Secret's data never leaves the module."""
        if self.name is None:
            return
        output["secret"] = {"name": self.name, "action": self.action}
        path = reconciler.backend.location(SECRET, reconciler.namespace, self.name)
        if path:
            output["secret"]["path"] = path
        if self.action != "none":
            output["changed"] = True
        if reconciler.diff_mode and self.action != "none":
            header = "Secret %s/%s" % (reconciler.namespace, self.name)
            before = engine.view(self.before, SECRET)
            after = {} if self.action == "delete" else engine.view(self.after, SECRET)
            secret_diff = {"before": before, "after": after, "before_header": header, "after_header": header}
            output["diff"] = [secret_diff, output["diff"]] if output.get("diff") else secret_diff


# -- link definitions ---------------------------------------------------------

def link_module_kwargs(kwargs):
    """The link module's AnsibleModule arguments: the Link's, plus ``definition``; ``name`` may come from it."""
    spec = kwargs["argument_spec"]
    spec["name"]["required"] = False
    # A definition holds the Secret's key material.
    # Not no_log as a whole: Ansible would then mask every word of a definition given as a list
    # ("Link", the endpoint names). Its key material is masked instead (register_definition_secrets).
    spec["definition"] = {"type": "raw", "no_log": False}
    kwargs["mutually_exclusive"] = [("definition", "endpoints"), ("definition", "tls_credentials")]
    return kwargs


def _documents(definition):
    if isinstance(definition, str):
        _require_yaml()
        try:
            return [doc for doc in yaml.safe_load_all(definition) if doc is not None]
        except yaml.YAMLError as exc:
            # The parser's message quotes the text around the problem, which may be key material.
            mark = getattr(exc, "problem_mark", None)
            where = " at line %d" % (mark.line + 1) if mark is not None else ""
            raise SkupperError("definition: it is not valid YAML%s" % where)
    if isinstance(definition, dict):
        return [definition]
    if isinstance(definition, list):
        return list(definition)
    raise SkupperError("definition: give the YAML text, or a list of the Secret and the Link")


def parse_definition(definition):
    """``(link, secret or None)`` of what ``skupper link generate`` prints or a ``runtime/links`` file holds."""
    links, secrets = [], []
    for index, doc in enumerate(_documents(definition)):
        if not isinstance(doc, dict):
            raise SkupperError("definition: document %d is not a Kubernetes-style object" % (index + 1))
        pair = (doc.get("apiVersion"), doc.get("kind"))
        if pair == (SKUPPER_API, "Link"):
            links.append(doc)
        elif pair == ("v1", "Secret"):
            secrets.append(doc)
        else:
            raise SkupperError("definition: document %d is %s %s; a link definition holds one %s Link and its "
                               "v1 Secret" % (index + 1, pair[0], pair[1], SKUPPER_API))
    if len(links) != 1:
        raise SkupperError("definition: it holds %d Links; give exactly one (a token's answer with several "
                           "is redeemed with access_token)" % len(links))
    if len(secrets) > 1:
        raise SkupperError("definition: it holds %d Secrets; a link uses one" % len(secrets))
    link, secret = links[0], (secrets[0] if secrets else None)
    credentials = (link.get("spec") or {}).get("tlsCredentials")
    if secret is not None and ((secret.get("metadata") or {}).get("name") != credentials):
        raise SkupperError("definition: the Link's tlsCredentials (%s) is not the name of the Secret it comes with"
                           % credentials)
    if secret is not None and not isinstance(secret.get("data"), dict):
        raise SkupperError("definition: the Secret has no data (ca.crt, tls.crt, tls.key)")
    return link, secret


def _stored_secret(secret, name, labels):
    """The Secret as this collection stores it: renamed to the link's credentials name, labelled."""
    metadata = {"name": name}
    merged = dict(((secret.get("metadata") or {}).get("labels") or {}))
    merged.update(labels)
    metadata["labels"] = merged
    annotations = (secret.get("metadata") or {}).get("annotations")
    if annotations:
        metadata["annotations"] = dict(annotations)
    stored = {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "data": dict(secret.get("data") or {})}
    if secret.get("type"):
        stored["type"] = secret["type"]
    return stored


def _no_log_secret_values(module, secret):
    """Ansible masks no_log option values; a Secret's data read from a file must be masked as well,
    as stored (base64) and decoded (each line of a PEM key)."""
    for value in ((secret or {}).get("data") or {}).values():
        if not isinstance(value, str) or not value:
            continue
        module.no_log_values.add(value)
        try:
            decoded = base64.b64decode(value).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue
        for line in decoded.splitlines():
            if len(line) >= 16 and "-----" not in line:
                module.no_log_values.add(line)


def register_definition_secrets(module, definition):
    """Mask a definition's key material in everything the module returns (its invocation included):
    the whole text when it is text, and each Secret data value, base64 and decoded."""
    if isinstance(definition, str) and definition:
        module.no_log_values.add(definition)
    try:
        documents = _documents(definition)
    except SkupperError:
        return
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "Secret":
            _no_log_secret_values(module, doc)


def link_params(module):
    """The link module's options as the engine's, and the Secret companion, from a definition or options."""
    register_definition_secrets(module, module.params.get("definition"))
    params = dict(module.params)
    definition = params.pop("definition", None)
    secret = None
    if definition is not None:
        given = [option for option in ("endpoints", "tls_credentials") if params.get(option) is not None]
        if given:
            raise SkupperError("definition: it carries endpoints and tlsCredentials; leave out %s"
                               % " and ".join(given))
        link, secret = parse_definition(definition)
        _no_log_secret_values(module, secret)
        spec = link.get("spec") or {}
        params["name"] = params.get("name") or (link.get("metadata") or {}).get("name")
        params["endpoints"] = spec.get("endpoints")
        if params.get("cost") is None and spec.get("cost") is not None:
            params["cost"] = spec.get("cost")
        if params.get("settings") is None and spec.get("settings"):
            params["settings"] = spec.get("settings")
        # The Secret travels with the Link: stored under the Link's name when the task renames it.
        params["tls_credentials"] = params["name"] if secret is not None else spec.get("tlsCredentials")
    if not params.get("name"):
        raise SkupperError("name: required (or give definition, whose Link has a name)")
    if definition is None and params.get("state") == "present" and params.get("tls_credentials") is None:
        raise SkupperError("tls_credentials: required with endpoints: the Secret with the client certificate "
                           "(or give definition, which carries both)")
    return params, secret


def run_link_module(module):
    backend = None
    try:
        params, secret = link_params(module)
        companions = []
        if params["state"] == "present" and secret is not None:
            labels = dict(params.get("labels") or {})
            labels.setdefault(MANAGED_BY_LABEL, MANAGED_BY_VALUE)
            companions.append(SecretCompanion(params["tls_credentials"], _stored_secret(
                secret, params["tls_credentials"], labels)))
        if params["state"] == "absent":
            companions.append(SecretCompanion(state="absent", link_names=[params["name"]]))
        reconciler = engine.Reconciler(LINK, params, check_mode=module.check_mode, diff_mode=module._diff,
                                       companions=companions, raw=engine.raw_parameters(module))
        backend = reconciler.backend
        result = reconciler.run()
    except SkupperError as exc:
        engine.report_warnings(module, backend)
        fail(module, exc)
    _warn_roleless(backend, result)
    engine.report_warnings(module, backend)
    module.exit_json(**result)


def _warn_roleless(backend, result):
    """internal/site/link.go Apply: a link with no inter-router or edge endpoint is never configured."""
    spec = (result.get("resource") or {}).get("spec") or {}
    names = set(endpoint.get("name") for endpoint in spec.get("endpoints") or [])
    if spec and not names & set(("inter-router", "edge")):
        backend.warn("Link %s has no endpoint named inter-router or edge, so Skupper's router never uses it"
                     % result.get("name"))


# -- access tokens ---------------------------------------------------------------

def access_token_module_kwargs():
    spec = engine.connection_argument_spec()
    spec.update({
        "name": {"type": "str"},
        # Not no_log as a whole (every word of a token object would be masked, its name too):
        # its code is masked instead (register_token_secrets), like the code option.
        "token": {"type": "raw", "no_log": False},
        "url": {"type": "str"},
        "code": {"type": "str", "no_log": True},
        # A CA certificate is public; the option name only sounds secret.
        "ca": {"type": "str", "no_log": False},
        "link_cost": {"type": "int"},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "labels": {"type": "dict"},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 60},
        "timeout": {"type": "float", "default": redemption.DEFAULT_TIMEOUT},
    })
    return {"argument_spec": spec, "supports_check_mode": True,
            "mutually_exclusive": [("token", "url"), ("token", "code"), ("token", "ca")],
            "required_together": [("url", "code", "ca")]}


LINK_NAME_SUFFIX = re.compile(r"-[0-9]+")


def yielded_links(listed, name):
    """Of the namespace's Links (one LIST), those a redemption named ``name`` yields: ``name`` and
    ``name-1`` .. ``name-N`` (internal/kube/grants/tokens.go), in that order."""
    found = [link for link in listed if link == name or (
        link.startswith(name) and LINK_NAME_SUFFIX.fullmatch(link[len(name):]))]
    return sorted(found, key=lambda link: (len(link), link))


def register_token_secrets(module, token):
    """Mask a token's code in everything the module returns, before the token is even checked:
    the whole text of a token given as text, the code of one given as an object."""
    if isinstance(token, str) and token:
        module.no_log_values.add(token)
        _require_yaml()
        try:
            token = yaml.safe_load(token)
        except yaml.YAMLError:
            return
    spec = token.get("spec") if isinstance(token, dict) else None
    code = spec.get("code") if isinstance(spec, dict) else None
    if isinstance(code, str) and code:
        module.no_log_values.add(code)


def _token_params(module):
    """The token, checked (redemption.parse_token), with the code registered as a no_log value."""
    params = module.params
    register_token_secrets(module, params.get("token"))
    if params.get("token") is None and not any(params.get(o) for o in ("url", "code", "ca")) \
            and params["state"] == "present":
        raise SkupperError("token: give the token (from access_grant, or skupper token issue), or url, code and ca")
    if params["state"] == "absent":
        if not params.get("name"):
            raise SkupperError("name: required with state absent")
        return None, params["name"]
    token = redemption.parse_token(token=params.get("token"), name=params.get("name"), url=params.get("url"),
                                   code=params.get("code"), ca=params.get("ca"), link_cost=params.get("link_cost"))
    module.no_log_values.add(token["code"])
    return token, token["name"]


def run_access_token_module(module):
    backend = None
    try:
        token, name = _token_params(module)
        cls = engine.backend_class(module.params["platform"])
        errors = []
        if cls.name_error(name):
            errors.append("name: %s" % cls.name_error(name))
        if module.params.get("namespace") is not None and validation.namespace(module.params["namespace"]):
            errors.append("namespace: %s" % validation.namespace(module.params["namespace"]))
        if errors:
            raise SkupperError("invalid input, nothing was written: " + "; ".join(errors), errors=errors)
        backend = engine.build_backend(module.params)
        redeemer = TokenRedeemer(module, backend, name, token)
        result = redeemer.run()
    except SkupperError as exc:
        engine.report_warnings(module, backend)
        fail(module, exc)
    engine.report_warnings(module, backend)
    module.exit_json(**result)


class TokenRedeemer:
    """An access token, turned into Links on the joining site.

    Kubernetes: the AccessToken resource, which Skupper's controller redeems
    (``internal/kube/grants/redeem.go``). A system site: this module redeems it
    (``redemption.redeem``, Skupper's protocol) and writes the Secret and the
    Link(s) it gets into input/resources, never the AccessToken: one left there
    would be redeemed again at every start (skupper#2112). Either way, a token
    whose Link exists already is not redeemed again.
    """

    def __init__(self, module, backend, name, token):
        self.module = module
        self.params = module.params
        self.backend = backend
        self.name = name
        self.token = token
        self.namespace = self.params.get("namespace") or backend.default_namespace
        labels = dict(self.params.get("labels") or {})
        labels.setdefault(MANAGED_BY_LABEL, MANAGED_BY_VALUE)
        self.labels = labels

    def run(self):
        if self.params["state"] == "absent":
            return self._remove()
        with self.backend.locked(self.namespace):
            # One LIST tells whether the token's Link exists (then nothing is sent) and what it yielded.
            links = self.backend.list(LINK, self.namespace)
            if self.name in links:
                return self._result("none", yielded_links(links, self.name))
            if self.backend.token_redeemer == "controller":
                return self._through_controller()
            return self._redeem_here(links)

    # Kubernetes -----------------------------------------------------------
    def _through_controller(self):
        token = self.token
        params = {"name": self.name, "namespace": self.namespace, "platform": self.params["platform"],
                  "state": "present", "labels": self.params.get("labels"), "annotations": None,
                  "url": token["url"], "code": token["code"], "ca": token["ca"],
                  "link_cost": token.get("link_cost") or None, "settings": None,
                  "wait": False, "wait_for": "redeemed", "wait_timeout": self.params["wait_timeout"]}
        reconciler = engine.Reconciler(ACCESS_TOKEN, params, check_mode=self.module.check_mode,
                                       diff_mode=self.module._diff, backend=self.backend,
                                       raw=engine.raw_parameters(self.module))
        result = reconciler.run()
        if self.params["wait"] and not self.module.check_mode:
            label = "AccessToken %s/%s" % (self.namespace, self.name)
            try:
                stored = waiting.wait_until(lambda: self.backend.get(ACCESS_TOKEN, self.namespace, self.name),
                                            "redeemed", label, self.params["wait_timeout"])
            except SkupperError as exc:
                if result["action"] == "create" and waiting.is_error(exc.details.get("resource")):
                    # Refused (expired, used up, wrong code): the token this task wrote is taken away
                    # again, so a failed redemption leaves nothing behind.
                    self.backend.delete(ACCESS_TOKEN, self.namespace, self.name)
                    raise SkupperError("%s; the AccessToken was removed again, nothing is left of it" % exc.msg)
                raise
            result["resource"] = engine.hidden(ACCESS_TOKEN, stored)
            result["links"] = yielded_links(self.backend.list(LINK, self.namespace), self.name)
            if result["action"] != "none":
                self._label_yielded(result["links"])
        else:
            result["links"] = [self.name] if self.module.check_mode else []
        return result

    def _label_yielded(self, link_names):
        """Skupper's controller writes the Links and Secret of a redemption without labels (redeem.go:
        owned by the Site). They get ours once, so that link_info's label selector and an exclusive
        rollout find what this collection linked; nothing else of them is changed."""
        for kind, name in [(LINK, n) for n in link_names] + [(SECRET, self.name)]:
            for _attempt in range(engine.CONFLICT_RETRIES):
                obj = self.backend.get(kind, self.namespace, name)
                if obj is None or all(((obj.get("metadata") or {}).get("labels") or {}).get(k) == v
                                      for k, v in self.labels.items()):
                    break
                obj["metadata"]["labels"] = dict(obj["metadata"].get("labels") or {}, **self.labels)
                obj["metadata"].pop("managedFields", None)
                try:
                    self.backend.replace(kind, self.namespace, obj)
                    break
                except ConflictError:
                    continue  # the controller wrote it meanwhile: read it again

    # System sites ---------------------------------------------------------
    def _refusals(self, links):
        """What a redemption must not overwrite: a Secret or Link of that name this collection did not write."""
        secret = self.backend.get(SECRET, self.namespace, self.name)
        if secret is not None and not _ours(secret):
            raise SkupperError("Secret %s already exists in namespace %s and was not written by this collection; "
                               "nothing was redeemed. Remove it, or choose another name for the token"
                               % (self.name, self.namespace))
        for link_name in yielded_links(links, self.name):
            if not _ours(links[link_name]):
                raise SkupperError("Link %s already exists in namespace %s and was not written by this "
                                   "collection; nothing was redeemed" % (link_name, self.namespace))
        return secret

    def _redeem_here(self, links):
        existing_secret = self._refusals(links)
        if self.module.check_mode:
            return self._result("redeem", [self.name], predicted=True)
        self.backend.check_writable(self.namespace)
        # token_redeem.go (nonkube): the namespace is the subject, so a site not yet started can redeem.
        answer = redemption.redeem(self.token, self.namespace, timeout=self.params["timeout"])
        _no_log_secret_values(self.module, answer["secret"])
        secret = _stored_secret(answer["secret"], answer["secret"]["metadata"]["name"], self.labels)
        secret["metadata"]["namespace"] = self.namespace
        if existing_secret is None:
            self.backend.create(SECRET, self.namespace, secret)
        else:
            secret["metadata"] = dict(existing_secret["metadata"], labels=secret["metadata"]["labels"])
            self.backend.replace(SECRET, self.namespace, secret)
        names = []
        for link in answer["links"]:
            stored = copy.deepcopy(link)
            metadata = stored.setdefault("metadata", {})
            metadata["namespace"] = self.namespace
            metadata["labels"] = dict(metadata.get("labels") or {}, **self.labels)
            for key in ("ownerReferences", "uid", "resourceVersion", "creationTimestamp"):
                metadata.pop(key, None)
            stored.pop("status", None)
            if metadata["name"] not in links:
                self.backend.create(LINK, self.namespace, stored)
            else:
                self.backend.replace(LINK, self.namespace, stored)
            names.append(metadata["name"])
        return self._result("redeem", names)

    # both ------------------------------------------------------------------
    def _remove(self):
        removed = []
        with self.backend.locked(self.namespace):
            # AccessToken resources exist only where a controller redeems them (never written elsewhere).
            token = self.backend.get(ACCESS_TOKEN, self.namespace, self.name) \
                if self.backend.token_redeemer == "controller" else None
            # Skupper's controller writes the Link(s) and Secret of a redemption without our label
            # (redeem.go: owned by the Site); they are ours when our AccessToken yielded them.
            yielded_by_us = token is not None and _ours(token)
            links = self.backend.list(LINK, self.namespace)
            credentials = set()
            for link_name in yielded_links(links, self.name):
                link = links[link_name]
                if not (_ours(link) or yielded_by_us or link_name == self.name):
                    continue
                credentials.add((link.get("spec") or {}).get("tlsCredentials"))
                removed.append(("Link", link_name))
            if token is not None:
                removed.append(("AccessToken", self.name))
            removed_links = set(name for kind, name in removed if kind == "Link")
            for secret_name in sorted(c for c in credentials if c):
                secret = self.backend.get(SECRET, self.namespace, secret_name)
                others = [n for n, link in links.items()
                          if n not in removed_links and (link.get("spec") or {}).get("tlsCredentials") == secret_name]
                if secret is not None and (_ours(secret) or yielded_by_us and secret_name == self.name) \
                        and not others:
                    removed.append(("Secret", secret_name))
            if removed:
                self.backend.check_writable(self.namespace)
            if not self.module.check_mode or self.backend.server_dry_run:
                kinds = {"Link": LINK, "AccessToken": ACCESS_TOKEN, "Secret": SECRET}
                for kind_name, object_name in removed:
                    self.backend.delete(kinds[kind_name], self.namespace, object_name,
                                        dry_run=self.module.check_mode)
        result = self._result("delete" if removed else "none", [n for k, n in removed if k == "Link"])
        result["removed"] = ["%s %s" % pair for pair in removed]
        return result

    def _result(self, action, links, predicted=False):
        result = {"changed": action != "none", "action": action, "name": self.name, "namespace": self.namespace,
                  "links": links}
        # Files exist where the back end stores resources as files (location is None elsewhere).
        paths = [self.backend.location(LINK, self.namespace, n) for n in links] if not predicted else []
        if links and all(paths):
            result["paths"] = paths
            result["secret"] = {"name": self.name,
                                "path": self.backend.location(SECRET, self.namespace, self.name)}
        if self.module._diff and action != "none":
            header = "links of token %s/%s" % (self.namespace, self.name)
            before = {"links": links} if action == "delete" else {"links": []}
            after = {"links": []} if action == "delete" else {"links": links}
            result["diff"] = {"before": before, "after": after, "before_header": header, "after_header": header}
        return result


# -- access grants -----------------------------------------------------------------

def grant_token(grant):
    """The AccessToken ``skupper token issue`` writes for a grant, from the grant's status."""
    status = (grant or {}).get("status") or {}
    if not waiting.is_issued(grant):
        return None
    return {"apiVersion": SKUPPER_API, "kind": "AccessToken",
            "metadata": {"name": grant["metadata"]["name"]},
            "spec": {"url": status["url"], "code": status["code"], "ca": status["ca"]}}


def access_grant_module_kwargs():
    kwargs = engine.resource_module_kwargs(ACCESS_GRANT)
    spec = kwargs["argument_spec"]
    spec.pop("wait_for")
    spec["wait"]["default"] = True
    return kwargs


def run_access_grant_module(module):
    backend = None
    try:
        params = dict(module.params)
        params["wait_for"], params["wait"] = "issued", False  # waited for below, for the token
        reconciler = engine.Reconciler(ACCESS_GRANT, params, check_mode=module.check_mode, diff_mode=module._diff,
                                       raw=engine.raw_parameters(module))
        backend = reconciler.backend
        result = reconciler.run()
        if params["state"] == "present" and not module.check_mode:
            # What the engine read (unchanged) or wrote: an unchanged issued grant costs no second GET.
            stored = reconciler.stored(params["name"])
            if module.params["wait"] and not waiting.is_issued(stored):
                label = "AccessGrant %s/%s" % (reconciler.namespace, params["name"])
                stored = waiting.wait_until(lambda: backend.get(ACCESS_GRANT, reconciler.namespace, params["name"]),
                                            "issued", label, params["wait_timeout"])
            token = grant_token(stored)
            if token is not None:
                module.no_log_values.discard(token["spec"]["code"])
                result["token"] = token
            result["resource"] = engine.hidden(ACCESS_GRANT, stored)
    except SkupperError as exc:
        engine.report_warnings(module, backend)
        fail(module, exc)
    engine.report_warnings(module, backend)
    module.exit_json(**result)
