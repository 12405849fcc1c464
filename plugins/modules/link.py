#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: link
short_description: Manage a Skupper Link and its Secret, on Kubernetes and on Linux hosts
version_added: 0.2.0
description:
  - Create, update and delete a Skupper C(Link) (C(skupper.io/v2alpha1)), the channel from this site to a
    remote site that accepts links, together with the C(Secret) holding its client certificate.
  - From O(definition), what C(skupper link generate) prints or what a running system site writes to
    C(runtime/links/link-<site>-<host>.yaml) (a Secret and a Link), or from O(endpoints) and O(tls_credentials).
  - On Kubernetes the Link and Secret are stored through the API server. On Linux hosts (Skupper system sites)
    they are files of C(input/resources/) (C(Secret-<name>.yaml), C(Link-<name>.yaml)), written atomically;
    C(skupper system reload) (the C(site) role's handler) makes the site use them.
  - The Secret's data is a credential. It is never returned and never shown in a diff (its values read
    C((hidden))); the option O(definition) is C(no_log).
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
      - Name of the Link. With O(definition), defaults to the name of the definition's Link; a different name
        renames both the Link and its Secret (so two peers' definitions, both called C(link-<site>), can live side by
        side).
      - Required without O(definition).
    type: str
  definition:
    description:
      - The link as YAML text, or a list of objects, holding one C(skupper.io/v2alpha1) Link and, usually, the
        C(v1) Secret its C(tlsCredentials) names.
      - Mutually exclusive with O(endpoints) and O(tls_credentials). O(cost) and O(settings) given in the task
        replace the definition's.
    type: raw
  endpoints:
    description:
      - The remote site's router addresses, as C(skupper link generate) writes them.
      - Required with O(state=present) unless O(definition) is given.
    type: list
    elements: dict
    suboptions:
      name:
        description: The role, V(inter-router) or V(edge); the router uses the one matching this site's mode.
        type: str
      host:
        description: Host name or IP address of the remote router.
        type: str
        required: true
      port:
        description: Port of the remote router (stored as a string, as Skupper does).
        type: raw
        required: true
      group:
        description: The router group (Kubernetes sites use V(skupper-router)).
        type: str
  tls_credentials:
    description:
      - Name of the Secret with C(ca.crt), C(tls.crt) and C(tls.key) for the link; it must exist (Skupper's
        system-site validator refuses a Link whose Secret is missing).
      - Required with O(state=present) unless O(definition) is given.
    type: str
  cost:
    description:
      - Routing cost of the link; Skupper uses 1 for anything below 1.
    type: int
  settings:
    description:
      - Additional link settings, a mapping of names to strings.
    type: dict
notes:
  - With O(state=absent) the Link is removed, and its Secret too when this collection wrote it and no other
    Link of the namespace uses it.
seealso:
  - module: skupperlabs.network.link_info
  - module: skupperlabs.network.access_token
  - name: Skupper Link resource
    description: The resource this module manages.
    link: https://skupper.io/docs/resources/link.html
'''

EXAMPLES = r'''
- name: Read the static link that site west (a system site with link access) wrote when it started
  ansible.builtin.slurp:
    src: /var/lib/skupper/namespaces/default/runtime/links/link-west-192.0.2.10.yaml
  register: west_link
  delegate_to: west.example.com
  no_log: true

- name: Link this site to west
  skupperlabs.network.link:
    platform: podman
    name: west
    definition: "{{ west_link.content | b64decode }}"
    cost: 2
  notify: Reload Skupper site

- name: A link from explicit endpoints, with a Secret managed elsewhere
  skupperlabs.network.link:
    name: to-hub
    namespace: east
    endpoints:
      - {name: inter-router, host: skupper-inter-router.hub.example.com, port: 443}
      - {name: edge, host: skupper-edge.hub.example.com, port: 443}
    tls_credentials: to-hub
'''

RETURN = r'''
resource:
  description: The Link as stored, or as it would be in check mode. Empty after deletion.
  returned: always
  type: dict
secret:
  description: The Link's Secret, without its data.
  returned: when a Secret was managed
  type: dict
  contains:
    name:
      description: Its name.
      type: str
    action:
      description: What was done to it (V(none), V(create), V(update), V(delete)).
      type: str
    path:
      description: Its file, on system sites.
      type: str
action:
  description: What was done (or, in check mode, would be) to the Link.
  returned: always
  type: str
  sample: create
path:
  description: The Link's file, on system sites.
  returned: on system platforms
  type: str
  sample: /var/lib/skupper/namespaces/default/input/resources/Link-west.yaml
name:
  description: The Link's name.
  returned: always
  type: str
namespace:
  description: The namespace the task worked in.
  returned: always
  type: str
diff:
  description: The Link (and its Secret, data hidden) before and after.
  returned: in diff mode
  type: raw
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skupperlabs.network.plugins.module_utils.engine import resource_module_kwargs
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import LINK
from ansible_collections.skupperlabs.network.plugins.module_utils.linking import link_module_kwargs, run_link_module


def main(module_class=AnsibleModule):
    # module_class: the fast path (plugins/action, plugins/plugin_utils/fast_path.py) gives its own.
    module = module_class(**link_module_kwargs(resource_module_kwargs(LINK)))
    run_link_module(module)


if __name__ == "__main__":
    main()
