#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: access_token
short_description: Redeem a Skupper access token into a link, on Kubernetes and on Linux hosts
version_added: 0.2.0
description:
  - Turns an access token (from M(skupperlabs.network.access_grant), or C(skupper token issue) on a Kubernetes
    site) into the Link(s) that join this site to the site that issued it.
  - On Kubernetes it creates the C(AccessToken) resource and Skupper's controller redeems it; with O(wait) the
    module waits until it is redeemed. A refused token is removed again and the task fails with the reason.
  - On Linux hosts (Skupper system sites) the module redeems the token itself, by Skupper's protocol (an HTTPS
    POST of the code, TLS 1.3 verified against the token's CA only, no redirects, O(timeout) seconds), and
    writes the Secret and the Link(s) it gets into C(input/resources/), atomically. The AccessToken itself is
    never written there, because Skupper would redeem it again at every start and reload (skupper#2112).
  - A token whose Link (named O(name)) exists already is not redeemed again, on either platform; the task
    reports no change and sends nothing.
  - The token's code is a credential; O(token) and O(code) are C(no_log), and the code is never returned.
author:
  - skupperlabs.network developers (@skupperlabs)
extends_documentation_fragment:
  - skupperlabs.network.common.connection
  - skupperlabs.network.common.action_group
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Nothing is redeemed in check mode (a redemption uses the token up).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - Shows the names of the Links before and after.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: [kubernetes, linux]
options:
  name:
    description:
      - The token's name, which is the name of the Link (and of its Secret) the redemption yields; further Links
        of the same token are C(<name>-1), C(<name>-2), ...
      - Defaults to the token's C(metadata.name). Required with O(state=absent).
    type: str
  token:
    description:
      - The AccessToken object (the RV(skupperlabs.network.access_grant#module:token) that
        M(skupperlabs.network.access_grant) returns), or its YAML text as C(skupper token issue) writes it.
      - Mutually exclusive with O(url), O(code) and O(ca).
    type: raw
  url:
    description: The grant server's URL of the token (C(https://...)).
    type: str
  code:
    description: The token's code.
    type: str
  ca:
    description: The CA certificate (PEM) that the grant server's certificate must chain to.
    type: str
  link_cost:
    description: The cost of the Link(s) it yields; Skupper uses 1 when it is not set.
    type: int
  state:
    description:
      - V(present) redeems the token unless its Link exists.
      - V(absent) removes the Link(s) the token yielded, the Secret when no other Link uses it, and on Kubernetes
        the AccessToken.
    type: str
    default: present
    choices: [present, absent]
  labels:
    description:
      - Labels to set on what is written. C(app.kubernetes.io/managed-by=skupperlabs.network) is always set.
    type: dict
  wait:
    description:
      - Kubernetes; wait until the controller has redeemed the token. A refusal ends the wait at once.
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait.
    type: int
    default: 60
  timeout:
    description: System sites; seconds for the whole redemption request (Skupper uses 10).
    type: float
    default: 10
seealso:
  - module: skupperlabs.network.access_grant
  - module: skupperlabs.network.link_info
  - name: Skupper AccessToken resource
    description: The resource this module redeems.
    link: https://skupper.io/docs/resources/accesstoken.html
'''

EXAMPLES = r'''
- name: Issue a token on the hub cluster
  skupperlabs.network.access_grant:
    name: east
    namespace: hub
    redemptions_allowed: 1
  register: grant
  no_log: true

- name: Link the Linux site east to the hub (a re-run finds the Link and redeems nothing)
  skupperlabs.network.access_token:
    platform: podman
    name: hub
    token: "{{ grant.token }}"
    link_cost: 2
  no_log: true
  notify: Reload Skupper site
'''

RETURN = r'''
links:
  description: The Links the token yielded (or, when it was redeemed before, the Links that exist).
  returned: always
  type: list
  elements: str
  sample: [hub]
action:
  description: V(none) (already linked), V(redeem) (system sites), V(create) (Kubernetes AccessToken) or V(delete).
  returned: always
  type: str
  sample: redeem
name:
  description: The token's name.
  returned: always
  type: str
namespace:
  description: The namespace the task worked in.
  returned: always
  type: str
resource:
  description: The AccessToken as stored, code hidden (Kubernetes).
  returned: on Kubernetes when it was written
  type: dict
paths:
  description: The Link files written, on system sites.
  returned: on system platforms after a redemption
  type: list
  elements: str
secret:
  description: The Secret written, by name and path (never its data), on system sites.
  returned: on system platforms after a redemption
  type: dict
removed:
  description: What O(state=absent) removed, as C(<Kind> <name>).
  returned: with state absent
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skupperlabs.network.plugins.module_utils.linking import (
    access_token_module_kwargs, run_access_token_module)


def main(module_class=AnsibleModule):
    # module_class: the fast path (plugins/action, plugins/plugin_utils/fast_path.py) gives its own.
    module = module_class(**access_token_module_kwargs())
    run_access_token_module(module)


if __name__ == "__main__":
    main()
