# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place where a desired spec is compared with a stored or running one.

Skupper marshals its Go structs with ``omitempty`` (``pkg/apis/skupper/v2alpha1/
types.go``, ``multikeylistener_types.go``): a ``false``, ``""``, ``0``, ``{}`` or
``[]`` field is left out of what it writes, in API objects and in a system
site's ``runtime/resources`` files alike. A task that spells such a value out
(``ha: false``, ``settings: {}``) asks for the same resource as one that leaves
it out, so both sides are brought to that canonical form before comparing.
A few fields also have a value Skupper assumes when they are absent (a
listener's ``type`` is ``tcp``): ``Field.absent_equals`` in the kind table.

The engine (desired vs existing), the system-site back end (input vs
runtime, for "reload pending") and so ``wait`` and the info modules all
compare through here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def is_zero(value):
    """What Go's ``omitempty`` leaves out: nil, false, 0, empty string, map or list."""
    if value is None or value is False:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)) and value == 0:
        return True
    if isinstance(value, (str, dict, list, tuple)) and len(value) == 0:
        return True
    return False


def _canonical_value(value):
    """Nested maps lose their omitempty members too (strategy.priority, link endpoints)."""
    if isinstance(value, dict):
        return dict((key, _canonical_value(item)) for key, item in value.items() if not is_zero(item))
    if isinstance(value, (list, tuple)):
        return [_canonical_value(item) for item in value]
    return value


def canonical_spec(kind, spec):
    """The spec as Skupper would write it back: zero values and assumed defaults left out.

    Fields without ``omitempty`` in Skupper's types (``routingKey``, ``host``,
    ``port``) are required and never zero in a valid resource, so one rule
    fits every field, modeled or not.
    """
    result = {}
    for key, value in (spec or {}).items():
        if is_zero(value):
            continue
        field = kind.field_by_key(key)
        if field is not None and field.absent_equals is not None and value == field.absent_equals:
            continue
        result[key] = _canonical_value(value)
    return result


def same_spec(kind, left, right):
    return canonical_spec(kind, left) == canonical_spec(kind, right)


def running_matches(kind, running_spec, declared_spec):
    """Whether the running site runs what is declared.

    A field the running Skupper does not know never reaches its runtime file (its Go
    structs drop it), so a declared field that the kind does not model and the running
    spec lacks says nothing about a pending reload.
    """
    running_spec = running_spec or {}
    declared = dict((key, value) for key, value in (declared_spec or {}).items()
                    if key in running_spec or kind.field_by_key(key) is not None)
    return same_spec(kind, running_spec, declared)


def differing_keys(kind, left, right):
    """Spec keys whose canonical values differ, sorted: for messages and warnings."""
    left, right = canonical_spec(kind, left), canonical_spec(kind, right)
    return sorted(key for key in set(left) | set(right) if left.get(key) != right.get(key))


def unmodeled_keys(kind, spec):
    """Spec keys the kind table does not model (set by hand, by the CLI or by a newer Skupper)."""
    return sorted(key for key in (spec or {}) if kind.field_by_key(key) is None)


def merged_spec(kind, existing_spec, desired_spec):
    """The spec to write: every modeled field as the task asks, unmodeled fields kept as they are."""
    merged = dict((key, value) for key, value in (existing_spec or {}).items() if kind.field_by_key(key) is None)
    merged.update(desired_spec or {})
    return merged
