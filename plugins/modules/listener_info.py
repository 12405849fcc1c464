#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: listener_info
short_description: Report Skupper listeners and their status, on Kubernetes and on Linux hosts
version_added: 0.1.0
description:
  - Read Skupper C(Listener) resources of a namespace, or one by name, with their status, as flat entries.
  - On Kubernetes one request reads the whole namespace (a LIST; a GET with O(name)).
  - On Linux hosts (Skupper system sites) the spec comes from C(input/resources/) and the status from
    C(runtime/resources/), which the running site writes.
  - Never changes anything.
author:
  - skupperlabs.network developers (@skupperlabs)
extends_documentation_fragment:
  - skupperlabs.network.common.connection
  - skupperlabs.network.common.info
options:
  routing_key:
    description:
      - Report only resources that use this routing key.
    type: str
seealso:
  - module: skupperlabs.network.listener
'''

EXAMPLES = r'''
- name: Every listener of a namespace
  skupperlabs.network.listener_info:
    namespace: hello-world-west
  register: west

- name: Fail when a listener has no connector anywhere in the network
  ansible.builtin.assert:
    that: west.listeners | rejectattr('has_matching_connector') | list | length == 0
    fail_msg: "No connector for {{ west.listeners | rejectattr('has_matching_connector') | map(attribute='routing_key') | join(', ') }}"

- name: Listeners of a system site that use one routing key
  skupperlabs.network.listener_info:
    platform: podman
    routing_key: backend
'''

RETURN = r'''
listeners:
  description: One entry per resource, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The resource's name.
      type: str
      sample: backend
    namespace:
      description: Its namespace.
      type: str
      sample: hello-world-west
    status:
      description:
        - C(Ready), C(Pending) or C(Error), as Skupper reports it. C(Pending) when no status was reported yet.
        - On system sites, from C(runtime/resources/); C(Pending) when the site has not started (message
          C(site not initialized ...)) or has not been reloaded since the resource changed.
      type: str
      sample: Ready
    message:
      description: Skupper's status message (C(OK) when ready), or why the status is C(Pending).
      type: str
      sample: OK
    conditions:
      description: The resource's conditions (C(Configured), C(Matched), C(Ready), ...), as Skupper wrote them.
      type: list
      elements: dict
    labels:
      description: The resource's labels.
      type: dict
    resource:
      description: The raw resource, with C(status).
      type: dict
    routing_key:
      description: The listener's routing key; every spec field is there, in snake_case.
      type: str
      sample: backend
    host:
      description: The listener's host.
      type: str
    port:
      description: The listener's port.
      type: int
    has_matching_connector:
      description: Whether a connector with the listener's routing key exists somewhere in the network
        (C(hasMatchingConnector), or C(matchingConnectorCount > 0)).
      type: bool
      sample: true
    matching_connector_count:
      description: C(matchingConnectorCount), where Skupper reports it.
      type: int
      returned: when present
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skupperlabs.network.plugins.module_utils.info import info_module_kwargs, run_info_module
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import LISTENER


def main(module_class=AnsibleModule):
    # module_class: the fast path (plugins/action, plugins/plugin_utils/fast_path.py) gives its own.
    module = module_class(**info_module_kwargs(LISTENER))
    run_info_module(module, LISTENER)


if __name__ == "__main__":
    main()
