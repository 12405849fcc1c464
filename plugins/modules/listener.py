#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: listener
short_description: Manage Skupper listeners on Kubernetes and on Linux hosts
version_added: 0.1.0
description:
  - Create, update and delete Skupper C(Listener) resources (C(skupper.io/v2alpha1)).
  - A listener is a local host and port that carries connections to the connectors with the same routing key,
    in any site of the network.
  - On Kubernetes it manages the custom resource through the API server (one GET and no write when nothing
    changed). On Linux hosts (Skupper system sites on podman, docker or linux) it writes
    C(input/resources/Listener-<name>.yaml) under the data home, atomically; run C(skupper system reload)
    afterwards (the C(site) role's handler does) unless the site reloads by itself.
  - All input is validated before anything is written; on system sites no other listener or multi-key
    listener of the namespace may use the same host and port.
  - Manage many listeners at once, and prune the ones no longer declared, with O(listeners) and O(exclusive).
author:
  - skupperlabs.network developers (@skupperlabs)
extends_documentation_fragment:
  - skupperlabs.network.common.connection
  - skupperlabs.network.common.action_group
  - skupperlabs.network.common.resource
  - skupperlabs.network.common.bulk
  - skupperlabs.network.common.attributes
options:
  routing_key:
    description:
      - The routing key that connects this listener to connectors with the same key.
      - Dot-separated words of lower-case letters, digits and C(-).
      - Required with O(state=present).
    type: str
  host:
    description:
      - The host clients of this site connect to.
      - On Kubernetes, the name of the Service the controller creates (an RFC 1035 label).
      - On system sites, the IP address or host name the router listens on.
      - Required with O(state=present).
    type: str
  port:
    description:
      - The port clients of this site connect to, 1 to 65535.
      - Required with O(state=present).
    type: int
  tls_credentials:
    description:
      - TLS credentials for client-to-router TLS.
      - On Kubernetes the name of a Secret (a DNS subdomain).
      - On system sites the name of one folder under C(input/certs/) (letters, digits, C(.), C(_) and C(-),
        starting with a letter or digit; no C(/), no C(..)).
    type: str
  type:
    description:
      - The listener type. Skupper treats an empty type as V(tcp).
    type: str
    choices: [tcp]
  observer:
    description:
      - The protocol observer for traffic metrics (Skupper 2.2 and later).
    type: str
    choices: [auto, none, http1, http2]
  expose_pods_by_name:
    description:
      - Expose each pod of the matching connectors by name (Kubernetes).
    type: bool
  settings:
    description:
      - Additional settings, a mapping of names to strings. Numbers are turned into strings.
    type: dict
  listeners:
    description:
      - Manage several listeners of one namespace in one task, instead of O(name) and the spec options.
      - Every item is checked before anything is written, and every bad item is reported with its index and
        option (for example C(listeners[3].port)).
      - If a write fails after others were done, the task fails, RV(results) says which items were applied
        and which were not, and C(changed) is true when something was written.
      - Each item takes O(name) and the spec options of this module, and its own O(state), O(labels)
        and O(annotations) (added to the task-level ones).
      - On Kubernetes the namespace is read with one LIST request, whatever the number of items.
    type: list
    elements: raw
    suboptions:
      name:
        description: Name of the listener.
        type: str
        required: true
      state:
        description: V(present) or V(absent); defaults to the task's O(state).
        type: str
        choices: [present, absent]
      labels:
        description: Labels to set, besides the task-level O(labels).
        type: dict
      annotations:
        description: Annotations to set, besides the task-level O(annotations).
        type: dict
      routing_key:
        description: As O(routing_key).
        type: str
      host:
        description: As O(host).
        type: str
      port:
        description: As O(port).
        type: int
      tls_credentials:
        description: As O(tls_credentials).
        type: str
      type:
        description: As O(type).
        type: str
        choices: [tcp]
      observer:
        description: As O(observer).
        type: str
        choices: [auto, none, http1, http2]
      expose_pods_by_name:
        description: As O(expose_pods_by_name).
        type: bool
      settings:
        description: As O(settings).
        type: dict
seealso:
  - name: Skupper Listener resource
    description: The resource this module manages.
    link: https://skupper.io/docs/resources/listener.html
'''

EXAMPLES = r'''
- name: Listener for the Hello World backend in site West
  skupperlabs.network.listener:
    name: backend
    namespace: hello-world-west
    routing_key: backend
    host: backend
    port: 8080

- name: The same listener on a Linux host (a podman system site), then reload the site
  skupperlabs.network.listener:
    platform: podman
    name: backend
    routing_key: backend
    host: 0.0.0.0
    port: 8080
  notify: Reload Skupper

- name: Wait until a connector somewhere in the network makes it Ready
  skupperlabs.network.listener:
    name: backend
    namespace: hello-world-west
    routing_key: backend
    host: backend
    port: 8080
    wait: true
    wait_for: ready
    wait_timeout: 120

- name: Declare all listeners of a namespace and prune the ones this collection made before
  skupperlabs.network.listener:
    namespace: hello-world-west
    exclusive: true
    listeners:
      - name: backend
        routing_key: backend
        host: backend
        port: 8080
      - name: database
        routing_key: db.primary
        host: database
        port: 5432
        observer: none

- name: Set kubeconfig and namespace once for a group of tasks
  module_defaults:
    group/skupperlabs.network.skupper:
      kubeconfig: /etc/skupper/west.kubeconfig
      namespace: hello-world-west
  block:
    - name: Remove the backend listener
      skupperlabs.network.listener:
        name: backend
        state: absent
'''

RETURN = r'''
resource:
  description:
    - The listener as stored (as the API server answered, or as written to the file); in check mode, as it
      would be. Empty after deletion.
    - With O(wait), as last read, with its C(status).
  returned: with O(name)
  type: dict
  sample:
    apiVersion: skupper.io/v2alpha1
    kind: Listener
    metadata:
      name: backend
      namespace: hello-world-west
      labels:
        app.kubernetes.io/managed-by: skupperlabs.network
    spec:
      routingKey: backend
      host: backend
      port: 8080
action:
  description: What was done (or, in check mode, would be) to the listener.
  returned: with O(name)
  type: str
  choices: [none, create, update, delete]
  sample: update
path:
  description: The file written or removed, on system sites.
  returned: with O(name), on system platforms
  type: str
  sample: /var/lib/skupper/namespaces/default/input/resources/Listener-backend.yaml
namespace:
  description: The namespace the task worked in.
  returned: always
  type: str
  sample: hello-world-west
name:
  description: The listener's name.
  returned: with O(name)
  type: str
  sample: backend
diff:
  description: The listener before and after (metadata and spec), with O(listeners) a list of those.
  returned: in diff mode
  type: raw
results:
  description:
    - One entry per item of O(listeners), in order, each with C(name), C(namespace), C(state),
      C(action), C(changed), C(resource), and C(path) on system sites.
    - When a write fails partway, the task fails and the entries say what happened to each item; the items
      applied before are as above, the one that failed has C(failed=true) and C(msg), and the items after it
      have C(action=not attempted) with C(planned_action). The task's C(msg) names them all.
  returned: with O(listeners)
  type: list
  elements: dict
pruned:
  description: The listeners deleted by O(exclusive), as entries like those of RV(results).
  returned: with O(listeners)
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skupperlabs.network.plugins.module_utils.engine import resource_module_kwargs, run_module
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import LISTENER


def main(module_class=AnsibleModule):
    # module_class: the fast path (plugins/action, plugins/plugin_utils/fast_path.py) gives its own.
    module = module_class(**resource_module_kwargs(LISTENER))
    run_module(module, LISTENER)


if __name__ == "__main__":
    main()
