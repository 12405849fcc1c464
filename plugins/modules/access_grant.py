#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: access_grant
short_description: Issue Skupper access tokens from a Kubernetes site
version_added: 0.2.0
description:
  - Manages a Skupper C(AccessGrant) (C(skupper.io/v2alpha1)) on a Kubernetes site, the permission for other
    sites to link to it, and returns the access token that M(skupperlabs.network.access_token) redeems.
  - Skupper's controller fills the grant's status with the grant server's URL, a code and the CA; with O(wait)
    the module waits for them and returns RV(token).
  - Idempotent, an existing grant with the same spec is unchanged and its token is returned again.
  - Kubernetes only; system sites cannot issue tokens (link to them with their static link and
    M(skupperlabs.network.link)).
  - RV(token) is a credential; register it on a task with C(no_log=true).
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
      - The change is sent to the API server as a dry run; no token is returned in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - Shows the grant before and after; its code reads C((hidden)).
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: [kubernetes]
options:
  name:
    description: The grant's name (a DNS subdomain); the token is named after it.
    type: str
    required: true
  redemptions_allowed:
    description: How many times its token can be redeemed; Skupper uses 1 when it is not set.
    type: int
  expiration_window:
    description:
      - For how long after the grant is processed its token can be redeemed, a Go duration such as V(15m) or
        V(1h30m). Skupper's controller uses 10 minutes when it is not set.
    type: str
  code:
    description: The code the token must present; Skupper's controller generates one when it is not set.
    type: str
  issuer:
    description: The CA (a Secret) that signs the client certificates of the links redeemed with it.
    type: str
  settings:
    description: Additional settings, a mapping of names to strings.
    type: dict
  state:
    description: V(present) or V(absent).
    type: str
    default: present
    choices: [present, absent]
  labels:
    description: Labels to set. C(app.kubernetes.io/managed-by=skupperlabs.network) is always set.
    type: dict
  annotations:
    description: Annotations to set.
    type: dict
  wait:
    description: Wait until the controller has issued the token (url, code and CA in the grant's status).
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait.
    type: int
    default: 60
seealso:
  - module: skupperlabs.network.access_token
  - name: Skupper AccessGrant resource
    description: The resource this module manages.
    link: https://skupper.io/docs/resources/accessgrant.html
'''

EXAMPLES = r'''
- name: One token for site east to link to the hub
  skupperlabs.network.access_grant:
    name: east
    namespace: hub
    redemptions_allowed: 1
    expiration_window: 30m
  register: grant
  no_log: true

- name: Redeem it on east
  skupperlabs.network.access_token:
    namespace: east
    context: east-cluster
    name: hub
    token: "{{ grant.token }}"
  no_log: true
'''

RETURN = r'''
token:
  description:
    - The AccessToken, as C(skupper token issue) writes it, ready for M(skupperlabs.network.access_token).
    - A credential, register it with C(no_log) on the task.
  returned: when the grant is issued (not in check mode)
  type: dict
  sample:
    apiVersion: skupper.io/v2alpha1
    kind: AccessToken
    metadata:
      name: east
    spec:
      url: https://10.0.0.1:9090/6d1a8c1e-0000-4000-8000-000000000000
      code: "(a secret)"
      ca: "-----BEGIN CERTIFICATE-----..."
resource:
  description: The AccessGrant as stored, its code hidden.
  returned: always
  type: dict
action:
  description: What was done to the grant.
  returned: always
  type: str
  sample: create
name:
  description: The grant's name.
  returned: always
  type: str
namespace:
  description: The namespace the task worked in.
  returned: always
  type: str
diff:
  description: The grant before and after (code hidden).
  returned: in diff mode
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skupperlabs.network.plugins.module_utils.linking import (
    access_grant_module_kwargs, run_access_grant_module)


def main(module_class=AnsibleModule):
    # module_class: the fast path (plugins/action, plugins/plugin_utils/fast_path.py) gives its own.
    module = module_class(**access_grant_module_kwargs())
    run_access_grant_module(module)


if __name__ == "__main__":
    main()
