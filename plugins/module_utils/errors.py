# -*- coding: utf-8 -*-
# Copyright: skupperlabs.network contributors
# Apache License 2.0 (see LICENSE)
"""The one error type the engine and back ends raise; modules turn it into fail_json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


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
