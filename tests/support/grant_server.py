"""A TEST DOUBLE of Skupper's AccessGrant server, for the tests of skupperlabs.network.

This is not Skupper and is never used by the collection itself. It answers access
token redemptions the way the Skupper controller's grant server does, over real
HTTPS, so that ``plugins/module_utils/redemption.py`` (and the modules on it) can be
tested against something that refuses, counts and expires as Skupper does.
Built from github.com/skupperproject/skupper (main of 2026-07, commit 80b1ba6d;
the same in 2.0.0 to 2.2.1), each behaviour with its source file in a comment:

* ``internal/kube/grants/server.go`` + ``internal/utils/tlscfg/tls.go``: HTTPS with
  TLS 1.3 at least; its certificate is signed by a CA made at start with
  ``cryptography`` (EC P-256, like Skupper's ``skupper-grant-server-ca``, whose
  ``ca.crt`` is the token's ``ca``); the certificate names the bind address (IP
  SAN) and ``localhost`` and any ``hostnames`` given.
* ``internal/kube/grants/grants.go``: ``checkGrant`` (redemptionsAllowed 0 -> 1,
  a generated 24-letter code unless one is given, expiration = now + the
  expirationWindow, 10 minutes when there is none, an invalid window leaves no
  expiration time), ``claimUrl`` (``https://<base url>/<grant UID>``),
  ``ServeHTTP`` (405 "Only POST is supported" for any other method, the key from
  the path, the whole body as the code, ``name`` and ``subject`` headers with
  their fallbacks), ``checkAndUpdateAccessToken`` (in this order: 404 "No such
  claim" for an unknown grant, 500 "Corrupted claim" for an unreadable
  expiration, 404 "No such claim" once expired, 404 "No such access granted"
  when the redemptions are used up, 403 "Redemption of access token refused"
  for a wrong code; a redemption is counted only for the right code, before the
  answer is generated), ``keyFromUrl`` (``redeem_by_key``: ``/<namespace>/<name>``).
  Errors are Go's ``http.Error``: the text and a newline, ``text/plain;
  charset=utf-8``, ``X-Content-Type-Options: nosniff``.
* ``internal/kube/controller/controller.go`` ``generateLinkConfig`` and
  ``internal/kube/grants/tokens.go``: 500 "Site not yet defined for <ns>", 500
  "Edge sites cannot accept incoming links from remote sites", 500 "No valid
  endpoints found for site"; otherwise one Link per endpoint group holding the
  site's ``inter-router`` and ``edge`` endpoints, named after the ``name``
  header (``<name>-1``.. when there are several groups), ``tlsCredentials`` the
  Secret of the same name; ``Write``: ``---`` before each object, the Secret
  first, objects as the Kubernetes YAML serializer writes them (keys sorted,
  ``creationTimestamp: null``, the Link's ``status: {}``).
* ``internal/certs/certs.go`` ``GenerateSecret``: a ``kubernetes.io/tls`` Secret
  with ``tls.crt``, ``tls.key`` (RSA 2048, PKCS#1 "RSA PRIVATE KEY") and
  ``ca.crt`` (the site CA, ``skupper-site-ca``, RSA 2048 as Skupper requires);
  common name = the subject; every endpoint host as a DNS SAN (and as an IP SAN
  when it is an IP); valid 5 years; server and client auth.

What it leaves out
------------------
* No Kubernetes: grants are registered with ``add_grant`` (not AccessGrant
  objects), there is no grant status to watch, no Site, SecuredAccess or
  autoconfiguration (``autoconfigure.go``), no ``issuer`` (Skupper's grant server
  ignores the grant's issuer too: it signs with the Site's defaultIssuer).
* No 503 "Internal error" (a failed status update) and no 400 "Request body
  not valid" (Python reads every body it is sent).
* Go's map order: with several endpoint groups Skupper numbers the Links in a
  random order; this double numbers them in sorted group order.
* No HTTP/2 (Skupper's client does not use it either), no keep-alive reuse
  tests, Go's 60 s read/write timeouts are 60 s socket timeouts here.
* YAML quoting differs in style (PyYAML quotes ``'55671'``, Go ``"55671"``).

Extras for tests, which Skupper does not have: ``answer_with`` (any status and
text), ``redirect_to`` (a 3xx), ``tls_versions`` (e.g. a TLS 1.2-only server),
``HangingServer`` (accepts and never answers). The request log (``requests``)
holds method, path, headers, body length and the body itself (``repr`` hides
it); nothing here prints or logs a code.
"""

import base64
import dataclasses
import datetime
import ipaddress
import re
import os
import secrets
import socket
import ssl
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, Tuple
from urllib.parse import unquote, urlsplit

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# internal/utils/utils.go RandomId: letters and digits.
ALPHANUMERICS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# internal/kube/grants/grants.go checkGrant: no expirationWindow -> 10 minutes (the CRD's description
# says 15m; the code wins).
DEFAULT_EXPIRATION = datetime.timedelta(minutes=10)
# Skupper's router ports (the inter-router and edge RouterAccess roles).
INTER_ROUTER_PORT, EDGE_PORT = "55671", "45671"
# net/http: a handler's output larger than this without Content-Length is sent chunked.
GO_CHUNKING_THRESHOLD = 2048


def random_id(length=24):
    """internal/utils/utils.go RandomId (grants.go uses 24 for a grant's code)."""
    return "".join(secrets.choice(ALPHANUMERICS) for unused in range(length))


GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)")
GO_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text):
    """time.ParseDuration, which grants.go uses for expirationWindow; None when Go would refuse it."""
    if not isinstance(text, str) or not text:
        return None
    sign = 1
    body = text
    if body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return datetime.timedelta(0)
    pos, total = 0, 0.0
    while pos < len(body):
        match = GO_DURATION.match(body, pos)
        if not match:
            return None
        total += float(match.group(1)) * GO_UNITS[match.group(2)]
        pos = match.end()
    if pos == 0:
        return None
    return datetime.timedelta(seconds=sign * total)


def rfc3339(moment):
    """time.Format(time.RFC3339): whole seconds and the offset."""
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


class CertificateAuthority:
    """A CA made at start: EC P-256 for the grant server's, RSA 2048 for the site's (certs.go reads
    the site CA's key as PKCS#1 RSA)."""

    def __init__(self, common_name, kind="ec"):
        if kind == "ec":
            self.key = ec.generate_private_key(ec.SECP256R1())
        else:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=5 * 365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(self.key, hashes.SHA256()))
        self.pem = _pem(self.cert)

    def issue(self, common_name, dns_names=(), ips=(), key=None, days=5 * 365):
        """A leaf certificate; ``key`` defaults to a new EC P-256 key. Returns (cert PEM, key)."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        sans = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(self.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return _pem(builder.sign(self.key, hashes.SHA256())), key


def _key_pem(key, pkcs1=False):
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if pkcs1 else serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode("ascii")


@dataclasses.dataclass
class Grant:
    """What grants.go keeps of an AccessGrant: its spec as defaulted by checkGrant and its status."""

    namespace: str
    name: str
    uid: str
    code: str = dataclasses.field(repr=False)
    redemptions_allowed: int
    expiration_time: str  # RFC 3339, "" when the window was invalid
    url: str
    ca: str = dataclasses.field(repr=False)
    redemptions: int = 0

    def token(self, name=None):
        """The AccessToken as ``skupper token issue`` writes it (token/kube/token_issue.go: named after
        the grant)."""
        return {"apiVersion": "skupper.io/v2alpha1", "kind": "AccessToken",
                "metadata": {"name": name or self.name},
                "spec": {"url": self.url, "code": self.code, "ca": self.ca}}

    def token_yaml(self, name=None):
        return yaml.safe_dump(self.token(name), default_flow_style=False, sort_keys=False)


@dataclasses.dataclass
class Request:
    """One request as the server received it. ``body`` is the code sent: kept out of repr."""

    method: str
    path: str
    headers: List[Tuple[str, str]]
    body_length: int
    status: int = 0
    reason: str = ""
    body: bytes = dataclasses.field(default=b"", repr=False)

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "grant-server-double"
    sys_version = ""

    def setup(self):
        # server.go: Go completes the TLS handshake per connection; a failed one never reaches the handler.
        self.request.settimeout(60)  # server.go: ReadTimeout/WriteTimeout 60 s
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.server.double.tls_failures += 1
            self.handshake_failed = True
        else:
            self.handshake_failed = False
        super().setup()

    def handle(self):
        if self.handshake_failed:
            return
        super().handle()

    def log_message(self, *args):  # never print requests (they may carry codes in other doubles' hands)
        pass

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self):
        double = self.server.double
        body = self._read_body()
        record = Request(method=self.command, path=self.path, headers=list(self.headers.items()),
                         body_length=len(body), body=body)
        with double.lock:
            double.requests.append(record)
        status, headers, payload = double.answer(self.command, self.path, self.headers, body)
        record.status = status
        record.reason = payload.decode("utf-8", "replace").strip() if status != 200 else ""
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        chunked = status == 200 and len(payload) > GO_CHUNKING_THRESHOLD
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if chunked:
            for start in range(0, len(payload), 4096):
                piece = payload[start:start + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(payload)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, double, context):
        self.double = double
        self.context = context
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # The handshake runs in the connection's thread (_Handler.setup), so one stuck client blocks no other.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):  # a client that went away is not a test failure
        pass


def _go_error(status, text):
    """net/http Error: the text and a newline, as plain text, no sniffing."""
    return status, [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")], \
        (text + "\n").encode("utf-8")


class GrantServer:
    """The grant server of one Kubernetes site (namespace ``namespace``).

    ``endpoints`` are the Site's status endpoints (``[{name, host, port, group}]``); by default the
    inter-router and edge endpoints of the router group ``skupper-router`` on ``link_host`` (default
    the bind address). Use as a context manager, or ``start()``/``stop()``.
    """

    def __init__(self, host="127.0.0.1", port=0, namespace="default", hostnames=(), endpoints=None,
                 link_host=None, redeem_by_key=False, tls_versions=(ssl.TLSVersion.TLSv1_3, None),
                 base_url=None, certificate_hosts=None):
        self.host = host
        # Extra for tests: the names and addresses the server certificate holds (default: the bind
        # address, localhost and ``hostnames``), to test a certificate for another host.
        self.certificate_hosts = certificate_hosts
        self.port = port
        self.namespace = namespace
        self.hostnames = tuple(hostnames)
        self.redeem_by_key = redeem_by_key  # grants/config.go: --allow-redeem-by-key
        self.base_url = base_url
        self.lock = threading.Lock()
        self.requests: List[Request] = []
        self.tls_failures = 0
        self.grants = {}        # uid -> Grant (grants.go Grants.grants)
        self.grant_index = {}   # "ns/name" -> uid (grants.go Grants.grantIndex)
        # Generator state (controller.go generateLinkConfig, tokens.go NewTokenGenerator).
        self.site_defined = True
        self.edge = False
        self.issuer_present = True
        self.endpoints = endpoints
        self.link_host = link_host or host
        # Extras for tests (not Skupper): a fixed answer, a redirect.
        self._fixed_answer = None
        self._redirect = None
        self.ca = CertificateAuthority("skupper-grant-server-ca", "ec")
        self.site_ca = CertificateAuthority("skupper-site-ca", "rsa")
        self.tls_versions = tls_versions
        self._server = None
        self._thread = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def _context(self):
        wanted = self.certificate_hosts
        if wanted is None:
            wanted = [self.host, "localhost"] + list(self.hostnames)
        ips, names = [], list(wanted)
        for candidate in wanted:
            try:
                ips.append(str(ipaddress.ip_address(candidate)))
            except ValueError:
                pass
        names = [n for n in names if n not in ips]
        cert_pem, key = self.ca.issue("skupper-grant-server", dns_names=names, ips=ips)
        self.cert_pem = cert_pem
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        low, high = self.tls_versions
        context.minimum_version = low  # tlscfg.Modern(): MinVersion TLS 1.3
        if high is not None:
            context.maximum_version = high
        with tempfile.TemporaryDirectory() as folder:
            cert_file, key_file = os.path.join(folder, "tls.crt"), os.path.join(folder, "tls.key")
            with open(cert_file, "w") as handle:
                handle.write(cert_pem)
            with open(key_file, "w") as handle:
                handle.write(_key_pem(key))
            context.load_cert_chain(cert_file, key_file)
        return context

    def start(self):
        self._server = _TLSServer((self.host, self.port), self, self._context())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="grant-server-double")
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def address(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (host, self.port)

    # -- grants (grants.go checkGrant, claimUrl) -------------------------------------------------------

    def add_grant(self, name, namespace=None, code=None, redemptions_allowed=0, expiration_window=None,
                  expiration_time=None, uid=None):
        """Register an AccessGrant as grants.go checkGrant would leave it; returns the Grant.

        ``expiration_time`` (a datetime or an RFC 3339 text) replaces the computed one, to test expiry.
        """
        namespace = namespace or self.namespace
        uid = uid or str(uuid.uuid4())
        # grants.go checkGrant: "if RedemptionsAllowed is not set default to 1".
        allowed = redemptions_allowed or 1
        if expiration_time is not None:
            expiration = expiration_time if isinstance(expiration_time, str) else rfc3339(expiration_time)
        elif expiration_window:
            window = parse_go_duration(expiration_window)
            # grants.go: an invalid duration is reported in the status and no expiration time is set.
            expiration = "" if window is None else rfc3339(datetime.datetime.now(datetime.timezone.utc) + window)
        else:
            expiration = rfc3339(datetime.datetime.now(datetime.timezone.utc) + DEFAULT_EXPIRATION)
        # grants.go claimUrl: <scheme>://<base url>/<UID>.
        url = "https://%s/%s" % (self.base_url or self.address, uid)
        grant = Grant(namespace=namespace, name=name, uid=uid, code=code or random_id(24),
                      redemptions_allowed=allowed, expiration_time=expiration, url=url, ca=self.ca.pem)
        with self.lock:
            key = "%s/%s" % (namespace, name)
            old = self.grant_index.get(key)
            if old is not None and old != uid:  # grants.go record: a new UID replaces the old grant
                self.grants.pop(old, None)
            self.grant_index[key] = uid
            self.grants[uid] = grant
        return grant

    def remove_grant(self, grant):
        """grants.go remove: the AccessGrant was deleted."""
        with self.lock:
            self.grant_index.pop("%s/%s" % (grant.namespace, grant.name), None)
            self.grants.pop(grant.uid, None)

    # -- extras for tests ------------------------------------------------------------------------------

    def answer_with(self, status, text):
        """Answer every request with ``status`` and ``text`` (Go's http.Error shape); None to stop."""
        self._fixed_answer = None if status is None else (status, text)

    def redirect_to(self, location, status=307):
        """Answer every request with a redirect to ``location``; None to stop."""
        self._redirect = None if location is None else (status, location)

    # -- the handler (grants.go ServeHTTP) -------------------------------------------------------------

    def _key(self, path):
        # grants.go keyFromUrl: by namespace/name only with RedeemByKey; otherwise the path without "/".
        if self.redeem_by_key and len(path) > 0 and "/" in path[1:]:
            return path[1:]
        return "".join(path.split("/"))

    def _get(self, key):
        # grants.go get
        if self.redeem_by_key and "/" in key and key in self.grant_index:
            key = self.grant_index[key]
        return self.grants.get(key)

    def answer(self, method, raw_path, headers, body):
        if self._redirect is not None:
            status, location = self._redirect
            return status, [("Location", location), ("Content-Type", "text/html; charset=utf-8")], \
                ('<a href="%s">Temporary Redirect</a>.\n' % location).encode()
        if self._fixed_answer is not None:
            return _go_error(*self._fixed_answer)
        # grants.go ServeHTTP: the method first.
        if method != "POST":
            return _go_error(405, "Only POST is supported")
        path = unquote(urlsplit(raw_path).path)
        with self.lock:
            grant, error = self._check_and_update(self._key(path), body)
        if error:
            return _go_error(*error)
        # grants.go ServeHTTP: no name header -> the grant's name; no subject -> the name.
        name = headers.get("name") or grant.name
        subject = headers.get("subject") or name
        try:
            payload = self.generate(grant.namespace, name, subject)
        except _GeneratorError as exc:
            return _go_error(500, str(exc))
        return 200, [("Content-Type", "text/plain; charset=utf-8")], payload

    def _check_and_update(self, key, body):
        # grants.go checkAndUpdateAccessToken, in its order.
        grant = self._get(key)
        if grant is None:
            return None, (404, "No such claim")
        try:
            expiration = datetime.datetime.fromisoformat(grant.expiration_time.replace("Z", "+00:00"))
            if expiration.tzinfo is None:
                raise ValueError("no offset")
        except ValueError:
            return None, (500, "Corrupted claim")
        if expiration < datetime.datetime.now(datetime.timezone.utc):
            return None, (404, "No such claim")
        if grant.redemptions_allowed <= grant.redemptions:
            return None, (404, "No such access granted")
        if grant.code.encode("utf-8") != body:
            return None, (403, "Redemption of access token refused")
        grant.redemptions += 1  # counted before the answer is generated
        return grant, None

    # -- the answer (controller.go generateLinkConfig, tokens.go, certs.go) ----------------------------

    def site_endpoints(self):
        if self.endpoints is not None:
            return list(self.endpoints)
        return [{"name": "inter-router", "host": self.link_host, "port": INTER_ROUTER_PORT, "group": "skupper-router"},
                {"name": "edge", "host": self.link_host, "port": EDGE_PORT, "group": "skupper-router"}]

    def generate(self, namespace, name, subject):
        if not self.site_defined:  # controller.go generateLinkConfig
            raise _GeneratorError("Site not yet defined for %s" % namespace)
        if not self.issuer_present:  # tokens.go NewTokenGenerator: loadCA failed
            raise _GeneratorError("Could not get issuer for requested certificate")
        if self.edge:  # tokens.go setValidHostsFromSite
            raise _GeneratorError("Edge sites cannot accept incoming links from remote sites")
        endpoints = self.site_endpoints()
        hosts = [e.get("host", "") for e in endpoints]
        if not hosts:
            raise _GeneratorError("No valid endpoints found for site")
        groups = {}
        for endpoint in endpoints:  # tokens.go: only inter-router and edge endpoints, by group
            if endpoint.get("name") in ("inter-router", "edge"):
                groups.setdefault(endpoint.get("group", ""), []).append(dict(endpoint))
        secret = self._secret(name, subject, hosts)
        links = []
        ordered = [groups[g] for g in sorted(groups)]
        for i, group in enumerate(ordered):
            link_name = name if len(ordered) == 1 else "%s-%d" % (name, i + 1)
            links.append({"apiVersion": "skupper.io/v2alpha1", "kind": "Link",
                          "metadata": {"creationTimestamp": None, "name": link_name},
                          "spec": {"endpoints": [{k: e[k] for k in sorted(e) if e[k]} for e in group],
                                   "tlsCredentials": name},
                          "status": {}})
        # tokens.go CertToken.Write: "---" then each object.
        out = ""
        for obj in [secret] + links:
            out += "---\n" + yaml.safe_dump(obj, default_flow_style=False, sort_keys=True, width=1 << 30)
        return out.encode("utf-8")

    def _secret(self, name, subject, hosts):
        # certs.go GenerateSecret: RSA 2048, CN = subject, each host a DNS SAN (and an IP SAN if an IP).
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        dns, ips = [], []
        for host in hosts:
            host = host.strip()
            try:
                ips.append(str(ipaddress.ip_address(host)))
            except ValueError:
                pass
            dns.append(host)
        cert_pem, unused = self.site_ca.issue(subject, dns_names=dns, ips=ips, key=key)

        def b64(text):
            return base64.b64encode(text.encode("ascii")).decode("ascii")
        return {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"creationTimestamp": None, "name": name},
                "type": "kubernetes.io/tls",
                "data": {"ca.crt": b64(self.site_ca.pem), "tls.crt": b64(cert_pem),
                         "tls.key": b64(_key_pem(key, pkcs1=True))}}


class _GeneratorError(Exception):
    pass


class HangingServer:
    """Extra for tests (not Skupper): a peer that accepts TCP connections and never answers.

    With ``tls`` it completes the TLS 1.3 handshake (a certificate from ``ca``, a CertificateAuthority)
    and then reads and never answers; without it, it never even starts TLS.
    """

    def __init__(self, host="127.0.0.1", ca=None, tls=False):
        self.host = host
        self.ca = ca or CertificateAuthority("hanging-ca")
        self.tls = tls
        self.connections = []
        self._stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._context = None
        if tls:
            cert_pem, key = self.ca.issue("hanging", dns_names=["localhost"], ips=[host])
            with tempfile.TemporaryDirectory() as folder:
                cert_file, key_file = os.path.join(folder, "c"), os.path.join(folder, "k")
                with open(cert_file, "w") as handle:
                    handle.write(cert_pem)
                with open(key_file, "w") as handle:
                    handle.write(_key_pem(key))
                self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                self._context.minimum_version = ssl.TLSVersion.TLSv1_3
                self._context.load_cert_chain(cert_file, key_file)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, unused = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections.append(conn)
            if self._context is not None:
                threading.Thread(target=self._handshake, args=(conn,), daemon=True).start()

    def _handshake(self, conn):
        try:
            tls = self._context.wrap_socket(conn, server_side=True)
            self.connections.append(tls)
            while not self._stop.is_set() and tls.recv(65536):
                pass  # read the request, never answer
        except (OSError, ssl.SSLError):
            pass

    def url(self, path="/grant"):
        return "https://%s:%d%s" % (self.host, self.port, path)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for conn in self.connections:
            try:
                conn.close()
            except OSError:
                pass
        self.sock.close()
        self._thread.join(2)


def unused_port(host="127.0.0.1"):
    """A port where nothing listens (bound and closed at once)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


__all__ = ["GrantServer", "Grant", "Request", "HangingServer", "CertificateAuthority", "parse_go_duration",
           "random_id", "rfc3339", "unused_port"]
