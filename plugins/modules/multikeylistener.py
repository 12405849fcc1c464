#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: multikeylistener
short_description: Manage Skupper multi-key listeners on Kubernetes and on Linux hosts
version_added: 0.1.0
description:
  - Create, update and delete Skupper C(MultiKeyListener) resources (C(skupper.io/v2alpha1), Skupper 2.2 and
    later). One local host and port routes to several routing keys, by priority (failover) or by weight
    (load balancing).
  - On Kubernetes it manages the custom resource through the API server. On Linux hosts (Skupper system sites)
    it writes C(input/resources/MultiKeyListener-<name>.yaml) under the data home, atomically.
  - All input is validated before anything is written, the strategy included; on system sites no other
    listener or multi-key listener of the namespace may use the same host and port.
  - The strategy type cannot change on an existing resource; with O(recreate=true) the module deletes it and
    creates it again.
author:
  - skupperlabs.network developers (@skupperlabs)
extends_documentation_fragment:
  - skupperlabs.network.common.connection
  - skupperlabs.network.common.action_group
  - skupperlabs.network.common.resource
  - skupperlabs.network.common.bulk
  - skupperlabs.network.common.attributes
options:
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
  strategy:
    description:
      - How connections are spread over the routing keys. Exactly one of O(strategy.priority) or
        O(strategy.weighted).
      - The strategy type is immutable; see O(recreate).
      - Required with O(state=present).
    type: dict
    suboptions:
      priority:
        description:
          - Send every connection to the first reachable routing key in list order (failover).
        type: dict
        suboptions:
          routing_keys:
            description: 1 to 256 unique routing keys, highest priority first.
            type: list
            elements: str
      weighted:
        description:
          - Spread connections over the reachable routing keys in proportion to their weights (load balancing).
        type: dict
        suboptions:
          routing_keys:
            description: 1 to 256 routing keys, each mapped to an integer weight of at least 1.
            type: dict
  tls_credentials:
    description:
      - TLS credentials for client-to-router TLS.
      - On Kubernetes the name of a Secret (a DNS subdomain).
      - On system sites the name of one folder under C(input/certs/) (letters, digits, C(.), C(_) and C(-),
        starting with a letter or digit; no C(/), no C(..)).
    type: str
  require_client_cert:
    description:
      - Require clients to present a certificate (mutual TLS).
    type: bool
  observer:
    description:
      - The protocol observer for traffic metrics.
    type: str
    choices: [auto, none, http1, http2]
  settings:
    description:
      - Additional settings, a mapping of names to strings. Numbers are turned into strings.
    type: dict
  recreate:
    description:
      - When the task asks for another strategy type than the existing resource has (priority or weighted),
        delete the resource and create it again. Connections through it are interrupted.
      - Without it, such a change fails and nothing is written.
      - In check mode nothing is deleted; the result and diff show the recreation.
    type: bool
    default: false
  multikeylisteners:
    description:
      - Manage several multi-key listeners of one namespace in one task, instead of O(name) and the spec
        options.
      - Every item is checked before anything is written, and every bad item is reported with its index and
        option (for example C(multikeylisteners[3].port)).
      - If a write fails after others were done, the task fails, RV(results) says which items were applied
        and which were not, and C(changed) is true when something was written.
      - Each item takes O(name) and the spec options of this module, and its own O(state), O(labels) and
        O(annotations) (added to the task-level ones).
    type: list
    elements: raw
    suboptions:
      name:
        description: Name of the multi-key listener.
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
      host:
        description: As O(host).
        type: str
      port:
        description: As O(port).
        type: int
      strategy:
        description:
          - How connections are spread over the routing keys. Exactly one of O(strategy.priority) or
            O(strategy.weighted).
          - The strategy type is immutable; see O(recreate).
          - Required with O(state=present).
        type: dict
        suboptions:
          priority:
            description:
              - Send every connection to the first reachable routing key in list order (failover).
            type: dict
            suboptions:
              routing_keys:
                description: 1 to 256 unique routing keys, highest priority first.
                type: list
                elements: str
          weighted:
            description:
              - Spread connections over the reachable routing keys in proportion to their weights (load balancing).
            type: dict
            suboptions:
              routing_keys:
                description: 1 to 256 routing keys, each mapped to an integer weight of at least 1.
                type: dict
      tls_credentials:
        description: As O(tls_credentials).
        type: str
      require_client_cert:
        description: As O(require_client_cert).
        type: bool
      observer:
        description: As O(observer).
        type: str
        choices: [auto, none, http1, http2]
      settings:
        description: As O(settings).
        type: dict
seealso:
  - module: skupperlabs.network.listener
  - name: Skupper MultiKeyListener resource
    description: The resource this module manages.
    link: https://skupper.io/docs/resources/multikeylistener.html
'''

EXAMPLES = r'''
- name: Spread connections evenly over two backends
  skupperlabs.network.multikeylistener:
    name: mkl-backend
    host: mkl-backend
    port: 9092
    strategy:
      weighted:
        routing_keys:
          east-backend: 1
          west-backend: 1

- name: Prefer the east backend and fail over to the west one
  skupperlabs.network.multikeylistener:
    name: mkl-backend-priority
    host: mkl-backend-priority
    port: 9095
    strategy:
      priority:
        routing_keys:
          - east-backend-http
          - west-backend-http

- name: Switch an existing multi-key listener from priority to weighted (deletes and creates it)
  skupperlabs.network.multikeylistener:
    name: mkl-backend-priority
    host: mkl-backend-priority
    port: 9095
    strategy:
      weighted:
        routing_keys:
          east-backend-http: 3
          west-backend-http: 1
    recreate: true

- name: Both seed examples on a Linux host, pruning the multi-key listeners no longer declared
  skupperlabs.network.multikeylistener:
    platform: podman
    exclusive: true
    multikeylisteners:
      - name: mkl-backend
        host: 0.0.0.0
        port: 9092
        strategy:
          weighted:
            routing_keys: {east-backend: 1, west-backend: 1}
      - name: mkl-backend-priority
        host: 0.0.0.0
        port: 9095
        strategy:
          priority:
            routing_keys: [east-backend-http, west-backend-http]
'''

RETURN = r'''
resource:
  description:
    - The multi-key listener as stored; in check mode, as it would be. Empty after deletion.
    - With O(wait), as last read, with its C(status).
  returned: with O(name)
  type: dict
  sample:
    apiVersion: skupper.io/v2alpha1
    kind: MultiKeyListener
    metadata:
      name: mkl-backend
      namespace: default
      labels:
        app.kubernetes.io/managed-by: skupperlabs.network
    spec:
      host: mkl-backend
      port: 9092
      strategy:
        weighted:
          routingKeys:
            east-backend: 1
            west-backend: 1
action:
  description: What was done (or, in check mode, would be) to the multi-key listener.
  returned: with O(name)
  type: str
  choices: [none, create, update, recreate, delete]
  sample: recreate
path:
  description: The file written or removed, on system sites.
  returned: with O(name), on system platforms
  type: str
  sample: /var/lib/skupper/namespaces/default/input/resources/MultiKeyListener-mkl-backend.yaml
namespace:
  description: The namespace the task worked in.
  returned: always
  type: str
  sample: default
name:
  description: The multi-key listener's name.
  returned: with O(name)
  type: str
  sample: mkl-backend
diff:
  description: The multi-key listener before and after, with O(multikeylisteners) a list of those.
  returned: in diff mode
  type: raw
results:
  description:
    - One entry per item of O(multikeylisteners), in order, each with C(name), C(namespace), C(state),
      C(action), C(changed), C(resource), and C(path) on system sites.
    - When a write fails partway, the task fails and the entries say what happened to each item; the items
      applied before are as above, the one that failed has C(failed=true) and C(msg), and the items after it
      have C(action=not attempted) with C(planned_action). The task's C(msg) names them all.
  returned: with O(multikeylisteners)
  type: list
  elements: dict
pruned:
  description: The multi-key listeners deleted by O(exclusive), as entries like those of RV(results).
  returned: with O(multikeylisteners)
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skupperlabs.network.plugins.module_utils.engine import resource_module_kwargs, run_module
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import MULTIKEYLISTENER


def main(module_class=AnsibleModule):
    # module_class: the fast path (plugins/action, plugins/plugin_utils/fast_path.py) gives its own.
    module = module_class(**resource_module_kwargs(MULTIKEYLISTENER))
    run_module(module, MULTIKEYLISTENER)


if __name__ == "__main__":
    main()
