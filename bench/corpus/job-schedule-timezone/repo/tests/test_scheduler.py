from datetime import datetime, timedelta, timezone

from cronlite import Job, JobStore, due_jobs, reschedule

CEST = timezone(timedelta(hours=2))


def test_store_round_trip_keeps_the_instant(tmp_path):
    job = Job("backup", timedelta(hours=1), datetime(2024, 7, 1, 3, 0, tzinfo=CEST))
    store = JobStore(tmp_path / "jobs.jsonl")
    store.save([job])
    (loaded,) = store.load()
    assert loaded.next_run == job.next_run
    assert loaded.next_run.utcoffset() is not None


def test_job_is_due_at_its_time_after_restart(tmp_path):
    store = JobStore(tmp_path / "jobs.jsonl")
    store.save([Job("report", timedelta(days=1), datetime(2024, 7, 1, 9, 0, tzinfo=CEST))])
    jobs = store.load()
    assert due_jobs(jobs, datetime(2024, 7, 1, 8, 30, tzinfo=CEST)) == []
    assert [j.name for j in due_jobs(jobs, datetime(2024, 7, 1, 9, 0, tzinfo=CEST))] == ["report"]


def test_due_jobs_in_memory_compare_instants():
    a = Job("a", timedelta(hours=1), datetime(2024, 7, 1, 7, 0, tzinfo=timezone.utc))  # 09:00 CEST
    b = Job("b", timedelta(hours=1), datetime(2024, 7, 1, 8, 30, tzinfo=CEST))
    now = datetime(2024, 7, 1, 9, 15, tzinfo=CEST)
    assert [j.name for j in due_jobs([a, b], now)] == ["b", "a"]


def test_reschedule_skips_missed_runs():
    job = Job("x", timedelta(hours=1), datetime(2024, 7, 1, 1, 0, tzinfo=timezone.utc))
    reschedule(job, datetime(2024, 7, 1, 3, 30, tzinfo=timezone.utc))
    assert job.next_run == datetime(2024, 7, 1, 4, 0, tzinfo=timezone.utc)
