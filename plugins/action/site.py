# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action of skupperlabs.network.site: the fast path on the controller, else the module."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.skupperlabs.network.plugins.plugin_utils.fast_path import FastPathAction


class ActionModule(FastPathAction):
    MODULE = "site"
