"""One interface over the two places a test can check what the modules wrote.

``SystemSite`` reads a Skupper system-site data home directly from disk;
``KubeSite`` reads a cluster (the API test double, or a real one) through the
``kubernetes`` client, never through the double's internals, so the same
assertions hold against a real cluster.
"""

import hashlib
import os

import yaml

PLURALS = {"Listener": "listeners", "MultiKeyListener": "multikeylisteners", "Connector": "connectors",
           "Site": "sites", "Link": "links", "AccessToken": "accesstokens", "AccessGrant": "accessgrants"}
MANAGED = {"app.kubernetes.io/managed-by": "skupperlabs.network"}


class SystemSite:
    platform = "linux"
    double = None

    def __init__(self, data_home, namespace="default"):
        self.data_home = str(data_home)
        self.namespace = namespace

    @property
    def args(self):
        return {"platform": self.platform, "data_home": self.data_home, "namespace": self.namespace}

    def resources_dir(self):
        return os.path.join(self.data_home, "namespaces", self.namespace, "input", "resources")

    def path(self, kind, name):
        return os.path.join(self.resources_dir(), "%s-%s.yaml" % (kind, name))

    def read(self, kind, name):
        try:
            with open(self.path(kind, name)) as handle:
                return yaml.safe_load(handle)
        except FileNotFoundError:
            return None

    def put(self, kind, name, spec, labels=None):
        os.makedirs(self.resources_dir(), exist_ok=True)
        obj = {"apiVersion": "skupper.io/v2alpha1", "kind": kind,
               "metadata": {"name": name, "namespace": self.namespace}, "spec": spec}
        if labels:
            obj["metadata"]["labels"] = labels
        with open(self.path(kind, name), "w") as handle:
            yaml.safe_dump(obj, handle)

    def names(self, kind):
        try:
            entries = os.listdir(self.resources_dir())
        except FileNotFoundError:
            return []
        prefix = kind + "-"
        return sorted(e[len(prefix):-5] for e in entries if e.startswith(prefix) and e.endswith(".yaml"))

    def snapshot(self):
        """Every file and directory under the data home, with a content hash and mtime."""
        seen = {}
        for folder, dirs, files in os.walk(self.data_home):
            seen[folder] = "dir"
            for name in files:
                path = os.path.join(folder, name)
                with open(path, "rb") as handle:
                    seen[path] = (hashlib.sha256(handle.read()).hexdigest(), os.stat(path).st_mtime_ns)
        return seen

    def write_runtime(self, kind, name, obj):
        folder = os.path.join(self.data_home, "namespaces", self.namespace, "runtime", "resources")
        os.makedirs(folder, exist_ok=True)
        temp = os.path.join(folder, ".%s-%s.tmp" % (kind, name))
        with open(temp, "w") as handle:
            yaml.safe_dump(obj, handle)
        os.rename(temp, os.path.join(folder, "%s-%s.yaml" % (kind, name)))


class KubeSite:
    platform = "kubernetes"

    def __init__(self, target):
        self.target = target
        self.namespace = target.namespace
        self.double = target.double

    @property
    def args(self):
        return {"kubeconfig": self.target.kubeconfig, "namespace": self.namespace}

    def read(self, kind, name):
        from kubernetes.client.rest import ApiException
        try:
            return self.target.custom.get_namespaced_custom_object(
                "skupper.io", "v2alpha1", self.namespace, PLURALS[kind], name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def put(self, kind, name, spec, labels=None):
        obj = {"apiVersion": "skupper.io/v2alpha1", "kind": kind,
               "metadata": {"name": name, "namespace": self.namespace}, "spec": spec}
        if labels:
            obj["metadata"]["labels"] = labels
        return self.target.custom.create_namespaced_custom_object(
            "skupper.io", "v2alpha1", self.namespace, PLURALS[kind], obj)

    def _list(self, kind):
        return self.target.custom.list_namespaced_custom_object(
            "skupper.io", "v2alpha1", self.namespace, PLURALS[kind])["items"]

    def names(self, kind):
        return sorted(item["metadata"]["name"] for item in self._list(kind))

    def snapshot(self):
        """Every Skupper object of the namespace with its resourceVersion, and the double's global counter."""
        seen = {}
        for kind in PLURALS:
            for item in self._list(kind):
                seen[(kind, item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
        if self.double is not None:
            # Bumped by every stored write of any object, so a write elsewhere shows too.
            seen["global resourceVersion"] = self.double.resource_version
        return seen
