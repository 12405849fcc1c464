#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: site_info
short_description: Report Skupper sites and their status, on Kubernetes and on Linux hosts
version_added: 0.1.0
description:
  - Read Skupper C(Site) resources of a namespace, or one by name, with their status, as flat entries.
  - On Kubernetes one request reads the whole namespace (a LIST; a GET with O(name)).
  - On Linux hosts (Skupper system sites) the spec comes from C(input/resources/) and the status from
    C(runtime/resources/), which the running site writes.
  - Never changes anything.
author:
  - skupperlabs.network developers (@skupperlabs)
extends_documentation_fragment:
  - skupperlabs.network.common.connection
  - skupperlabs.network.common.info
seealso:
  - module: skupperlabs.network.site
'''

EXAMPLES = r'''
- name: The site of a namespace and its status
  skupperlabs.network.site_info:
    namespace: hello-world-west
'''

RETURN = r'''
sites:
  description: One entry per resource, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The resource's name.
      type: str
      sample: west
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
    link_access:
      description: The site's link access; every spec field is there, in snake_case.
      type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skupperlabs.network.plugins.module_utils.info import info_module_kwargs, run_info_module
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import SITE


def main(module_class=AnsibleModule):
    # module_class: the fast path (plugins/action, plugins/plugin_utils/fast_path.py) gives its own.
    module = module_class(**info_module_kwargs(SITE))
    run_info_module(module, SITE)


if __name__ == "__main__":
    main()
