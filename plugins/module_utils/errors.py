# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error type the engine and back ends raise; modules turn it into fail_json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import missing_required_lib


class SkupperError(Exception):
    """A failure to report to the user as is.

    ``missing_lib`` names a Python library the managed host lacks, so the
    module can answer with Ansible's standard missing-library message.
    """

    def __init__(self, msg, missing_lib=None, exception=None, **details):
        Exception.__init__(self, msg)
        self.msg = msg
        self.missing_lib = missing_lib
        self.exception = exception
        self.details = details


class ConflictError(SkupperError):
    """The object changed under us (HTTP 409): read it again and retry."""


def fail(module, exc):
    """Report a SkupperError the Ansible way; a missing library gets Ansible's standard message."""
    if exc.missing_lib:
        module.fail_json(msg="%s: %s" % (missing_required_lib(exc.missing_lib), exc.msg), exception=exc.exception)
    module.fail_json(msg=exc.msg, **exc.details)
