"""The sim bench's arithmetic: the strict oracle, bootstrap intervals, the cache-read share, the
joint table read from the shared data, and the oracle script the runs use."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.corpus import load_corpus  # noqa: E402
from bench.replay_data import find_table, load_rows  # noqa: E402
from bench.simoracle import RUNS, describe, joint_table  # noqa: E402
from bench.simstats import bootstrap, compact_calls, strict_oracle_rows, tier_cache_share  # noqa: E402
from bench.taskrun import bench_overrides, oracle_script  # noqa: E402


def run(arm: str, task: str, cost: float, correct: bool, seed: int = 1) -> dict:
    return {"arm": arm, "seed": seed, "task": task, "cost_usd": cost, "correct": correct, "fixed": correct}


# Three tasks: a solves on haiku and opus (haiku cheaper), b only on opus, c on none.
ARMS = {
    "always-haiku": [run("always-haiku", "a", 1.0, True), run("always-haiku", "b", 2.0, False),
                     run("always-haiku", "c", 2.5, False)],
    "always-sonnet": [run("always-sonnet", "a", 3.0, False), run("always-sonnet", "b", 6.0, False),
                      run("always-sonnet", "c", 7.0, False)],
    "always-opus": [run("always-opus", "a", 4.0, True), run("always-opus", "b", 5.0, True),
                    run("always-opus", "c", 9.0, False)],
}  # fmt: skip


def test_strict_oracle_takes_the_cheapest_solver_and_pays_nothing_where_none_solves():
    rows = {r["task"]: r for r in strict_oracle_rows(ARMS)}
    assert rows["a"]["cost_usd"] == 1.0 and rows["a"]["source_arm"] == "always-haiku"
    assert rows["b"]["cost_usd"] == 5.0 and rows["b"]["correct"]
    assert rows["c"]["cost_usd"] == 0.0 and not rows["c"]["correct"] and rows["c"]["outcome"] == "unsolvable"


def test_bootstrap_points_and_intervals():
    arms = {**ARMS, "oracle": strict_oracle_rows(ARMS)}
    stats = bootstrap(arms, runs_per_task=1, reps=500)
    o, h, opus = stats["oracle"], stats["always-haiku"], stats["always-opus"]
    assert o["usd_per_resolved"] == pytest.approx(6.0 / 2) and o["resolve_rate"] == pytest.approx(2 / 3)
    assert opus["usd_per_resolved"] == pytest.approx(18.0 / 2)
    assert opus["x_oracle"] == pytest.approx(3.0) and o["x_oracle"] == pytest.approx(1.0)
    assert h["usd_per_resolved"] == pytest.approx(5.5) and h["resolve_rate"] == pytest.approx(1 / 3)
    for s in stats.values():  # every interval holds its point (percentile bootstrap, 3 tasks)
        lo, hi = s["resolve_rate_ci"]
        assert lo <= s["resolve_rate"] <= hi
        assert 0.0 <= lo and hi <= 1.0
    assert o["x_oracle_ci"] == [1.0, 1.0]
    # An arm that always costs twice the oracle on the same tasks: the paired ratio has no spread.
    double = [dict(r, arm="double", cost_usd=2 * r["cost_usd"]) for r in arms["oracle"]]
    assert bootstrap({**arms, "double": double}, 1, reps=300)["double"]["x_oracle_ci"] == [2.0, 2.0]


def test_bootstrap_pools_seeds_per_task():
    rows = [run("x", "a", 1.0, True, seed=1), run("x", "a", 3.0, False, seed=2)]
    s = bootstrap({"x": rows}, runs_per_task=2, reference="", reps=200)["x"]
    assert s["resolve_rate"] == 0.5 and s["usd_per_resolved"] == 4.0 and s["x_oracle"] is None


def test_cache_share_pools_a_tiers_implementer_calls():
    def call(tier, role, inp, write, read):
        return {"tier": tier, "role": role, "model": "m", "input_tokens": inp, "cache_write_tokens": write,
                "cache_read_tokens": read, "output_tokens": 10, "cost_usd": 0.01}  # fmt: skip

    calls = [
        call("haiku", "explorer", 1000, 0, 0),
        call("haiku", "implementer", 2000, 0, 0),
        call("haiku", "implementer", 0, 1000, 2000),
        call("sonnet", "implementer", 0, 3000, 0),
        call("sonnet", "implementer", 0, 1000, 3000),
    ]
    records = {"ladder|1|a": calls}
    share = tier_cache_share([{"arm": "ladder", "seed": 1, "task": "a"}], records)
    assert share["per_tier"] == {"haiku": pytest.approx(2000 / 5000), "sonnet": pytest.approx(3000 / 7000)}
    assert share["implementer"] == pytest.approx(5000 / 12000)
    assert share["all_calls"] == pytest.approx(5000 / 13000)
    kept = compact_calls(records)
    assert kept["fields"][:3] == ["tier", "role", "model"] and kept["runs"]["ladder|1|a"][1][3] == 2000


def test_joint_table_counts_the_shared_tables_rows():
    rows = load_rows(find_table())
    table = joint_table()
    assert sum(w for _, w in table.patterns) == len(rows)
    for i, run_name in enumerate(RUNS):
        resolved = sum(r[f"{run_name}_resolved"] == "1" for r in rows)
        assert sum(w for p, w in table.patterns if p[i]) == resolved
    d = describe()
    assert d["marginal"]["opus"] == pytest.approx(0.77, abs=0.01) and d["rows"] == len(rows)


def test_the_bench_oracle_uses_the_joint_table_and_traces_and_lets_the_trace_run():
    script = oracle_script(load_corpus()[:1], seed=3)
    oracle = script["oracle"]
    assert oracle["joint"] == joint_table().to_spec() and oracle["trace"]["turns"] == [10, 40]
    assert "success" not in oracle and "correlation" not in oracle
    assert bench_overrides()["session"]["max_turns"] >= oracle["trace"]["turns"][1]
