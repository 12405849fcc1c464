"""Wait predicates and the wait loop, with a fake clock."""

import pytest

from ansible_collections.skupperlabs.network.plugins.module_utils import waiting
from ansible_collections.skupperlabs.network.plugins.module_utils.errors import SkupperError


def obj(status=None, conditions=(), generation=None):
    result = {"metadata": {"name": "x"}, "status": {}}
    if generation is not None:
        result["metadata"]["generation"] = generation
    if status:
        result["status"]["status"] = status
        result["status"]["message"] = "OK" if status == "Ready" else "No matching connectors"
    result["status"]["conditions"] = [dict(c) for c in conditions]
    return result


CONFIGURED = {"type": "Configured", "status": "True"}


def test_configured_needs_the_condition_true_for_this_generation():
    assert waiting.is_configured(obj(conditions=[CONFIGURED])) is True
    assert waiting.is_configured(obj(conditions=[{**CONFIGURED, "status": "False"}])) is False
    assert waiting.is_configured(obj()) is False
    assert waiting.is_configured(None) is False
    stale = {**CONFIGURED, "observedGeneration": 1}
    assert waiting.is_configured(obj(conditions=[stale], generation=2)) is False
    assert waiting.is_configured(obj(conditions=[stale], generation=1)) is True


def test_ready_needs_status_ready():
    assert waiting.is_ready(obj("Ready", [CONFIGURED])) is True
    assert waiting.is_ready(obj("Pending", [CONFIGURED])) is False
    assert waiting.is_ready({}) is False


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_wait_returns_once_the_predicate_holds():
    seen = iter([obj("Pending"), obj("Pending"), obj("Ready", [CONFIGURED])])
    clock = Clock()
    result = waiting.wait_until(lambda: next(seen), "ready", "Listener ns/x", 10, clock=clock, sleep=clock.sleep)
    assert result["status"]["status"] == "Ready" and clock.now == 2 * waiting.POLL_SECONDS


def test_wait_timeout_names_the_last_status():
    clock = Clock()
    with pytest.raises(SkupperError) as caught:
        waiting.wait_until(lambda: obj("Pending"), "ready", "Listener ns/x", 3, clock=clock, sleep=clock.sleep)
    assert str(caught.value) == ("timed out after 3s waiting for Listener ns/x to be ready; last seen: "
                                 "status Pending: No matching connectors")
