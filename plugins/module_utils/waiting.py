# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait predicates: small pure functions of a resource as read back."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.skupperlabs.network.plugins.module_utils.errors import SkupperError

POLL_SECONDS = 0.5


def _status(obj):
    return (obj or {}).get("status") or {}


def condition(obj, type_name):
    for item in _status(obj).get("conditions") or []:
        if item.get("type") == type_name:
            return item
    return None


def _current(obj, item):
    """A condition written for an older generation says nothing about this one."""
    observed = item.get("observedGeneration")
    generation = ((obj or {}).get("metadata") or {}).get("generation")
    return observed is None or generation is None or observed >= generation


def is_configured(obj):
    item = condition(obj, "Configured")
    return bool(item) and item.get("status") == "True" and _current(obj, item)


def is_error(obj):
    """Skupper reports an Error it will not get over by itself (a host/port clash, no pods): stop waiting.

    Only a current Error counts: one whose conditions were written for this generation.
    """
    if _status(obj).get("status") != "Error":
        return False
    return all(_current(obj, item) for item in _status(obj).get("conditions") or [])


def is_ready(obj):
    if _status(obj).get("status") != "Ready":
        return False
    item = condition(obj, "Ready") or condition(obj, "Configured")
    return item is None or _current(obj, item)


def is_issued(obj):
    """An AccessGrant whose token can be handed out: the grant server's url, the code and its CA."""
    status = _status(obj)
    return bool(status.get("url") and status.get("code") and status.get("ca"))


def is_redeemed(obj):
    """An AccessToken the controller redeemed (internal/kube/grants/redeem.go sets redeemed: true)."""
    return bool(_status(obj).get("redeemed"))


PREDICATES = {
    "configured": is_configured,
    "ready": is_ready,
    "issued": is_issued,
    "redeemed": is_redeemed,
}
# What the resource modules offer as wait_for; the grant and token modules wait for their own.
RESOURCE_PREDICATES = ("configured", "ready")


def describe(obj):
    status = _status(obj)
    if not obj:
        return "the resource does not exist"
    if not status:
        return "no status reported yet"
    return "status %s: %s" % (status.get("status") or "(none)", status.get("message") or "(no message)")


def wait_until(read, what, label, timeout, clock=time.monotonic, sleep=time.sleep):
    """Poll ``read()`` until PREDICATES[what] holds; raise with the last status on timeout."""
    predicate = PREDICATES[what]
    deadline = clock() + timeout
    while True:
        obj = read()
        if predicate(obj):
            return obj
        if is_error(obj):
            raise SkupperError("%s reports an error, so waiting for it to be %s stopped: %s"
                               % (label, what, describe(obj)), resource=obj)
        remaining = deadline - clock()
        if remaining <= 0:
            raise SkupperError("timed out after %ss waiting for %s to be %s; last seen: %s"
                               % (timeout, label, what, describe(obj)), resource=obj)
        sleep(min(POLL_SECONDS, remaining))
