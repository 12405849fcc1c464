# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Where resources live: every module of the collection.
    CONNECTION = r'''
options:
  platform:
    description:
      - Where the Skupper site runs.
      - V(kubernetes) manages custom resources through the Kubernetes API.
      - V(podman), V(docker) and V(linux) manage a Skupper system site on the target host, as files
        under O(data_home).
      - If not set, the E(SKUPPER_PLATFORM) environment variable is used, as the Skupper CLI does.
    type: str
    default: kubernetes
    choices: [kubernetes, podman, docker, linux]
  namespace:
    description:
      - On Kubernetes, the namespace of the resources; defaults to the namespace of the kubeconfig context,
        else V(default).
      - On system sites, the Skupper system namespace; defaults to V(default).
      - An RFC 1123 label.
    type: str
  kubeconfig:
    description:
      - Path to a kubeconfig file, for O(platform=kubernetes).
      - If not set, E(K8S_AUTH_KUBECONFIG) is used; then E(K8S_AUTH_HOST) with the bearer token
        E(K8S_AUTH_API_KEY) (and E(K8S_AUTH_VERIFY_SSL), E(K8S_AUTH_SSL_CA_CERT)), as AWX's Kubernetes
        credential sets them; then E(KUBECONFIG) and C(~/.kube/config); then the in-cluster service account.
      - Each request to the API server is bounded by 30 seconds, once (the HTTP library's own retries are off).
        An answer 429, 500, 502, 503 or 504, or a lost connection, is tried again three times (after 0.2, 0.5
        and 1 second); a request that timed out is not. A server that answers something other than the
        Kubernetes API (an HTML page) is named in the error.
    type: path
  context:
    description:
      - The kubeconfig context to use; defaults to the current context.
      - If not set, E(K8S_AUTH_CONTEXT) is used.
    type: str
  data_home:
    description:
      - Skupper's data home on the target host, for system platforms.
      - Defaults to what Skupper uses, C(/var/lib/skupper) for root, else C($XDG_DATA_HOME/skupper) or
        C(~/.local/share/skupper).
      - Resources go to C(<data_home>/namespaces/<namespace>/input/resources/<Kind>-<name>.yaml).
      - One path, given as a string.
    type: path
requirements:
  - kubernetes >= 24.2 (Python client, on the host that runs the module, for O(platform=kubernetes) only)
  - PyYAML >= 5.4 (for system platforms)
'''

    # What every resource module (listener, multikeylistener, ...) takes.
    RESOURCE = r'''
options:
  name:
    description:
      - Name of the resource, as Skupper takes it on the platform. On Kubernetes a DNS subdomain (dots allowed, at
        most 253 characters); on system sites lower-case letters, digits and C(-), starting and ending with a
        letter or digit, no dots.
      - Required unless the list form of the module is used.
    type: str
  state:
    description:
      - V(present) creates the resource or brings it to the options given. The module owns every C(spec) field
        it models, so an optional modeled field left out of the task is removed from the resource. Fields it
        does not model (set by hand, by the Skupper CLI or by a newer Skupper) are kept, and a warning names them.
      - False, empty and default values are compared as Skupper writes them (Go's C(omitempty)), so
        C(ha=false) or C(settings={}) in a task is the same resource as one that leaves them out.
      - On Kubernetes, a field the cluster's Skupper CRD does not know (an older Skupper) is dropped by the API
        server; a warning names it, and it is not reported as a change on every run.
      - V(absent) deletes it. Deleting what does not exist is not a change.
    type: str
    default: present
    choices: [present, absent]
  labels:
    description:
      - Labels to set on the resource. Keys given are set; other labels are left alone.
      - The label C(app.kubernetes.io/managed-by=skupperlabs.network) is always set, unless given here with
        another value; the list form's C(exclusive) only ever prunes resources that carry it.
      - Keys and values as the Kubernetes API takes them, on system sites too. A key is C([prefix/]name), the
        prefix a DNS subdomain of at most 253 characters, the name at most 63 letters, digits, C(-), C(_) and
        C(.), starting and ending with a letter or digit; a value is empty or the same as a name.
    type: dict
  annotations:
    description:
      - Annotations to set on the resource. Keys given are set; other annotations are left alone.
      - Keys as label keys; values any string; at most 256 KiB of keys and values together.
    type: dict
  wait:
    description:
      - Wait until the resource reaches O(wait_for) after the change (or at once when unchanged).
      - A current C(Error) status (for example a second listener on one host and port, or a selector that
        matches no pods) ends the wait at once, and the task fails with Skupper's message.
      - Not done in check mode.
    type: bool
    default: false
  wait_for:
    description:
      - V(configured) waits for the C(Configured) condition to be true.
      - V(ready) waits for C(status) to be C(Ready); a listener is Ready only when a connector with its
        routing key exists somewhere in the network.
      - On system sites, status comes from C(runtime/resources/), written by the running site.
    type: str
    default: ready
    choices: [configured, ready]
  wait_timeout:
    description:
      - How many seconds to wait, at least 1; on timeout the task fails with the last status and message seen.
    type: int
    default: 60
'''

    # The list form's pruning switch (listener, multikeylistener, connector).
    BULK = r'''
options:
  exclusive:
    description:
      - With the list form only. Delete every resource of this kind in the namespace that carries the label
        C(app.kubernetes.io/managed-by=skupperlabs.network) and is not in the list.
      - Resources without that label are never touched.
    type: bool
    default: false
'''

    ATTRIBUTES = r'''
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - On Kubernetes, a change is sent to the API server as a dry run, so its validation is part of the
        prediction; nothing is stored.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - Shows the resource (metadata and spec) before and after, including creation and deletion.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: [kubernetes, linux]
'''

    # Every module is in the action group of meta/runtime.yml.
    ACTION_GROUP = r'''
attributes:
  action_group:
    description: Use C(group/skupperlabs.network.skupper) in C(module_defaults) to set common options once.
    support: full
    membership:
      - skupperlabs.network.skupper
'''

    # What every *_info module takes besides where the resources live.
    INFO = r'''
options:
  name:
    description:
      - Report only the resource of this name. Without it, every resource of the kind in the namespace.
    type: str
  label_selectors:
    description:
      - Report only resources whose labels match every selector, each in Kubernetes' syntax
        (V(key=value), V(key!=value), V(key), V(!key), comma-separated terms).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The module never changes anything.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: N/A
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: [kubernetes, linux]
  action_group:
    description: Use C(group/skupperlabs.network.skupper) in C(module_defaults) to set common options once.
    support: full
    membership:
      - skupperlabs.network.skupper
'''
