from cronlite.job import Job
from cronlite.scheduler import due_jobs, reschedule
from cronlite.store import JobStore

__all__ = ["Job", "JobStore", "due_jobs", "reschedule"]
