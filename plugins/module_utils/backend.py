# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface both back ends implement, and the only one the engine and info use.

``KubernetesBackend`` (``kubernetes_api.py``) stores resources through the
Kubernetes API; ``SystemSiteBackend`` (``system_site.py``) as files of a
Skupper system site. The engine never reaches past these methods and
attributes into a back end.

Platform rules (class attributes and static methods, usable before any I/O):

``name``
    ``kubernetes`` or ``system``.
``server_dry_run``
    True when check mode can send writes as server dry runs.
``supports_selector``
    Connectors may select pods (Kubernetes only).
``host_error(value)``, ``name_error(value)``
    Why ``value`` is not a host, or a resource name, Skupper accepts on this
    platform (None when it is).
``credentials_error(value)``
    Why ``value`` is not a ``tlsCredentials`` name here (a Secret on Kubernetes,
    a folder of ``input/certs/`` on a system site), or None.
``token_redeemer``
    ``"controller"`` when Skupper redeems an AccessToken resource stored here
    (Kubernetes), ``"module"`` when the module must redeem it itself and store
    the Secret and Link(s) it gets (system sites, which have no grant server).
``host_port_reason``
    Why two resources of a namespace may not share host and port here (which
    kinds clash is the kind table's ``host_port_rivals``, per platform).
``immutable_base``
    ``"existing"`` when an immutable field is checked against the stored
    object (the API server's rule), ``"running"`` when Skupper checks it
    against the running site (system sites, at reload).

Errors: every OS error (a full disk, a file or folder of another user, a file
that vanished) and every HTTP or transport error (a refusal, a lost connection,
a timeout, a server that does not speak the Kubernetes API) reaches the caller
as a SkupperError whose message names the file or the request; ConflictError
(a SkupperError) when the object changed under us and a fresh read may succeed.
Nothing else escapes a back end.

Reading (never writes; raises SkupperError with a clear message):

``default_namespace``
    The namespace when the task names none.
``get(kind, namespace, name)``
    The stored object, or None.
``list(kind, namespace, label_selector=None)``
    ``{name: object}`` of every resource of the kind in the namespace.
``running(kind, namespace, name)``
    The object as the running site holds it, or None (Kubernetes: None).
``read_status(kind, namespace, name, desired_spec)``
    The object with the status to wait on; a resource whose running spec
    differs from ``desired_spec`` is reported Pending.
``observed(kind, namespace, obj)``
    ``obj`` with its current status, for the info modules.
``location(kind, namespace, name)``
    The file behind a resource (system sites), else None.
``write_refusal(kind, namespace, name)``
    Why no write may touch this resource (a system site that declares it
    twice), or None; asked before the first write, so check mode and the
    list form refuse it as a real run would.

Writing (all under ``locked(namespace)``; ``dry_run`` only where
``server_dry_run``):

``locked(namespace)``
    Context manager serialising writers of one namespace (a no-op where the
    server serialises them). Entered before the first read and left after the
    last write, so what was read is what the writes are decided on; a new
    namespace is locked too (system sites: a lock file beside ``namespaces/``,
    created by the first write, so reads and check mode create nothing).
    Re-entrant; ``create``, ``replace`` and ``delete`` take it themselves when
    called outside it.
``check_writable(namespace)``
    Fails, before the first write, when nothing could be written.
``create(kind, namespace, obj, dry_run=False)``, ``replace(...)``
    Store ``obj``; return it as stored.
``delete(kind, namespace, name, dry_run=False)``
    Remove it; a resource already gone is not an error.

Time: a Kubernetes request is bounded by ``kubernetes_api.REQUEST_TIMEOUT``
(30 s) once, with no retries of the HTTP library below the back end's own
(transient statuses and lost connections, ``TRANSIENT_RETRY_DELAYS``; never a
timed-out request). Waiting for status is the engine's (``wait_timeout``).

Links: a system site never reads or writes through a symbolic link anywhere
under the data home's ``namespaces/`` (input and runtime); it refuses instead.

``warnings``
    A list of sentences the back end collected on the way (files Skupper
    ignores, fields the cluster pruned); the module returns them as Ansible
    warnings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class Backend:
    """Shared defaults; see the module docstring for what each back end promises."""

    name = None
    server_dry_run = False
    supports_selector = False
    immutable_base = "existing"
    default_namespace = "default"

    def __init__(self):
        self.warnings = []

    def warn(self, message):
        if message not in self.warnings:
            self.warnings.append(message)

    def running(self, kind, namespace, name):
        """Only system sites keep a running copy apart from what is stored."""
        return None

    def location(self, kind, namespace, name):
        return None

    def write_refusal(self, kind, namespace, name):
        return None
