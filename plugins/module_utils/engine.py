# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile engine every resource module runs.

Order of work, the same for every kind and both back ends:
1. validate every item (pure, no I/O, no client import);
2. build the back end and read what exists (one GET, or one LIST in bulk);
3. plan: compare desired with existing (``comparison``: Skupper's omitempty
   and defaults), check rules that need the existing state (immutable fields
   against what Skupper checks them with, host/port clashes as the platform
   refuses them, one Site per namespace);
4. write only what differs (server dry run, or nothing, in check mode);
   fields the kind does not model are kept and named in a warning;
5. wait, if asked: until the predicate holds, or at once on an Error status.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.validation import (
    check_type_bool, check_type_dict, check_type_int, check_type_list, check_type_raw)

from ansible_collections.skupperlabs.network.plugins.module_utils import comparison, validation, waiting
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import ConflictError, SkupperError, fail
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import (
    KINDS, MANAGED_BY_LABEL, MANAGED_BY_VALUE)

PLATFORMS = ["kubernetes", "podman", "docker", "linux"]
HIDDEN = "(hidden)"
CONFLICT_RETRIES = 5
CONFLICT_BACKOFF_SECONDS = 0.2


# -- argument specs ---------------------------------------------------------

def connection_argument_spec():
    """Where the resources live: shared by resource and info modules."""
    return {
        "namespace": {"type": "str"},
        "platform": {"type": "str", "default": "kubernetes", "choices": PLATFORMS,
                     "fallback": (env_fallback, ["SKUPPER_PLATFORM"])},
        "kubeconfig": {"type": "path", "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"])},
        "context": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
        "data_home": {"type": "path"},
    }


def item_options(kind):
    """What one item of the list form takes (documented as the list option's suboptions)."""
    options = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"]},
        "labels": {"type": "dict"},
        "annotations": {"type": "dict"},
    }
    for field in kind.fields:
        options[field.option] = field.argument_spec()
    return options


def resource_module_kwargs(kind):
    """AnsibleModule keyword arguments for the resource module of ``kind``."""
    spec = connection_argument_spec()
    spec.update({
        "name": {"type": "str"},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "labels": {"type": "dict"},
        "annotations": {"type": "dict"},
        "wait": {"type": "bool", "default": False},
        "wait_for": {"type": "str", "default": "ready", "choices": list(waiting.RESOURCE_PREDICATES)},
        "wait_timeout": {"type": "int", "default": 60},
    })
    for field in kind.fields:
        spec[field.option] = field.argument_spec()
    spec.update(copy.deepcopy(kind.extra_options))
    kwargs = {"argument_spec": spec, "supports_check_mode": True}
    if kind.bulk_option is None:
        spec["name"]["required"] = True
        return kwargs
    # No ``options``: Ansible's sub-spec checks name neither the item nor the option of a bad value,
    # and crash on some (a dict option given as a list). validate_items checks each item with
    # Ansible's own type checkers instead, and names ``listeners[3].port``.
    # elements raw: an item that is no mapping (listeners: ["x"]) is reported by validate_items
    # with its index, where Ansible would name only the option.
    spec[kind.bulk_option] = {"type": "list", "elements": "raw", "no_log": False}
    spec["exclusive"] = {"type": "bool", "default": False}
    kwargs["mutually_exclusive"] = [("name", kind.bulk_option)] + [(kind.bulk_option, f.option) for f in kind.fields]
    kwargs["required_one_of"] = [("name", kind.bulk_option)]
    return kwargs


def backend_class(platform):
    """The back end class; importing it never imports a client library."""
    if platform == "kubernetes":
        from ansible_collections.skupperlabs.network.plugins.module_utils.kubernetes_api import KubernetesBackend
        return KubernetesBackend
    from ansible_collections.skupperlabs.network.plugins.module_utils.system_site import SystemSiteBackend
    return SystemSiteBackend


def build_backend(params):
    cls = backend_class(params["platform"])
    if params["platform"] == "kubernetes":
        return cls(kubeconfig=params.get("kubeconfig"), context=params.get("context"))
    return cls(data_home=params.get("data_home"))


# -- desired state ------------------------------------------------------------

class Item:
    """One resource the task asks for, validated and in API form."""

    def __init__(self, where, name, state, labels, annotations, spec):
        self.where = where
        self.name = name
        self.state = state
        self.labels = labels
        self.annotations = annotations
        self.spec = spec


def _metadata_map(value, option, errors, where):
    """Labels or annotations as the Kubernetes API validates them (on both back ends)."""
    if value is None:
        return {}
    check = validation.labels if option == "labels" else validation.annotations
    error, converted = check(value)
    if error:
        errors.append("%s%s: %s" % (where, option, error))
        return {}
    return converted


# Ansible's own type checkers, applied to each list item as AnsibleModule applies them to options.
TYPE_CHECKERS = {
    "dict": check_type_dict,
    "list": check_type_list,
    "bool": check_type_bool,
    "int": check_type_int,
    "raw": check_type_raw,
}


def _checked_value(value, option_spec):
    """``(error, value)``: ``value`` converted to the option's type, or why it cannot be."""
    option_type = option_spec.get("type", "str")
    if option_type == "str":
        # Ansible would turn a list or a mapping into its text ("['a']"); only scalars are taken.
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return "%r is not a string" % (value,), None
        converted = value if isinstance(value, str) else str(value)
    else:
        try:
            converted = TYPE_CHECKERS[option_type](value)
        except (TypeError, ValueError) as exc:
            return "%r is not of type %s: %s" % (value, option_type, exc), None
    if option_type == "list" and option_spec.get("elements") in TYPE_CHECKERS:
        try:
            converted = [TYPE_CHECKERS[option_spec["elements"]](element) for element in converted]
        except (TypeError, ValueError) as exc:
            return "an element is not of type %s: %s" % (option_spec["elements"], exc), None
    choices = option_spec.get("choices")
    if choices and converted not in choices:
        return "%r is not one of %s" % (converted, ", ".join(choices)), None
    return None, converted


def checked_items(kind, items):
    """Each list item type-checked against item_options(kind), before anything else looks at it.

    Returns ``(errors, items)``; every error names the item's index and the option
    (``listeners[3].port: ...``), unknown options included.
    """
    options = item_options(kind)
    errors, converted_items = [], []
    for index, item in enumerate(items):
        where = "%s[%d]" % (kind.bulk_option, index)
        if not isinstance(item, dict):
            try:
                # As Ansible takes a dict element: JSON or "key=value" text becomes a mapping.
                item = check_type_dict(item)
            except (TypeError, ValueError):
                errors.append("%s: %r is not a mapping of options (name, ...)" % (where, item))
                converted_items.append({})
                continue
        converted = {}
        unknown = sorted(str(key) for key in item if key not in options)
        for key in unknown:
            errors.append("%s.%s: unknown option; an item takes %s" % (where, key, ", ".join(sorted(options))))
        for option, option_spec in options.items():
            value = item.get(option)
            if value is None:
                if option_spec.get("required"):
                    errors.append("%s.%s: required" % (where, option))
                continue
            error, value = _checked_value(value, option_spec)
            if error:
                errors.append("%s.%s: %s" % (where, option, error))
            else:
                converted[option] = value
        converted_items.append(converted)
    return errors, converted_items


def raw_parameters(module=None):
    """The module's arguments as the controller sent them, before Ansible's type conversion; None
    outside a module run. (Ansible documents basic._load_params for modules that need them.) On the
    fast path the controller's module object holds them (``raw_params``)."""
    if getattr(module, "raw_params", None) is not None:
        return module.raw_params
    try:
        from ansible.module_utils import basic
        if getattr(basic, "_ANSIBLE_ARGS", None) is None:
            return None
        return basic._load_params()
    except Exception:  # pylint: disable=broad-except
        return None


def connection_errors(params, raw=None):
    """Errors in where the resources live: shared by resource and info modules."""
    errors = []
    if params.get("namespace") is not None:
        error = validation.namespace(params["namespace"])
        if error:
            errors.append("namespace: %s" % error)
    # data_home is documented as a path, and Ansible's path type would turn ["dh"] into "['dh']":
    # the value as given must be a string.
    data_home = (raw or {}).get("data_home", params.get("data_home"))
    if data_home is not None:
        error = validation.path_string(data_home)
        if error:
            errors.append("data_home: %s" % error)
    return errors


def validate_items(kind, params, rules, raw=None):
    """Turn the task's options into Items, or raise one error naming every bad option.

    ``raw``: the arguments before Ansible's conversion (raw_parameters()), where a type matters.
    """
    errors = []
    if kind.platforms and rules.name not in kind.platforms:
        raise SkupperError("platform: %s exists on %s only; %s" % (
            kind.kind, " and ".join(kind.platforms), kind.platform_advice))
    errors.extend(connection_errors(params, raw))
    if "wait_timeout" in params and params["wait_timeout"] is not None:
        error = validation.positive_int(params["wait_timeout"])
        if error:
            errors.append("wait_timeout: %s (seconds)" % error)
    bulk = params.get(kind.bulk_option) if kind.bulk_option else None
    if params.get("exclusive") and bulk is None:
        errors.append("exclusive: it applies to the %s list only" % kind.bulk_option)
    if bulk is None:
        raw_items = [("", dict(params))]
    else:
        if not isinstance(bulk, list):
            raise SkupperError("invalid input, nothing was written: %s: must be a list" % kind.bulk_option)
        item_errors, bulk = checked_items(kind, bulk)
        if item_errors:
            # A type error makes the item's other checks meaningless: report these first, alone.
            errors.extend(item_errors)
            raise SkupperError("invalid input, nothing was written: " + "; ".join(errors), errors=errors)
        raw_items = [("%s[%d]." % (kind.bulk_option, index), dict(item)) for index, item in enumerate(bulk)]
    common_labels = _metadata_map(params.get("labels"), "labels", errors, "")
    common_annotations = _metadata_map(params.get("annotations"), "annotations", errors, "")
    items, seen = [], {}
    for where, raw in raw_items:
        state = raw.get("state") or params["state"]
        name = raw.get("name")
        error = rules.name_error(name)
        if error:
            errors.append("%sname: %s" % (where, error))
        elif name in seen:
            errors.append("%sname: '%s' is listed twice (first at %s)" % (where, name, seen[name] or "top"))
        seen.setdefault(name, where.rstrip("."))
        labels = dict(common_labels)
        labels.update(_metadata_map(raw.get("labels") if bulk is not None else None, "labels", errors, where))
        labels.setdefault(MANAGED_BY_LABEL, MANAGED_BY_VALUE)
        annotations = dict(common_annotations)
        annotations.update(_metadata_map(raw.get("annotations") if bulk is not None else None,
                                         "annotations", errors, where))
        spec = {}
        if state == "present":
            item_errors = []
            for field in kind.fields:
                value = raw.get(field.option)
                if value is None:
                    if field.required:
                        item_errors.append("%s%s: required with state present" % (where, field.option))
                    continue
                error, api_value = field.to_api(value, rules)
                if error:
                    item_errors.append("%s%s: %s" % (where, field.option, error))
                else:
                    spec[field.key] = api_value
            if kind.cross_check and not item_errors:
                item_errors.extend(where + error for error in kind.cross_check(spec, rules))
            errors.extend(item_errors)
        items.append(Item(where, name, state, labels, annotations, spec))
    if errors:
        raise SkupperError("invalid input, nothing was written: " + "; ".join(errors), errors=errors)
    return items


# -- comparison -------------------------------------------------------------

def _contains(existing, wanted):
    return all(existing.get(key) == value for key, value in wanted.items())


def differs(kind, existing, item):
    """Whether writing the item would change the stored object (unmodeled fields are kept, so never differ)."""
    metadata = existing.get("metadata") or {}
    wanted = comparison.merged_spec(kind, existing.get("spec"), item.spec)
    return (not comparison.same_spec(kind, existing.get("spec"), wanted)
            or not _contains(metadata.get("labels") or {}, item.labels)
            or not _contains(metadata.get("annotations") or {}, item.annotations))


def desired_object(kind, namespace, item, existing):
    """The object to write: existing metadata kept, given labels/annotations set, every modeled spec
    field as the task asks, fields the kind does not model kept as they are."""
    if existing:
        obj = copy.deepcopy(existing)
        obj.pop("status", None)
        obj["metadata"].pop("managedFields", None)
    else:
        obj = {"apiVersion": kind.api_version, "kind": kind.kind,
               "metadata": {"name": item.name, "namespace": namespace}}
    metadata = obj["metadata"]
    for key, wanted in (("labels", item.labels), ("annotations", item.annotations)):
        merged = dict(metadata.get(key) or {})
        merged.update(wanted)
        if merged:
            metadata[key] = merged
    obj["spec"] = copy.deepcopy(comparison.merged_spec(kind, (existing or {}).get("spec"), item.spec))
    return obj


def hidden(kind, obj):
    """``obj`` without its credentials (a token's code, a Secret's data): each value reads ``(hidden)``."""
    if not obj or not kind.hidden:
        return obj
    obj = copy.deepcopy(obj)
    for section, keys in kind.hidden.items():
        values = obj.get(section)
        if not isinstance(values, dict):
            continue
        for key in (keys if keys is not None else list(values)):
            if key in values:
                values[key] = HIDDEN
    return obj


def view(obj, kind=None):
    """What diff mode shows: identity, labels, annotations and spec (a Secret's type and data keys);
    no server bookkeeping, no credentials."""
    if not obj:
        return {}
    metadata = obj.get("metadata") or {}
    shown = {"name": metadata.get("name"), "namespace": metadata.get("namespace")}
    for key in ("labels", "annotations"):
        if metadata.get(key):
            shown[key] = metadata[key]
    result = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": shown}
    if kind is not None and kind.core:
        for key in ("type", "data"):
            if key in obj:
                result[key] = obj[key]
    else:
        result["spec"] = obj.get("spec") or {}
    return hidden(kind, result) if kind is not None else result


# -- the engine -------------------------------------------------------------

class Reconciler:
    """Plans and applies one task's items against one back end."""

    def __init__(self, kind, params, check_mode=False, diff_mode=False, backend=None, companions=(), raw=None):
        self.kind = kind
        # Objects written with the items, before them, under the same lock (a Link's Secret):
        # each has plan(reconciler, existing), apply(reconciler) and result(reconciler).
        self.companions = list(companions)
        self.params = params
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.items = validate_items(kind, params, backend or backend_class(params["platform"]),
                                    raw=raw_parameters() if raw is None else raw)
        self.backend = backend or build_backend(params)
        self.namespace = params.get("namespace") or self.backend.default_namespace
        self.bulk = bool(kind.bulk_option) and params.get(kind.bulk_option) is not None

    def run(self):
        with self.backend.locked(self.namespace):
            existing = self._read_existing()
            plans = [self._plan(item, existing.get(item.name)) for item in self.items]
            self.plans = plans
            prunes = self._plan_prunes(existing) if self.params.get("exclusive") else []
            for companion in self.companions:
                companion.plan(self, existing)
            self._check_rules(plans + prunes)
            if any(plan["action"] != "none" for plan in plans + prunes) or any(
                    companion.action != "none" for companion in self.companions):
                self.backend.check_writable(self.namespace)
            present = [c for c in self.companions if c.state == "present"]
            try:
                for companion in present:
                    companion.apply(self)
                    self._companions_written = self._companions_written or companion.action != "none"
            except OSError as exc:
                raise SkupperError(os_error_message(exc))
            self._apply_all(plans, prunes)
            # What goes away goes after what used it (a Secret after its Link).
            try:
                for companion in self.companions:
                    if companion.state != "present":
                        companion.apply(self)
            except OSError as exc:
                raise SkupperError(os_error_message(exc))
        if self.params.get("wait") and not self.check_mode:
            for plan in plans:
                if plan["item"].state == "present":
                    try:
                        self._wait(plan)
                    except SkupperError as exc:
                        raise self._wait_failure(plans, prunes, plan, exc)
        return self._results(plans, prunes)

    def stored(self, name):
        """After run(): the object named ``name`` as the engine last saw it, status included: as read
        when nothing changed, as the server returned it when written (None when absent)."""
        for plan in getattr(self, "plans", ()):
            if plan["item"].name == name:
                return plan["before"] if plan["action"] == "none" else plan["after"]
        return None

    # partial failure: what was applied and what was not
    _companions_written = False

    def _apply_all(self, plans, prunes):
        """Write every plan in order; when one fails, fail naming what was applied and what was not."""
        for plan in plans + prunes:
            try:
                self._apply(plan)
            except SkupperError as exc:
                raise self._partial_failure(plans, prunes, plan, exc.msg, exc)
            except OSError as exc:
                # The back ends turn OS errors into SkupperError; this is the last guard, so a full
                # disk or a refused permission never ends in a traceback.
                raise self._partial_failure(plans, prunes, plan, os_error_message(exc), None)
            plan["outcome"] = "applied"

    def _partial_failure(self, plans, prunes, failed, reason, original):
        writes = [plan for plan in plans + prunes if plan["action"] != "none" or plan is failed]
        applied = [plan for plan in writes if plan.get("outcome") == "applied" and plan["action"] != "none"]
        position = [index for index, plan in enumerate(writes) if plan is failed][0]
        not_attempted = writes[position + 1:]
        failed["outcome"] = "failed"
        failed["failure"] = reason
        for plan in not_attempted:
            plan["outcome"] = "not attempted"
        changed = bool(applied) or self._companions_written
        if not self.bulk:
            error = original if original is not None else SkupperError(reason)
            error.details["changed"] = changed
            return error
        details = dict(original.details) if original is not None else {}

        def named(plan):
            return "%s (%s%s)" % (plan["item"].name, plan["action"],
                                  ", pruned" if any(plan is prune for prune in prunes) else "")
        parts = ["%s: %d of %d changes applied%s" % (
            self.kind.bulk_option, len(applied), len(writes),
            (": " + ", ".join(named(plan) for plan in applied)) if applied else "")]
        parts.append("failed at %s: %s" % (named(failed), reason))
        if not_attempted:
            parts.append("not attempted: %s" % ", ".join(named(plan) for plan in not_attempted))
        output = self._results(plans, prunes)
        details.update({"changed": changed, "results": output["results"], "pruned": output["pruned"]})
        if "diff" in output:
            details["diff"] = output["diff"]
        return SkupperError("; ".join(parts), **details)

    def _wait_failure(self, plans, prunes, failed, exc):
        """Everything was written; waiting for one item failed."""
        changed = any(plan["action"] != "none" for plan in plans + prunes) or self._companions_written
        if not self.bulk:
            exc.details["changed"] = changed
            return exc
        details = dict(exc.details)
        details["changed"] = changed
        failed["outcome"] = "wait failed"
        failed["failure"] = exc.msg
        output = self._results(plans, prunes)
        details.update({"results": output["results"], "pruned": output["pruned"]})
        return SkupperError("%s: every change was applied; waiting for %s failed: %s"
                            % (self.kind.bulk_option, failed["item"].name, exc.msg), **details)

    # reading and planning
    def _read_existing(self):
        """One GET for one resource; one LIST for the list form, or for a kind that is one per namespace."""
        self._listed = None
        if self.bulk or self.kind.one_per_namespace:
            self._listed = self.backend.list(self.kind, self.namespace)
            if self.bulk:
                return self._listed
        name = self.items[0].name
        if self._listed is not None:
            found = self._listed.get(name)
        else:
            found = self.backend.get(self.kind, self.namespace, name)
        return {name: found} if found else {}

    def _plan(self, item, existing):
        plan = {"item": item, "before": existing, "after": None, "action": "none", "error": None}
        if item.state == "absent":
            if existing:
                plan["action"] = "delete"
            return plan
        if not existing:
            plan["action"] = "create"
        elif differs(self.kind, existing, item):
            plan["action"] = "update"
        if self.kind.immutable_change and plan["action"] != "none":
            existing = self._plan_immutable(plan, item, existing)
        plan["after"] = desired_object(self.kind, self.namespace, item, existing)
        unmodeled = comparison.unmodeled_keys(self.kind, (existing or {}).get("spec"))
        if unmodeled and plan["action"] != "none":
            self.backend.warn("%s %s/%s: kept spec field%s this module does not manage: %s"
                              % (self.kind.kind, self.namespace, item.name, "s" if len(unmodeled) > 1 else "",
                                 ", ".join(unmodeled)))
        return plan

    def _plan_immutable(self, plan, item, existing):
        """Check immutable fields against what the platform checks them with; returns the base to write on.

        Kubernetes checks the stored object (CRD rule), and ``recreate`` deletes and creates it.
        A system site checks the RUNNING state at reload (site_state_validator.go), so deleting and
        writing the file again does not help: that takes a reload in between, which is the user's
        (or the network role's) to run.
        """
        if self.backend.immutable_base == "running":
            running = self.backend.running(self.kind, self.namespace, item.name)
            change = running and self.kind.immutable_change(running.get("spec"), item.spec, against="running")
            if change:
                plan["error"] = "%s%s" % (item.where, change)
            return existing
        if plan["action"] != "update":
            return existing
        change = self.kind.immutable_change(existing.get("spec"), item.spec)
        if not change:
            return existing
        if self.params.get("recreate"):
            plan["action"] = "recreate"
            return None
        plan["error"] = "%s%s" % (item.where, change)
        return existing

    def _plan_prunes(self, existing):
        wanted = set(item.name for item in self.items)
        prunes = []
        for name in sorted(existing):
            labels = (existing[name].get("metadata") or {}).get("labels") or {}
            if name not in wanted and labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE:
                item = Item("", name, "absent", {}, {}, {})
                prunes.append({"item": item, "before": existing[name], "after": None, "action": "delete",
                               "error": None})
        return prunes

    def _check_rules(self, plans):
        errors = [plan["error"] for plan in plans if plan["error"]]
        for plan in plans:
            refusal = plan["action"] != "none" and self.backend.write_refusal(
                self.kind, self.namespace, plan["item"].name)
            if refusal:
                errors.append("%s%s" % (plan["item"].where, refusal))
        if self.kind.host_port_rivals.get(self.backend.name):
            errors.extend(self._host_port_clashes(plans))
        if self.kind.one_per_namespace:
            errors.extend(self._second_of_a_kind(plans))
        if errors:
            raise SkupperError("invalid input, nothing was written: " + "; ".join(errors), errors=errors)

    @staticmethod
    def _binds_new_host_port(plan):
        """A create, or an update that moves host or port: only then can a clash appear.

        So an unchanged re-run costs no LIST (on Kubernetes: exactly one GET).
        """
        if plan["item"].state != "present" or plan["action"] == "none":
            return False
        before = (plan["before"] or {}).get("spec") or {}
        after = plan["item"].spec
        return plan["action"] != "update" or (before.get("host"), before.get("port")) != (
            after.get("host"), after.get("port"))

    def _host_port_clashes(self, plans):
        """No two resources of the namespace on one host and port, where the platform refuses it.

        System sites: listeners and multi-key listeners (the validator at reload). Kubernetes:
        listeners (the controller gives the second one an Error status).
        """
        moving = [plan for plan in plans if self._binds_new_host_port(plan)]
        if not moving:
            return []
        final = {}
        for other_name in self.kind.host_port_rivals[self.backend.name]:
            other = KINDS[other_name]
            # The list form has read this kind already; it is not read twice.
            listed = self._listed if other is self.kind and self._listed is not None else \
                self.backend.list(other, self.namespace)
            for name, obj in listed.items():
                final[(other.kind, name)] = obj.get("spec") or {}
        for plan in plans:
            key = (self.kind.kind, plan["item"].name)
            if plan["item"].state == "absent":
                final.pop(key, None)
            else:
                final[key] = plan["item"].spec
        errors = []
        for plan in moving:
            item = plan["item"]
            for (other_kind, other_name), spec in sorted(final.items()):
                if (other_kind, other_name) == (self.kind.kind, item.name):
                    continue
                if spec.get("host") == item.spec.get("host") and spec.get("port") == item.spec.get("port"):
                    errors.append("%shost/port: %s %s already uses host %s and port %s in namespace %s; %s"
                                  % (item.where, other_kind, other_name, item.spec.get("host"),
                                     item.spec.get("port"), self.namespace, self.backend.host_port_reason))
                    break
        return errors

    def _second_of_a_kind(self, plans):
        """Skupper runs one Site per namespace: a second one would never become active."""
        wanted = [plan["item"].name for plan in plans if plan["item"].state == "present"]
        if not wanted:
            return []
        others = sorted(name for name in self._listed if name not in wanted)
        if others:
            return ["name: namespace %s already has the %s %s, and Skupper runs one per namespace; "
                    "remove it first or manage it under its own name" % (self.namespace, self.kind.kind, others[0])]
        return []

    # writing
    def _apply(self, plan):
        for attempt in range(CONFLICT_RETRIES):
            try:
                return self._write(plan)
            except ConflictError:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
                # Someone else wrote first: read again and plan from what is there now.
                time.sleep(CONFLICT_BACKOFF_SECONDS * attempt)
                fresh = self.backend.get(self.kind, self.namespace, plan["item"].name)
                plan.update(self._plan(plan["item"], fresh))
                if plan["error"]:
                    raise SkupperError(plan["error"])
        return None

    def _write(self, plan):
        action, name = plan["action"], plan["item"].name
        if action == "none":
            return
        simulate = self.check_mode and not self.backend.server_dry_run
        dry_run = self.check_mode
        if action in ("delete", "recreate"):
            if not simulate:
                self.backend.delete(self.kind, self.namespace, name, dry_run=dry_run)
            if action == "delete":
                return
        if simulate or (dry_run and action == "recreate"):
            # Nothing to ask the server: a dry-run create would meet the object not yet deleted.
            return
        sent = plan["after"]
        if action in ("create", "recreate"):
            plan["after"] = self.backend.create(self.kind, self.namespace, sent, dry_run=dry_run)
        else:
            plan["after"] = self.backend.replace(self.kind, self.namespace, sent, dry_run=dry_run)
        self._note_pruned(plan, sent)

    def _note_pruned(self, plan, sent):
        """Fields the server dropped (a CRD of an older Skupper prunes what it does not know).

        They are named in a warning; an update that, once they are dropped, stores what was
        there already is no change, so a re-run does not report one every time.
        """
        stored = (plan["after"] or {}).get("spec")
        if stored is None:
            return
        sent_spec = comparison.canonical_spec(self.kind, sent.get("spec"))
        kept = comparison.canonical_spec(self.kind, stored)
        pruned = sorted(key for key in sent_spec if key not in kept)
        if not pruned:
            return
        item = plan["item"]
        self.backend.warn("%s %s/%s: the API server dropped spec field%s %s: the cluster's Skupper CRD does not "
                          "know %s (an older Skupper?); upgrade Skupper or leave %s out of the task"
                          % (self.kind.kind, self.namespace, item.name, "s" if len(pruned) > 1 else "",
                             ", ".join(pruned), "them" if len(pruned) > 1 else "it",
                             "them" if len(pruned) > 1 else "it"))
        if plan["action"] == "update" and plan["before"] and not differs(self.kind, plan["before"], Item(
                item.where, item.name, item.state, item.labels, item.annotations,
                dict((key, value) for key, value in item.spec.items() if key not in pruned))):
            plan["action"] = "none"
            plan["after"] = plan["before"]

    def _wait(self, plan):
        item = plan["item"]
        label = "%s %s/%s" % (self.kind.kind, self.namespace, item.name)
        # The spec as written: with the unmodeled fields that were kept.
        written = (plan["after"] or {}).get("spec", item.spec)
        plan["after"] = waiting.wait_until(
            lambda: self.backend.read_status(self.kind, self.namespace, item.name, written),
            self.params["wait_for"], label, self.params["wait_timeout"])

    # results
    def _result(self, plan):
        item = plan["item"]
        outcome = plan.get("outcome")
        # A write that failed or was never attempted stored nothing: the resource is as it was.
        stored_nothing = outcome in ("failed", "not attempted")
        changed = plan["action"] != "none" and not stored_nothing
        resource = plan["after"] if item.state == "present" and not stored_nothing else {}
        if resource is None or stored_nothing:
            resource = plan["before"] or {}
        result = {"name": item.name, "namespace": self.namespace, "state": item.state,
                  "action": "not attempted" if outcome == "not attempted" else plan["action"],
                  "changed": changed, "resource": hidden(self.kind, resource)}
        if outcome == "not attempted":
            result["planned_action"] = plan["action"]
        elif outcome in ("failed", "wait failed"):
            result["failed"] = True
            result["msg"] = plan["failure"]
        path = self.backend.location(self.kind, self.namespace, item.name)
        if path:
            result["path"] = path
        if self.diff_mode:
            before = view(plan["before"], self.kind)
            after = view(plan["after"], self.kind) if changed and item.state == "present" else before
            if changed and item.state == "absent":
                after = {}
            result["diff"] = {"before": before, "after": after,
                              "before_header": "%s %s/%s" % (self.kind.kind, self.namespace, item.name),
                              "after_header": "%s %s/%s" % (self.kind.kind, self.namespace, item.name)}
        return result

    def _results(self, plans, prunes):
        results = [self._result(plan) for plan in plans]
        pruned = [self._result(plan) for plan in prunes]
        changed = any(r["changed"] for r in results + pruned)
        if self.bulk:
            output = {"changed": changed, "namespace": self.namespace, "results": results, "pruned": pruned}
            if self.diff_mode:
                output["diff"] = [r["diff"] for r in results + pruned if r["changed"]]
            return output
        output = dict(results[0])
        output.pop("state", None)
        for companion in self.companions:
            companion.report(self, output)
        return output


def os_error_message(exc):
    """An OS error as a sentence: what failed, on which file, and why (ENOSPC, EACCES, ...)."""
    where = " %s" % exc.filename if getattr(exc, "filename", None) else ""
    return "cannot write%s: %s" % (where, exc.strerror or exc)


def run_module(module, kind):
    """The whole of a resource module's main(): reconcile and exit."""
    reconciler = None
    try:
        reconciler = Reconciler(kind, module.params, check_mode=module.check_mode, diff_mode=module._diff,
                                raw=raw_parameters(module))
        result = reconciler.run()
    except SkupperError as exc:
        report_warnings(module, reconciler and reconciler.backend)
        fail(module, exc)
    report_warnings(module, reconciler.backend)
    module.exit_json(**result)


def report_warnings(module, backend):
    for message in getattr(backend, "warnings", None) or []:
        module.warn(message)
