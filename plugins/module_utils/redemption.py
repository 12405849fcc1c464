# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redeeming a Skupper access token the way a system site does.

A token (``skupper token issue``, or an AccessGrant's status) is an AccessToken
object ``{apiVersion: skupper.io/v2alpha1, kind: AccessToken, metadata: {name},
spec: {url, code, ca}}``. Redeeming it is Skupper's protocol, read from
``internal/nonkube/common/claim_redeemer.go`` (``RedeemAccessToken``, the same
in 2.0.0 to main) and answered by ``internal/kube/grants/grants.go``:

* an HTTPS POST to ``spec.url`` whose body is ``spec.code``, with the headers
  ``name`` (the AccessToken's name: the name of the Secret and Link(s) the
  server generates) and ``subject`` (the common name of the client certificate
  it issues; see ``redeem``);
* TLS 1.3 at least, the server verified against ``spec.ca`` only (Go's
  ``RootCAs`` pool: no system CAs) with the host name of the url, as Go's client
  does when ``ServerName`` is not set (no fallback to the certificate's common
  name); no proxy (Go's ``http.Transport{}`` has none), HTTP/1.1;
* redirects are not followed (``CheckRedirect`` returns ``ErrUseLastResponse``:
  the 3xx answer is the answer, and it is not 200, so it fails);
* 10 seconds for the whole exchange (``http.Client.Timeout``);
* a 200 answer is a YAML stream: one Secret, then the Link(s)
  (``internal/kube/grants/tokens.go`` ``NewCertToken``/``Write``).

The token's code is a credential: it is the request body and nothing else. No
error message, exception text or detail of this module holds the code, the
Secret's data or the server's certificate material (``_scrub``).

Standard library only (``ssl``, ``http.client``, ``socket``); PyYAML when a
token is YAML text and for the server's answer. Python 3.9 compatible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import copy
import http.client
import re
import socket
import ssl
import threading
import time
import traceback

from urllib.parse import urlsplit

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.skupperlabs.network.plugins.module_utils import validation
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import SkupperError

API_VERSION = "skupper.io/v2alpha1"
# claim_redeemer.go: http.Client{Timeout: 10 * time.Second}.
DEFAULT_TIMEOUT = 10.0
# Skupper reads the whole answer; a generated Secret and its Links are a few kilobytes. This cap only
# protects the managed host from a server that never stops sending.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
# The Secret keys the router needs (internal/certs/certs.go GenerateSecret writes all three).
SECRET_KEYS = ("ca.crt", "tls.crt", "tls.key")
MAX_REASON = 300

# What the refusals of internal/kube/grants/grants.go mean to a user (the server's text is quoted as well).
REFUSALS = {
    (404, "No such claim"): "the grant does not exist on that server or has expired",
    (404, "No such access granted"): "the token was already redeemed as many times as its grant allows",
    (403, "Redemption of access token refused"): "the token's code does not match the grant's code",
    (405, "Only POST is supported"): "the server only accepts POST",
    (400, "Request body not valid"): "the server could not read the request",
    (500, "Corrupted claim"): "the grant's expiration time on the server cannot be read",
    (503, "Internal error"): "the server could not record the redemption",
    (500, "No valid endpoints found for site"): "the site that issued the grant has no link access endpoints yet",
    (500, "Edge sites cannot accept incoming links from remote sites"): "the issuing site is an edge site",
}

PEM_BLOCK = re.compile(r"-----BEGIN [^-]+-----.*?(-----END [^-]+-----|$)", re.S)


def _require_yaml():
    if not HAS_YAML:
        raise SkupperError("PyYAML is required on the managed host to redeem an access token",
                           missing_lib="PyYAML", exception=YAML_IMPORT_ERROR)


class _Scrubber:
    """Removes credentials from any text shown to the user."""

    def __init__(self, *secrets):
        self.secrets = sorted({s for s in secrets if isinstance(s, str) and len(s) >= 1}, key=len, reverse=True)

    def __call__(self, text):
        text = "%s" % (text,)
        text = PEM_BLOCK.sub("<PEM data removed>", text)
        for secret in self.secrets:
            text = text.replace(secret, "********")
        return text


def _reason(body, scrub):
    """The server's text as Go's client reports it (trimmed), without credentials, on one line."""
    text = body.decode("utf-8", "replace").strip()
    text = " ".join(scrub(text).split())
    if len(text) > MAX_REASON:
        text = text[:MAX_REASON] + "..."
    return text


# ---------------------------------------------------------------------------------------------------------
# The token
# ---------------------------------------------------------------------------------------------------------

def _token_error(msg):
    return SkupperError("Invalid access token: %s; nothing was sent" % msg)


def _load_token_text(text):
    _require_yaml()
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        # PyYAML's message quotes the document (the code): give only where it failed.
        mark = getattr(exc, "problem_mark", None)
        where = " (line %d, column %d)" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        raise _token_error("the token text is not valid YAML%s" % where)
    if len(documents) != 1:
        raise _token_error("the token text must hold exactly one YAML document, the AccessToken (found %d)"
                           % len(documents))
    return documents[0]


def parse_token(token=None, name=None, url=None, code=None, ca=None, link_cost=None):
    """The access token to redeem, checked; raises SkupperError before anything is sent.

    ``token`` is the AccessToken as ``skupper token issue`` writes it, as a dict or its YAML (or JSON) text;
    or give ``url``, ``code`` and ``ca`` instead. ``name`` replaces ``metadata.name`` (Skupper requires one:
    ``internal/cmd/skupper/token/nonkube/token_redeem.go``, "token name is required").
    Returns ``{"name", "url", "code", "ca", "link_cost"}``.
    """
    spec = {}
    metadata_name = None
    if token is not None:
        if url is not None or code is not None or ca is not None:
            raise _token_error("give either the token or url, code and ca, not both")
        if isinstance(token, (bytes, bytearray)):
            token = token.decode("utf-8", "replace")
        if isinstance(token, str):
            token = _load_token_text(token)
        if not isinstance(token, dict):
            raise _token_error("the token must be an AccessToken object, not %s" % type(token).__name__)
        kind = token.get("kind")
        if kind is not None and kind != "AccessToken":
            raise _token_error("the token's kind is %r, not AccessToken" % (kind,))
        api_version = token.get("apiVersion")
        if api_version is not None and api_version != API_VERSION:
            raise _token_error("the token's apiVersion is %r, not %s" % (api_version, API_VERSION))
        metadata = token.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise _token_error("the token's metadata must be a mapping")
        metadata_name = metadata.get("name")
        spec = token.get("spec")
        if not isinstance(spec, dict):
            raise _token_error("the token has no spec (url, code, ca)")
        url, code, ca = spec.get("url"), spec.get("code"), spec.get("ca")
        if link_cost is None:
            link_cost = spec.get("linkCost")
    name = name if name is not None else metadata_name
    missing = [field for field, value in (("url", url), ("code", code), ("ca", ca)) if value in (None, "")]
    if missing:
        raise _token_error("the token has no %s" % ", ".join(missing))
    if not isinstance(code, str):
        raise _token_error("the token's code must be a string")
    if not isinstance(url, str) or not isinstance(ca, str):
        raise _token_error("the token's url and ca must be strings")
    if name in (None, ""):
        raise _token_error("the token has no name (metadata.name): it names the Link the redemption yields")
    problem = validation.resource_name(name)
    if problem:
        raise _token_error("its name: %s" % problem)
    _check_url(url, code)
    _check_ca(ca)
    if link_cost is not None and (isinstance(link_cost, bool) or not isinstance(link_cost, int) or link_cost < 0):
        raise _token_error("linkCost must be a whole number of at least 0, not %r" % (link_cost,))
    return {"name": name, "url": url, "code": code, "ca": ca, "link_cost": link_cost}


def _check_url(url, code):
    scrub = _Scrubber(code)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _token_error("its url %s cannot be parsed" % scrub(url))
    # claim_redeemer.go: "token url scheme must be https".
    if parts.scheme != "https":
        raise _token_error("its url %s must use https (Skupper redeems tokens only over TLS)" % scrub(url))
    if not parts.hostname:
        raise _token_error("its url %s has no host" % scrub(url))
    if any(c in url for c in "\r\n\t ") or port == 0:
        raise _token_error("its url %s is not a valid URL" % scrub(url))


def _check_ca(ca):
    if "-----BEGIN CERTIFICATE-----" not in ca:
        raise _token_error("its ca is not a PEM certificate (no BEGIN CERTIFICATE block)")
    try:
        _client_context(ca)
    except (ssl.SSLError, ValueError):
        raise _token_error("its ca cannot be read as a PEM certificate")


def _client_context(ca):
    """The TLS client of claim_redeemer.go: RootCAs = the token's CA only, MinVersion TLS 1.3."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname, no system CAs
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    # Go checks only the SANs (crypto/x509 VerifyHostname); no common-name fallback.
    if getattr(ssl, "HAS_NEVER_CHECK_COMMON_NAME", False):  # OpenSSL that can turn the fallback off
        context.hostname_checks_common_name = False
    # Go accepts any certificate of the pool as an anchor, self-signed or not.
    partial = getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", None)
    if partial is not None:
        context.verify_flags |= partial
    context.load_verify_locations(cadata=ca)
    return context


# ---------------------------------------------------------------------------------------------------------
# The redemption
# ---------------------------------------------------------------------------------------------------------

class _Deadline:
    """One time limit for the whole exchange, as Go's http.Client.Timeout; a watchdog shuts the socket
    at the deadline so a server that sends a byte now and then cannot stretch it."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._timer = None
        self._sock = None

    def remaining(self):
        left = self.end - time.monotonic()
        if left <= 0:
            self.expired = True
            raise socket.timeout("deadline")
        return left

    def watch(self, sock):
        self._sock = sock
        self._timer = threading.Timer(max(self.end - time.monotonic(), 0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self):
        self.expired = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def cancel(self):
        if self._timer is not None:
            self._timer.cancel()


def redeem(token, subject, timeout=DEFAULT_TIMEOUT, link_cost=None):
    """Redeem ``token`` (what ``parse_token`` returns, or anything it takes) and return what the server
    generated: ``{"secret": <Secret dict>, "links": [<Link dict>, ...], "link_names": [...]}``.

    ``subject`` is the ``subject`` header, the common name of the client certificate the server issues
    (``internal/kube/grants/tokens.go`` -> ``internal/certs/certs.go`` GenerateSecret). Skupper sends the
    site's name when a system site redeems tokens at start (claim_redeemer.go ``RedeemClaims``), the
    namespace with ``skupper token redeem`` on a system site (token/nonkube/token_redeem.go) and the
    Site's UID on Kubernetes (internal/kube/grants/redeem.go).

    ``link_cost`` (or the token's ``linkCost``), when above 0, is set on each Link, as the Kubernetes
    controller does (grants/redeem.go ``handleTokenResponse``); claim_redeemer.go leaves the cost unset.

    The objects returned hold the Secret's key material: never log them. Raises SkupperError with the
    url and the server's reason, never the code.
    """
    if not (isinstance(token, dict) and set(token) >= {"name", "url", "code", "ca", "link_cost"}):
        token = parse_token(token)
    if not isinstance(subject, str) or not subject or any(ord(c) < 32 or ord(c) == 127 for c in subject):
        raise SkupperError("Cannot redeem the access token '%s': the subject must be a non-empty string "
                           "without control characters; nothing was sent" % token["name"])
    if link_cost is None:
        link_cost = token.get("link_cost")
    scrub = _Scrubber(token["code"])
    url = scrub(token["url"])
    where = "Could not redeem the access token '%s' at %s" % (token["name"], url)

    status, headers, body = _post(token, subject, timeout, scrub, where)
    if status != 200:
        raise _refusal(where, url, status, headers, body, scrub)
    return _decode_answer(body, token["name"], link_cost, where, url, scrub)


def _post(token, subject, timeout, scrub, where):
    parts = urlsplit(token["url"])
    host = parts.hostname
    port = parts.port or 443
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    context = _client_context(token["ca"])
    deadline = _Deadline(timeout)
    raw = sock = connection = None
    stage = "connect to"
    try:
        raw = socket.create_connection((host, port), timeout=deadline.remaining())
        deadline.watch(raw)
        raw.settimeout(deadline.remaining())
        stage = "complete TLS with"
        # server_hostname: the url's host, as Go's client takes ServerName from the request when unset.
        sock = context.wrap_socket(raw, server_hostname=host)
        stage = "get an answer from"
        connection = http.client.HTTPSConnection(host, port, timeout=deadline.remaining(), context=context)
        connection.sock = sock  # already connected and verified: http.client sends on it as is
        body = token["code"].encode("utf-8")
        # Go's Header.Add canonicalizes the names: "Name" and "Subject" on the wire.
        connection.putrequest("POST", target, skip_accept_encoding=True)
        connection.putheader("Name", token["name"])
        connection.putheader("Subject", subject)
        connection.putheader("Content-Length", str(len(body)))
        connection.putheader("User-Agent", "skupperlabs.network")
        connection.endheaders(body)
        sock.settimeout(deadline.remaining())
        response = connection.getresponse()
        chunks = []
        size = 0
        while True:
            sock.settimeout(deadline.remaining())
            chunk = response.read(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise SkupperError("%s: the server's answer is larger than %d bytes" % (where, MAX_ANSWER_BYTES),
                                   url=scrub(token["url"]))
            chunks.append(chunk)
        return response.status, dict((k.lower(), v) for k, v in response.getheaders()), b"".join(chunks)
    except SkupperError:
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise _transport_error(exc, deadline.expired, where, stage, timeout, scrub(token["url"]), scrub)
    finally:
        deadline.cancel()
        if connection is not None:
            connection.close()
        for open_socket in (sock, raw):
            if open_socket is not None:
                open_socket.close()


def _transport_error(exc, expired, where, stage, timeout, url, scrub):
    """Unreachable, TLS refused or failed, or out of time: what happened, never the request."""
    if expired or isinstance(exc, socket.timeout):
        return SkupperError("%s: no answer within %g seconds (could not %s the server in time)"
                            % (where, timeout, stage), url=url, reason="timeout")
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = scrub(getattr(exc, "verify_message", None) or exc.reason or "verification failed")
        return SkupperError("%s: the server's certificate is not valid for the token's CA and host (%s)"
                            % (where, detail), url=url, reason="tls")
    if isinstance(exc, ssl.SSLError):
        detail = scrub(exc.reason or exc.__class__.__name__)
        hint = "; Skupper requires TLS 1.3" if ("VERSION" in detail.upper() or "PROTOCOL" in detail.upper()) else ""
        return SkupperError("%s: TLS failed (%s%s)" % (where, detail, hint), url=url, reason="tls")
    detail = scrub(getattr(exc, "strerror", None) or exc.__class__.__name__)
    return SkupperError("%s: could not %s the server (%s)" % (where, stage, detail), url=url,
                        reason="unreachable")


def _refusal(where, url, status, headers, body, scrub):
    reason = _reason(body, scrub)
    if 300 <= status < 400:
        location = headers.get("location")
        msg = "%s: the server answered HTTP %d, a redirect%s, which Skupper does not follow" % (
            where, status, " to %s" % scrub(location) if location else "")
        return SkupperError(msg, url=url, status=status, reason=reason)
    meaning = REFUSALS.get((status, reason))
    msg = "%s: the grant server answered HTTP %d" % (where, status)
    if reason:
        msg += " %s" % _quote(reason)
    if meaning:
        msg += " (%s)" % meaning
    return SkupperError(msg, url=url, status=status, reason=reason)


def _quote(text):
    return '"%s"' % text.replace('"', "'")


def _decode_answer(body, name, link_cost, where, url, scrub):
    """The answer of tokens.go ``Write``: "---", a Secret, then for each Link "---" and the Link."""
    _require_yaml()

    def bad(msg):
        return SkupperError("%s: the server's answer is not what Skupper sends: %s; nothing was written"
                            % (where, msg), url=url, reason="answer")
    try:
        text = body.decode("utf-8")
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except UnicodeDecodeError:
        raise bad("it is not UTF-8 text")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)  # the message would quote the Secret's data
        raise bad("it is not a YAML stream%s" % (" (line %d)" % (mark.line + 1) if mark is not None else ""))
    if not documents:
        raise bad("it is empty")
    if not all(isinstance(d, dict) for d in documents):
        raise bad("each document must be a Kubernetes object")
    secret, links = documents[0], documents[1:]
    # claim_redeemer.go decodes the first document as the Secret and the rest as Links.
    if secret.get("kind") != "Secret" or secret.get("apiVersion") != "v1":
        raise bad("the first document must be a v1 Secret, not %s" % _kind(secret))
    secret_name = (secret.get("metadata") or {}).get("name")
    # tokens.go NewCertToken: the Secret is named after the name header.
    if secret_name != name:
        raise bad("the Secret is named %r, not %r (the token's name)" % (scrub(secret_name), name))
    data = secret.get("data")
    if not isinstance(data, dict):
        raise bad("the Secret has no data")
    for key in SECRET_KEYS:
        value = data.get(key)
        try:
            ok = isinstance(value, str) and bool(base64.b64decode(value.encode("ascii"), validate=True))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            ok = False
        if not ok:
            raise bad("the Secret's %s is missing or not base64" % key)
    if not links:
        raise bad("it holds no Link")
    # tokens.go NewCertToken: one Link per endpoint group, named <name>, or <name>-1..<name>-N when
    # there are several groups; each names the Secret as its tlsCredentials.
    expected = {name} if len(links) == 1 else {"%s-%d" % (name, i + 1) for i in range(len(links))}
    seen = set()
    result = []
    for link in links:
        if link.get("kind") != "Link" or link.get("apiVersion") != API_VERSION:
            raise bad("a document after the Secret is %s, not a %s Link" % (_kind(link), API_VERSION))
        link_name = (link.get("metadata") or {}).get("name")
        if link_name not in expected or link_name in seen:
            raise bad("a Link is named %r; expected %s" % (scrub(link_name), ", ".join(sorted(expected))))
        seen.add(link_name)
        spec = link.get("spec")
        if not isinstance(spec, dict):
            raise bad("the Link %s has no spec" % link_name)
        if spec.get("tlsCredentials") != secret_name:
            raise bad("the Link %s does not use the Secret %s as its tlsCredentials" % (link_name, secret_name))
        endpoints = spec.get("endpoints")
        if not isinstance(endpoints, list) or not endpoints or not all(
                isinstance(e, dict) and e.get("host") and e.get("port") for e in endpoints):
            raise bad("the Link %s has no endpoints with a host and port" % link_name)
        link = copy.deepcopy(link)
        if link_cost:
            link["spec"]["cost"] = link_cost
        (link.get("metadata") or {}).pop("namespace", None)
        result.append(link)
    secret = copy.deepcopy(secret)
    secret["metadata"].pop("namespace", None)
    return {"secret": secret, "links": result, "link_names": [link["metadata"]["name"] for link in result]}


def _kind(obj):
    return "%s/%s" % (obj.get("apiVersion"), obj.get("kind"))
