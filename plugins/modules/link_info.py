#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: link_info
short_description: Report Skupper links and their status, on Kubernetes and on Linux hosts
version_added: 0.2.0
description:
  - Read the Skupper C(Link) resources of a namespace, or one by name, with their status, as flat entries.
  - On Linux hosts (Skupper system sites) the spec comes from C(input/resources/) and the status from
    C(runtime/resources/), which the running site writes.
  - Links carry no credentials (their Secret is not read). Never changes anything.
author:
  - skupperlabs.network developers (@skupperlabs)
extends_documentation_fragment:
  - skupperlabs.network.common.connection
  - skupperlabs.network.common.info
seealso:
  - module: skupperlabs.network.link
  - module: skupperlabs.network.access_token
'''

EXAMPLES = r'''
- name: Every link of a system site
  skupperlabs.network.link_info:
    platform: podman
  register: links

- name: Fail unless every link is up
  ansible.builtin.assert:
    that: links.links | rejectattr('status', 'equalto', 'Ready') | list | length == 0
    fail_msg: "Down: {{ links.links | rejectattr('status', 'equalto', 'Ready') | map(attribute='name') | join(', ') }}"
'''

RETURN = r'''
links:
  description: One entry per Link, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The Link's name.
      type: str
      sample: west
    namespace:
      description: Its namespace.
      type: str
    status:
      description:
        - C(Ready) when the link is operational, C(Pending) or C(Error), as Skupper reports it.
        - On system sites C(Pending) with message C(site not initialized ...) when the site has not started.
      type: str
      sample: Ready
    message:
      description: Skupper's status message (for example C(Not Operational)).
      type: str
    remote_site_name:
      description: The name of the site at the other end, once the link is operational.
      type: str
      sample: west
    remote_site_id:
      description: The id of the site at the other end, once the link is operational.
      type: str
    cost:
      description: The link's cost (Skupper uses 1 when it is not set).
      type: int
      returned: when set
    endpoints:
      description: The remote router addresses.
      type: list
      elements: dict
    tls_credentials:
      description: The name of the link's Secret.
      type: str
    conditions:
      description: The Link's conditions (C(Configured), C(Operational), C(Ready)).
      type: list
      elements: dict
    labels:
      description: The Link's labels.
      type: dict
    resource:
      description: The raw Link, with C(status).
      type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skupperlabs.network.plugins.module_utils.info import info_module_kwargs, run_info_module
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import LINK


def main(module_class=AnsibleModule):
    # module_class: the fast path (plugins/action, plugins/plugin_utils/fast_path.py) gives its own.
    module = module_class(**info_module_kwargs(LINK))
    run_info_module(module, LINK)


if __name__ == "__main__":
    main()
