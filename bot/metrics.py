"""Prometheus metrics, declared once for the whole bot (served on ``/metrics`` by :mod:`adapters.ops`).

Labels are bounded by construction: a command label is a declared command name, ``question`` (free
text) or ``unknown``; platforms, outcomes and job kinds come from fixed sets. No user text and no ids
of people or workspaces ever become a label, so a flood of hostile input cannot grow the series.

Off until :func:`enable` (``careerbot run`` calls it): importing ``prometheus_client`` costs some
70 ms, which a one-shot ``careerbot ask`` or the console should not pay. While off, every recording
function here is a no-op.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


OUTCOMES = ("ok", "refused", "failed")
"""``ok``: answered; ``refused``: a clear error for the user (bad input, not allowed); ``failed``: a bug
or an unavailable dependency (logged)."""

PLATFORMS = ("slack", "discord", "console")


class _Metrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.commands = Counter(
            "careerbot_commands",
            "Commands and questions answered, by command, platform and outcome.",
            ["command", "platform", "outcome"],
        )
        self.answer_seconds = Histogram(
            "careerbot_answer_seconds",
            "Time the core took to answer one command or question.",
            ["platform"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.api_errors = Counter(
            "careerbot_platform_api_errors",
            "Platform API calls that failed, by platform and kind (rate_limited, refused, unavailable).",
            ["platform", "kind"],
        )
        self.rate_limit_waits = Counter(
            "careerbot_rate_limit_waits",
            "Times careerbot waited because a platform answered 429.",
            ["platform"],
        )
        self.rate_limit_seconds = Counter(
            "careerbot_rate_limit_wait_seconds",
            "Seconds spent waiting out platform rate limits.",
            ["platform"],
        )
        self.scheduled_posts = Counter(
            "careerbot_scheduled_posts",
            "Scheduled posts (daily tips, mentoring intros and check-ins) by job kind and outcome "
            "(sent, retried, failed).",
            ["job", "outcome"],
        )
        self.queue_lag = Gauge(
            "careerbot_queue_lag_seconds",
            "How late the oldest due, unsent job of each kind is (0 when none is waiting).",
            ["job"],
        )
        self.knowledge_reloads = Counter(
            "careerbot_knowledge_reloads",
            "Knowledge reloads, accepted or rejected (the last good version keeps serving).",
            ["outcome"],
        )
        self.leases_held = Gauge(
            "careerbot_leases_held",
            "Scheduler leases this process holds: tenants it posts for, and jobs being sent.",
            ["what"],
        )


_metrics: _Metrics | None = None


def enable() -> None:
    """Create the metrics (once) in ``prometheus_client``'s default registry."""
    global _metrics
    if _metrics is None:
        _metrics = _Metrics()


def registry() -> CollectorRegistry | None:
    """The registry ``/metrics`` serves, or None while metrics are off."""
    if _metrics is None:
        return None
    from prometheus_client import REGISTRY

    return REGISTRY


def command_label(command: str, declared: bool) -> str:
    """The bounded label of a command: its declared name, ``question`` or ``unknown``."""
    if not command:
        return "question"
    return command if declared else "unknown"


def platform_label(platform: str) -> str:
    return platform if platform in PLATFORMS else "other"


def observe_answer(command: str, declared: bool, platform: str, outcome: str, seconds: float) -> None:
    if _metrics is None:
        return
    where = platform_label(platform)
    label = command_label(command, declared)
    _metrics.commands.labels(label, where, outcome if outcome in OUTCOMES else "failed").inc()
    _metrics.answer_seconds.labels(where).observe(seconds)


def rate_limited(platform: str, seconds: float) -> None:
    """A 429 waited out for ``seconds``."""
    if _metrics is None:
        return
    where = platform_label(platform)
    _metrics.rate_limit_waits.labels(where).inc()
    _metrics.rate_limit_seconds.labels(where).inc(max(0.0, seconds))
    _metrics.api_errors.labels(where, "rate_limited").inc()


def api_error(platform: str, kind: str) -> None:
    """A platform API call that failed: ``refused`` (the platform said no) or ``unavailable``."""
    if _metrics is None:
        return
    _metrics.api_errors.labels(platform_label(platform), kind if kind in ("refused", "unavailable") else "other").inc()


def reloaded(accepted: bool) -> None:
    if _metrics is not None:
        _metrics.knowledge_reloads.labels("accepted" if accepted else "rejected").inc()


def scheduled_post(job: str, outcome: str) -> None:
    """``job`` is a job kind's declared name; ``outcome`` one of sent, retried, failed."""
    if _metrics is not None:
        _metrics.scheduled_posts.labels(job, outcome).inc()


def queue_lag(job: str, seconds: float) -> None:
    if _metrics is not None:
        _metrics.queue_lag.labels(job).set(max(0.0, seconds))


def leases_held(tenants: int, jobs: int) -> None:
    if _metrics is not None:
        _metrics.leases_held.labels("tenants").set(tenants)
        _metrics.leases_held.labels("jobs").set(jobs)


def value(name: str, **labels: str) -> float | None:
    """One sample's current value (tests and ``careerbot doctor``); None while off or unseen."""
    found = registry()
    return None if found is None else found.get_sample_value(name, labels)
