# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure validators for Skupper names and values.

Every function returns an error sentence (without the option name, which
the caller prefixes) or None. Nothing here imports a client library, so
validation always runs before any back end is touched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

# The same rules Skupper's CLI and the Kubernetes API apply (skupper-facts.md).
RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
RFC1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
ROUTING_KEY = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])*(\.[a-z0-9]([-a-z0-9]*[a-z0-9])*)*$")
SYSTEM_HOSTNAME = re.compile(r"^[a-z0-9]+([-.][a-z0-9]+)*$")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253
PORT_MIN, PORT_MAX = 1, 65535


def _text(value):
    return "%r" % (value,) if not isinstance(value, str) else "'%s'" % value


def kubernetes_name(value):
    """Skupper's CRDs take any DNS subdomain as an object name (the API server's rule)."""
    if not isinstance(value, str) or len(value) > SUBDOMAIN_MAX or not all(
            RFC1123_LABEL.match(label) for label in value.split(".")):
        return ("%s is not a valid name on Kubernetes: it must be a DNS subdomain (dot-separated lower-case "
                "letters, digits and '-', each part starting and ending with a letter or digit, at most 253 "
                "characters)" % _text(value))
    return None


def system_name(value):
    """A system site checks names with ``ValidateName`` (internal/nonkube/common/site_state_validator.go):
    an RFC 1123 label pattern with no length cap, so no dots."""
    if not isinstance(value, str) or not RFC1123_LABEL.match(value):
        return ("%s is not a valid name on a system site: lower-case letters, digits and '-', starting and "
                "ending with a letter or digit (no dots)" % _text(value))
    return None


def resource_name(value):
    """A name some platform accepts: the platform's own rule comes later, from the back end."""
    if system_name(value) is None:
        return None
    return kubernetes_name(value)


def namespace(value):
    if not isinstance(value, str) or len(value) > LABEL_MAX or not RFC1123_LABEL.match(value):
        return ("%s is not a valid namespace: it must be an RFC 1123 label (lower-case letters, digits and '-', "
                "starting and ending with a letter or digit, at most 63 characters)" % _text(value))
    return None


def routing_key(value):
    if not isinstance(value, str) or not value or not ROUTING_KEY.match(value):
        return ("%s is not a valid routing key: it must be dot-separated words of lower-case letters, digits "
                "and '-', each starting and ending with a letter or digit" % _text(value))
    return None


def port(value):
    if isinstance(value, bool) or not isinstance(value, int) or not PORT_MIN <= value <= PORT_MAX:
        return "%s is not a valid port: it must be an integer from 1 to 65535" % _text(value)
    return None


def kubernetes_host(value):
    """On Kubernetes the controller makes a Service named after the host."""
    if not isinstance(value, str) or len(value) > LABEL_MAX or not RFC1035_LABEL.match(value):
        return ("%s is not a valid host on Kubernetes: it becomes a Service name, so it must be an RFC 1035 "
                "label (lower-case letters, digits and '-', starting with a letter, ending with a letter or "
                "digit, at most 63 characters)" % _text(value))
    return None


def system_host(value):
    """On system sites the host is the address the router binds to."""
    if isinstance(value, str) and value:
        try:
            ipaddress.ip_address(value)
            return None
        except ValueError:
            pass
        if SYSTEM_HOSTNAME.match(value):
            return None
    return ("%s is not a valid host on a system site: it must be an IP address or a host name of lower-case "
            "letters, digits, '-' and '.'" % _text(value))


# An endpoint host is whatever the remote router's address is: an IP address or a DNS name
# (upper case allowed, as resolvers take it). Whole-string matches only: no trailing newline.
ENDPOINT_HOSTNAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*\.?")
# Go's time.ParseDuration: a sequence of decimal numbers, each with a unit (grants.go parses the window).
GO_DURATION = re.compile(r"[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+|0")


def endpoint_host(value):
    if isinstance(value, str) and value and len(value) <= SUBDOMAIN_MAX:
        try:
            ipaddress.ip_address(value)
            return None
        except ValueError:
            pass
        if ENDPOINT_HOSTNAME.fullmatch(value) and all(len(label) <= LABEL_MAX for label in value.split(".")):
            return None
    return "%s is not an IP address or a host name" % _text(value)


def secret_name(value):
    """A Secret name on Kubernetes; on system sites a Secret of input/resources, checked as names are."""
    if not isinstance(value, str) or len(value) > SUBDOMAIN_MAX or not all(
            RFC1123_LABEL.fullmatch(label) for label in value.split(".")):
        return ("%s is not a valid Secret name: dot-separated lower-case letters, digits and '-', each part "
                "starting and ending with a letter or digit" % _text(value))
    return None


def positive_int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "%s is not a whole number of at least 1" % _text(value)
    return None


def go_duration(value):
    """What Skupper's grant controller can parse (time.ParseDuration); anything else makes the grant fail."""
    if not isinstance(value, str) or not GO_DURATION.fullmatch(value):
        return ("%s is not a duration Skupper can read: a number and a unit, for example 15m, 1h or 1h30m "
                "(units ns, us, ms, s, m, h)" % _text(value))
    if value.startswith("-"):
        return "%s is negative: the grant would have expired before anyone could redeem it" % _text(value)
    return None


def token_url(value):
    """Skupper redeems tokens over HTTPS only (claim_redeemer.go refuses another scheme)."""
    if not isinstance(value, str) or not re.fullmatch(r"https://[^\s/?#]+(/[^\s]*)?", value):
        return "%s is not an https:// URL (Skupper redeems tokens over HTTPS only)" % _text(value)
    return None


def string_map(value):
    """Skupper settings are a map of strings; numbers are accepted and turned into strings."""
    if not isinstance(value, dict):
        return "must be a mapping of names to strings", None
    converted = {}
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            return ("value of %s is %s: every value must be a string (quote it in YAML)"
                    % (_text(key), _text(item))), None
        converted[str(key)] = item if isinstance(item, str) else str(item)
    return None, converted


LABEL_SELECTOR_TERM = re.compile(r"^\s*(!?)([A-Za-z0-9][-A-Za-z0-9_./]*)\s*(?:(==|!=|=)\s*([-A-Za-z0-9_.]*))?\s*$")
LABEL_SELECTOR_SET = re.compile(r"^\s*([A-Za-z0-9][-A-Za-z0-9_./]*)\s+(in|notin)\s*\(([^()]*)\)\s*$")
LABEL_VALUE = re.compile(r"^[-A-Za-z0-9_.]*$")


def _selector_parts(text):
    """Split at the commas between terms, not at those inside ``in (a,b)``."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts if depth == 0 else None


def parse_label_selector(text):
    """A label selector's terms as (key, operator, value); None if it is not a selector.

    The syntax the Kubernetes API takes (and Skupper passes a connector's selector to it as
    it is): ``=``/``==``, ``!=``, ``key`` (exists), ``!key`` (absent), and the set-based
    ``key in (a,b)`` and ``key notin (a,b)``, whose value is the tuple of values.
    """
    terms = []
    for part in _selector_parts(text or "") or [None]:
        if part is None:
            return None
        match = LABEL_SELECTOR_SET.match(part)
        if match:
            key, operator, values = match.groups()
            values = tuple(value.strip() for value in values.split(","))
            if not all(LABEL_VALUE.match(value) for value in values):
                return None
            terms.append((key, operator, values))
            continue
        match = LABEL_SELECTOR_TERM.match(part)
        if not match or (match.group(1) and match.group(3)):
            return None
        negate, key, operator, value = match.groups()
        if operator is None:
            terms.append((key, "absent" if negate else "exists", None))
        else:
            terms.append((key, "!=" if operator == "!=" else "=", value or ""))
    return terms


def label_selector(value):
    if not isinstance(value, str) or not value.strip() or parse_label_selector(value) is None:
        return ("%s is not a label selector: use comma-separated key=value, key!=value, key, !key, "
                "key in (a,b) or key notin (a,b) terms" % _text(value))
    return None


def labels_match(labels, terms):
    labels = labels or {}
    for key, operator, value in terms:
        if operator == "exists" and key not in labels:
            return False
        if operator == "absent" and key in labels:
            return False
        if operator == "=" and labels.get(key) != value:
            return False
        if operator == "!=" and labels.get(key) == value:
            return False
        if operator == "in" and labels.get(key) not in value:
            return False
        if operator == "notin" and key in labels and labels[key] in value:
            return False
    return True
