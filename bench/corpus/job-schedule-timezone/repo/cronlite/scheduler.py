"""Pick the jobs that are due and move them to their next slot."""

from __future__ import annotations

from datetime import datetime

from cronlite.job import Job


def due_jobs(jobs: list[Job], now: datetime) -> list[Job]:
    """Jobs whose next run is at or before ``now`` (an aware datetime), earliest first."""
    now = now.replace(tzinfo=None)
    return sorted((j for j in jobs if j.next_run <= now), key=lambda j: j.next_run)


def reschedule(job: Job, now: datetime) -> None:
    """Advance ``next_run`` by whole intervals until it is after ``now``, skipping missed runs."""
    while job.next_run <= now:
        job.next_run += job.every
