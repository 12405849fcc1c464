#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: site
short_description: Manage the Skupper Site resource on Kubernetes and on Linux hosts
version_added: 0.1.0
description:
  - Create, update and delete the Skupper C(Site) resource (C(skupper.io/v2alpha1)) of a namespace.
  - Skupper runs one site per namespace; the module refuses to declare a second Site in a namespace that
    already has one under another name.
  - On Kubernetes it manages the custom resource through the API server. On Linux hosts (Skupper system sites)
    it writes C(input/resources/Site-<name>.yaml) under the data home, atomically; C(skupper system start)
    (the C(site) role) then runs the site.
author:
  - skupperlabs.network developers (@skupperlabs)
extends_documentation_fragment:
  - skupperlabs.network.common.connection
  - skupperlabs.network.common.action_group
  - skupperlabs.network.common.resource
  - skupperlabs.network.common.attributes
options:
  name:
    description:
      - Name of the site, an RFC 1123 label.
    type: str
    required: true
  link_access:
    description:
      - How other sites reach this one to link to it, for example V(default), V(route), V(loadbalancer) or
        V(none). Without it the site accepts no incoming links.
    type: str
  default_issuer:
    description:
      - The name of the CA (a Secret on Kubernetes, a folder under C(input/issuers/) on system sites) that signs
        the site's certificates. Skupper uses its own C(skupper-site-ca) when it is not set.
    type: str
  ha:
    description:
      - Run the router in high-availability mode (Kubernetes).
    type: bool
  edge:
    description:
      - Make this an edge site, which links out but does not accept links.
    type: bool
  service_account:
    description:
      - The service account the router runs as (Kubernetes).
    type: str
  settings:
    description:
      - Additional settings, a mapping of names to strings. Numbers are turned into strings.
    type: dict
seealso:
  - module: skupperlabs.network.listener
  - module: skupperlabs.network.connector
  - name: Skupper Site resource
    description: The resource this module manages.
    link: https://skupper.io/docs/resources/site.html
'''

EXAMPLES = r'''
- name: Site West, reachable by other sites
  skupperlabs.network.site:
    name: west
    namespace: hello-world-west
    link_access: default
    wait: true

- name: A site on a Linux host (run it with skupper system start, or the site role)
  skupperlabs.network.site:
    platform: podman
    name: east
    link_access: default
'''

RETURN = r'''
resource:
  description: The site as stored; in check mode, as it would be. Empty after deletion.
  returned: always
  type: dict
  sample:
    apiVersion: skupper.io/v2alpha1
    kind: Site
    metadata:
      name: west
      namespace: hello-world-west
    spec:
      linkAccess: default
action:
  description: What was done (or, in check mode, would be) to the site.
  returned: always
  type: str
  choices: [none, create, update, delete]
  sample: create
path:
  description: The file written or removed, on system sites.
  returned: on system platforms
  type: str
  sample: /var/lib/skupper/namespaces/default/input/resources/Site-east.yaml
namespace:
  description: The namespace the task worked in.
  returned: always
  type: str
  sample: hello-world-west
name:
  description: The site's name.
  returned: always
  type: str
  sample: west
diff:
  description: The site before and after.
  returned: in diff mode
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skupperlabs.network.plugins.module_utils.engine import resource_module_kwargs, run_module
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import SITE


def main(module_class=AnsibleModule):
    # module_class: the fast path (plugins/action, plugins/plugin_utils/fast_path.py) gives its own.
    module = module_class(**resource_module_kwargs(SITE))
    run_module(module, SITE)


if __name__ == "__main__":
    main()
