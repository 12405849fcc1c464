#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: connector
short_description: Manage Skupper connectors on Kubernetes and on Linux hosts
version_added: 0.1.0
description:
  - Create, update and delete Skupper C(Connector) resources (C(skupper.io/v2alpha1)).
  - A connector binds a local workload (pods chosen by a selector on Kubernetes, or a host) to a routing key, so
    that listeners with the same routing key, in any site of the network, reach it. A listener is Ready only
    when such a connector exists somewhere.
  - On Kubernetes it manages the custom resource through the API server. On Linux hosts (Skupper system sites)
    it writes C(input/resources/Connector-<name>.yaml) under the data home, atomically.
  - All input is validated before anything is written.
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
      - The routing key listeners use to reach this connector.
      - Required with O(state=present).
    type: str
  host:
    description:
      - The host name or IP address of the workload. On system sites this is how a connector finds its workload.
      - Set O(host) or, on Kubernetes, O(selector); not both.
    type: str
  selector:
    description:
      - On Kubernetes, a label selector for the pods of the workload, for example C(app=backend); set-based
        terms (C(in), C(notin), C(!key)) work too, since Skupper passes the selector to the Kubernetes API as
        it is.
    type: str
  port:
    description:
      - The port of the workload, 1 to 65535.
      - Required with O(state=present).
    type: int
  tls_credentials:
    description:
      - TLS credentials for router-to-server TLS.
      - On Kubernetes the name of a Secret (a DNS subdomain).
      - On system sites the name of one folder under C(input/certs/) (letters, digits, C(.), C(_) and C(-),
        starting with a letter or digit; no C(/), no C(..)).
    type: str
  type:
    description:
      - The connector type. Skupper treats an empty type as V(tcp).
    type: str
    choices: [tcp]
  use_client_cert:
    description:
      - Present the router's client certificate from O(tls_credentials) to the workload (mutual TLS).
    type: bool
  verify_hostname:
    description:
      - Check that the workload's certificate names the host the router connects to.
    type: bool
  include_not_ready_pods:
    description:
      - Route to pods that are not ready too (Kubernetes).
    type: bool
  expose_pods_by_name:
    description:
      - On Kubernetes, route to each selected pod by its name too, so that listeners can reach one pod.
    type: bool
  settings:
    description:
      - Additional settings, a mapping of names to strings. Numbers are turned into strings.
    type: dict
  connectors:
    description:
      - Manage several connectors of one namespace in one task, instead of O(name) and the spec options.
      - Every item is checked before anything is written, and every bad item is reported with its index and
        option (for example C(connectors[3].port)).
      - If a write fails after others were done, the task fails, RV(results) says which items were applied
        and which were not, and C(changed) is true when something was written.
      - Each item takes O(name) and the spec options of this module, and its own O(state), O(labels) and
        O(annotations) (added to the task-level ones).
    type: list
    elements: raw
    suboptions:
      name:
        description: Name of the connector.
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
      selector:
        description: As O(selector).
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
      use_client_cert:
        description: As O(use_client_cert).
        type: bool
      verify_hostname:
        description: As O(verify_hostname).
        type: bool
      include_not_ready_pods:
        description: As O(include_not_ready_pods).
        type: bool
      expose_pods_by_name:
        description: As O(expose_pods_by_name).
        type: bool
      settings:
        description: As O(settings).
        type: dict
seealso:
  - module: skupperlabs.network.listener
  - name: Skupper Connector resource
    description: The resource this module manages.
    link: https://skupper.io/docs/resources/connector.html
'''

EXAMPLES = r'''
- name: Connector for the Hello World backend in site East
  skupperlabs.network.connector:
    name: backend
    namespace: hello-world-east
    routing_key: backend
    selector: app=backend
    port: 8080

- name: The backend runs on this Linux host, on port 8080
  skupperlabs.network.connector:
    platform: podman
    name: backend
    routing_key: backend
    host: 127.0.0.1
    port: 8080

- name: All connectors of a site, pruning the ones no longer declared
  skupperlabs.network.connector:
    namespace: hello-world-east
    exclusive: true
    connectors:
      - name: backend
        routing_key: backend
        selector: app=backend
        port: 8080
      - name: database
        routing_key: db.primary
        host: db.internal.example.com
        port: 5432
'''

RETURN = r'''
resource:
  description: The connector as stored; in check mode, as it would be. Empty after deletion.
  returned: with O(name)
  type: dict
  sample:
    apiVersion: skupper.io/v2alpha1
    kind: Connector
    metadata:
      name: backend
      namespace: hello-world-east
    spec:
      routingKey: backend
      selector: app=backend
      port: 8080
action:
  description: What was done (or, in check mode, would be) to the connector.
  returned: with O(name)
  type: str
  choices: [none, create, update, delete]
  sample: create
path:
  description: The file written or removed, on system sites.
  returned: with O(name), on system platforms
  type: str
  sample: /var/lib/skupper/namespaces/default/input/resources/Connector-backend.yaml
namespace:
  description: The namespace the task worked in.
  returned: always
  type: str
  sample: hello-world-east
name:
  description: The connector's name.
  returned: with O(name)
  type: str
  sample: backend
diff:
  description: The connector before and after, with O(connectors) a list of those.
  returned: in diff mode
  type: raw
results:
  description:
    - One entry per item of O(connectors), in order, each with C(name), C(namespace), C(state),
      C(action), C(changed), C(resource), and C(path) on system sites.
    - When a write fails partway, the task fails and the entries say what happened to each item; the items
      applied before are as above, the one that failed has C(failed=true) and C(msg), and the items after it
      have C(action=not attempted) with C(planned_action). The task's C(msg) names them all.
  returned: with O(connectors)
  type: list
  elements: dict
pruned:
  description: The connectors deleted by O(exclusive), as entries like those of RV(results).
  returned: with O(connectors)
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skupperlabs.network.plugins.module_utils.engine import resource_module_kwargs, run_module
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import CONNECTOR


def main(module_class=AnsibleModule):
    # module_class: the fast path (plugins/action, plugins/plugin_utils/fast_path.py) gives its own.
    module = module_class(**resource_module_kwargs(CONNECTOR))
    run_module(module, CONNECTOR)


if __name__ == "__main__":
    main()
