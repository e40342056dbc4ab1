"""Persist jobs as JSON lines so schedules survive a restart."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cronlite.job import Job


class JobStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def save(self, jobs: list[Job]) -> None:
        lines = []
        for job in jobs:
            stamp = job.next_run.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
            record = {"name": job.name, "every_s": job.every.total_seconds(), "next_run": stamp}
            lines.append(json.dumps(record))
        self.path.write_text("\n".join(lines) + "\n")

    def load(self) -> list[Job]:
        jobs = []
        for line in self.path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                jobs.append(
                    Job(
                        name=record["name"],
                        every=timedelta(seconds=record["every_s"]),
                        next_run=datetime.fromisoformat(record["next_run"]),
                    )
                )
        return jobs
