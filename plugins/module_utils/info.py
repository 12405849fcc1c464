# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The read-only side: what every *_info module does, for any kind and either back end."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.skupperlabs.network.plugins.module_utils import validation
from ansible_collections.skupperlabs.network.plugins.module_utils.engine import (
    build_backend, connection_argument_spec, connection_errors, raw_parameters, report_warnings)
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import SkupperError, fail

NO_STATUS_MESSAGE = "no status reported yet: is the Skupper controller running?"


def info_module_kwargs(kind):
    spec = connection_argument_spec()
    spec.update({
        "name": {"type": "str"},
        "label_selectors": {"type": "list", "elements": "str", "default": []},
    })
    if kind.has_routing_keys:
        spec["routing_key"] = {"type": "str", "no_log": False}
    return {"argument_spec": spec, "supports_check_mode": True}


def _validate(params, raw=None):
    errors = connection_errors(params, raw)
    for option, check in (("name", validation.resource_name),
                          ("routing_key", validation.routing_key)):
        if params.get(option) is not None:
            error = check(params[option])
            if error:
                errors.append("%s: %s" % (option, error))
    for index, selector in enumerate(params.get("label_selectors") or []):
        error = validation.label_selector(selector)
        if error:
            errors.append("label_selectors[%d]: %s" % (index, error))
    if errors:
        raise SkupperError("invalid input: " + "; ".join(errors), errors=errors)


def entry(kind, namespace, obj):
    """One flat, snake_case entry for a resource as read (spec and status)."""
    metadata = obj.get("metadata") or {}
    status = obj.get("status") or {}
    result = {
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace") or namespace,
        "status": status.get("status") or "Pending",
        "message": status.get("message") or ("" if status.get("status") else NO_STATUS_MESSAGE),
        "conditions": status.get("conditions") or [],
        "labels": metadata.get("labels") or {},
    }
    result.update(kind.spec_to_options(obj.get("spec")))
    result.update(kind.status_view(status))
    result["resource"] = obj
    return result


def read_entries(kind, params, backend):
    """Read (one GET by name, else one LIST), filter and flatten; ``params`` are validated already."""
    namespace = params.get("namespace") or backend.default_namespace
    selector = ",".join(params.get("label_selectors") or [])
    if params.get("name"):
        found = backend.get(kind, namespace, params["name"])
        objects = [found] if found else []
        if objects and selector:
            labels = (found.get("metadata") or {}).get("labels") or {}
            objects = objects if validation.labels_match(labels, validation.parse_label_selector(selector)) else []
    else:
        by_name = backend.list(kind, namespace, label_selector=selector)
        objects = [by_name[name] for name in sorted(by_name)]
    wanted_key = params.get("routing_key")
    if wanted_key:
        objects = [obj for obj in objects if wanted_key in kind.routing_keys(obj.get("spec"))]
    return namespace, [entry(kind, namespace, backend.observed(kind, namespace, obj)) for obj in objects]


def run_info_module(module, kind):
    """The whole of an info module's main()."""
    backend = None
    try:
        _validate(module.params, raw_parameters(module))
        backend = build_backend(module.params)
        namespace, entries = read_entries(kind, module.params, backend)
    except SkupperError as exc:
        report_warnings(module, backend)
        fail(module, exc)
    report_warnings(module, backend)
    module.exit_json(changed=False, namespace=namespace, **{kind.plural: entries})
