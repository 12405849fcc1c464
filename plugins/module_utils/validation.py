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

# The same rules Skupper's CLI and the Kubernetes API apply (skupper-facts.md). Every pattern is
# used with fullmatch: Go's regexp anchors ``^...$`` match the whole text, whereas Python's ``$``
# also matches before a final newline, so ``re.match("^x$", "x\n")`` would let "x\n" through.
RFC1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
RFC1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
ROUTING_KEY = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])*(\.[a-z0-9]([-a-z0-9]*[a-z0-9])*)*")
# internal/nonkube/common/site_state_validator.go hostnameRfc1123Regex.
SYSTEM_HOSTNAME = re.compile(r"[a-z0-9]+([-.][a-z0-9]+)*")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253
PORT_MIN, PORT_MAX = 1, 65535


def _text(value):
    """The value as the user wrote it; a string with a newline or other control character as repr
    shows it (``'a\\n'``), so the message shows what is wrong."""
    if isinstance(value, str) and value.isprintable():
        return "'%s'" % value
    return "%r" % (value,)


def kubernetes_name(value):
    """Skupper's CRDs take any DNS subdomain as an object name (the API server's rule)."""
    if not isinstance(value, str) or len(value) > SUBDOMAIN_MAX or not all(
            RFC1123_LABEL.fullmatch(label) for label in value.split(".")):
        return ("%s is not a valid name on Kubernetes: it must be a DNS subdomain (dot-separated lower-case "
                "letters, digits and '-', each part starting and ending with a letter or digit, at most 253 "
                "characters)" % _text(value))
    return None


def system_name(value):
    """A system site checks names with ``ValidateName`` (internal/nonkube/common/site_state_validator.go):
    an RFC 1123 label pattern with no length cap, so no dots."""
    if not isinstance(value, str) or not RFC1123_LABEL.fullmatch(value):
        return ("%s is not a valid name on a system site: lower-case letters, digits and '-', starting and "
                "ending with a letter or digit (no dots)" % _text(value))
    return None


def resource_name(value):
    """A name some platform accepts: the platform's own rule comes later, from the back end."""
    if system_name(value) is None:
        return None
    return kubernetes_name(value)


def namespace(value):
    if not isinstance(value, str) or len(value) > LABEL_MAX or not RFC1123_LABEL.fullmatch(value):
        return ("%s is not a valid namespace: it must be an RFC 1123 label (lower-case letters, digits and '-', "
                "starting and ending with a letter or digit, at most 63 characters)" % _text(value))
    return None


def routing_key(value):
    if not isinstance(value, str) or not value or not ROUTING_KEY.fullmatch(value):
        return ("%s is not a valid routing key: it must be dot-separated words of lower-case letters, digits "
                "and '-', each starting and ending with a letter or digit" % _text(value))
    return None


def port(value):
    if isinstance(value, bool) or not isinstance(value, int) or not PORT_MIN <= value <= PORT_MAX:
        return "%s is not a valid port: it must be an integer from 1 to 65535" % _text(value)
    return None


def kubernetes_host(value):
    """On Kubernetes the controller makes a Service named after the host."""
    if not isinstance(value, str) or len(value) > LABEL_MAX or not RFC1035_LABEL.fullmatch(value):
        return ("%s is not a valid host on Kubernetes: it becomes a Service name, so it must be an RFC 1035 "
                "label (lower-case letters, digits and '-', starting with a letter, ending with a letter or "
                "digit, at most 63 characters)" % _text(value))
    return None


def _ip_address(value):
    """An IP address as Go's net.ParseIP takes it: no IPv6 zone (Python accepts ``fe80::1%eth0``)."""
    if "%" in value:
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def system_host(value):
    """On system sites the host is the address the router binds to: an IP address, or a host name as
    site_state_validator.go's hostnameRfc1123Regex takes it, within DNS's lengths (RFC 1035 2.3.4:
    253 characters, 63 per label), which Skupper's pattern leaves unbounded but no resolver accepts."""
    if isinstance(value, str) and value:
        if _ip_address(value):
            return None
        if SYSTEM_HOSTNAME.fullmatch(value):
            if len(value) > SUBDOMAIN_MAX:
                return ("'%s...' is not a valid host on a system site: a host name has at most 253 characters, "
                        "this one %d" % (value[:40], len(value)))
            long_labels = [label for label in value.split(".") if len(label) > LABEL_MAX]
            if long_labels:
                return ("'%s' is not a valid host on a system site: each dot-separated part of a host name has "
                        "at most 63 characters, '%s...' has %d" % (value, long_labels[0][:20], len(long_labels[0])))
            return None
    return ("%s is not a valid host on a system site: it must be an IP address or a host name of lower-case "
            "letters, digits, '-' and '.'" % _text(value))


# -- labels and annotations: k8s.io/apimachinery/pkg/util/validation (IsQualifiedName,
# IsValidLabelValue) and pkg/api/validation/objectmeta.go (ValidateAnnotations). A system site's
# resources are Kubernetes objects too, so both back ends apply the same rules.
QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE_FORMAT = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
ANNOTATIONS_MAX_BYTES = 256 * 1024


def qualified_name(value):
    """A label or annotation key: ``[prefix/]name``, the prefix a DNS subdomain of at most 253 characters,
    the name at most 63 characters of letters, digits, '-', '_' and '.', starting and ending alphanumeric."""
    if not isinstance(value, str):
        return "key %s is not a string" % _text(value)
    parts = value.split("/")
    if len(parts) > 2:
        return "key %s has more than one '/': a key is [prefix/]name" % _text(value)
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return "key %s has an empty prefix before '/'" % _text(value)
        if len(prefix) > SUBDOMAIN_MAX or not DNS1123_SUBDOMAIN.fullmatch(prefix):
            return ("key %s: the prefix '%s' must be a DNS subdomain (lower-case letters, digits, '-' and '.', "
                    "at most 253 characters)" % (_text(value), prefix[:60]))
    if not name:
        return "key %s has an empty name part" % _text(value)
    if len(name) > LABEL_MAX:
        return "key %s: the name part has %d characters, at most 63 are allowed" % (_text(value[:80]), len(name))
    if not QUALIFIED_NAME.fullmatch(name):
        return ("key %s: the name part must be letters, digits, '-', '_' and '.', starting and ending with a "
                "letter or digit" % _text(value))
    return None


def label_value(value):
    if len(value) > LABEL_MAX:
        return "its value has %d characters, at most 63 are allowed" % len(value)
    if not LABEL_VALUE_FORMAT.fullmatch(value):
        return ("its value %s must be empty or letters, digits, '-', '_' and '.', starting and ending with a "
                "letter or digit" % _text(value))
    return None


def labels(value):
    """Labels as the Kubernetes API validates them; returns (error, labels as strings)."""
    error, converted = string_map(value)
    if error:
        return error, None
    for key in sorted(converted):
        error = qualified_name(key)
        if error:
            return error, None
        error = label_value(converted[key])
        if error:
            return "label %s: %s" % (_text(key), error), None
    return None, converted


def annotations(value):
    """Annotations as the Kubernetes API validates them: qualified-name keys (checked in lower case, as
    ValidateAnnotations does), any string values, at most 256 KiB of keys and values together."""
    error, converted = string_map(value)
    if error:
        return error, None
    total = 0
    for key in sorted(converted):
        error = qualified_name(key.lower())
        if error:
            return error, None
        total += len(key.encode("utf-8")) + len(converted[key].encode("utf-8"))
    if total > ANNOTATIONS_MAX_BYTES:
        return "keys and values total %d bytes, at most 262144 (256 KiB) are allowed" % total, None
    return None, converted


# -- TLS credentials -----------------------------------------------------------------------------

# A folder of input/certs/ on a system site (pkg/nonkube/api/site_state.go makes a Certificate of
# that name for a listener's or connector's tlsCredentials). Skupper applies ValidateName only to a
# RouterAccess's tlsCredentials (site_state_validator.go), so for these no rule of Skupper's keeps
# the name inside input/certs/: one plain folder name, no path.
CERT_FOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def certificate_folder(value):
    if (not isinstance(value, str) or len(value) > 255 or not CERT_FOLDER.fullmatch(value)
            or ".." in value):
        return ("%s is not a valid TLS credentials name on a system site: it names one folder under "
                "input/certs/, so letters, digits, '.', '_' and '-', starting with a letter or digit, no '/' "
                "and no '..'" % _text(value))
    return None


def path_string(value):
    """A path option given as a string (Ansible's path type would turn a list into the text "['x']")."""
    if not isinstance(value, str) or not value.strip():
        return "%s is not a path: give one path as a string" % _text(value)
    if "\0" in value:
        return "the path contains a NUL character"
    return None


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


LABEL_SELECTOR_TERM = re.compile(r"\s*(!?)([A-Za-z0-9][-A-Za-z0-9_./]*)\s*(?:(==|!=|=)\s*([-A-Za-z0-9_.]*))?\s*")
LABEL_SELECTOR_SET = re.compile(r"\s*([A-Za-z0-9][-A-Za-z0-9_./]*)\s+(in|notin)\s*\(([^()]*)\)\s*")
LABEL_VALUE = re.compile(r"[-A-Za-z0-9_.]*")


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
        match = LABEL_SELECTOR_SET.fullmatch(part)
        if match:
            key, operator, values = match.groups()
            values = tuple(value.strip() for value in values.split(","))
            if not all(LABEL_VALUE.fullmatch(value) for value in values):
                return None
            terms.append((key, operator, values))
            continue
        match = LABEL_SELECTOR_TERM.fullmatch(part)
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
