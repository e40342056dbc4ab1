"""bench replay: the cascade, the oracles, and a router that learns only from the tiers it tried."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.replay import Fixed, Router, bootstrap, cascade, oracle  # noqa: E402
from bench.replay_data import LADDERS, Instance  # noqa: E402

CLAUDE = LADDERS[0]  # 1:3:5 per attempt


def inst(i: int, resolved: tuple[bool, bool, bool], repo: str = "acme/app") -> Instance:
    return Instance(f"acme__app-{i}", repo, "<15 min fix", resolved, (1.0, 3.0, 5.0))


def test_the_cascade_charges_every_tier_tried_and_stops_at_a_fix():
    cheapest = Fixed("always-cheapest", 0)
    assert cascade(cheapest, inst(1, (False, True, True))).cost == 4.0
    none = cascade(cheapest, inst(2, (False, False, False)))
    assert (none.cost, none.resolved, none.tried) == (9.0, False, [0, 1, 2])
    top = cascade(Fixed("always-top", 2), inst(3, (True, False, False)), top_only=True)
    assert (top.cost, top.resolved) == (5.0, False)


def test_oracles_pay_the_cheapest_solver_and_strictly_nothing_for_the_unsolvable():
    assert oracle(inst(1, (False, True, True)), strict=True).cost == 3.0
    assert oracle(inst(2, (False, False, False)), strict=False).cost == 5.0
    assert oracle(inst(2, (False, False, False)), strict=True).cost == 0.0


def test_the_router_ledger_holds_only_the_tiers_it_tried(tmp_path):
    router = Router("r", CLAUDE, tmp_path, learning=True)
    try:
        for i in range(6):
            cascade(router, inst(i, (True, True, False)))  # haiku solves: sonnet and opus never tried
        visits = router.ledger.tier_visits()
        assert {v.tier for v in visits} == {"haiku"} and len(visits) == 6
        assert {v.repo for v in visits} == {"acme/app"}
    finally:
        router.close()


def test_learning_moves_a_hard_repository_up_and_leaves_an_easy_one(tmp_path):
    router = Router("r", CLAUDE.__class__("t", CLAUDE.runs, (1.0, 1.2, 5.0), "units"), tmp_path,
                    learning=True, explore_share=0.0)  # fmt: skip
    starts: dict[str, list[int]] = {"acme/hard": [], "acme/easy": []}
    try:
        for i in range(60):
            repo = "acme/hard" if i % 2 else "acme/easy"
            resolved = (False, True, True) if repo == "acme/hard" else (True, True, True)
            item = Instance(f"x-{i}", repo, "", resolved, (1.0, 1.2, 5.0))
            starts[repo].append(cascade(router, item).start)
    finally:
        router.close()
    assert starts["acme/hard"][-10:] == [1] * 10 and starts["acme/easy"][-10:] == [0] * 10


def test_bootstrap_ci_brackets_the_point():
    stats = bootstrap([1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 1.0, 1.0], reps=500)
    assert stats["per_resolved"] == pytest.approx(10 / 3)
    lo, hi = stats["per_resolved_ci"]
    assert lo <= stats["per_resolved"] <= hi and stats["resolve_rate"] == 0.75


def test_the_table_kept_in_bench_data_is_the_shared_one():
    """A clone alone replays: bench/data holds the table, the bytes of ../shared/data's when there."""
    from bench.replay_data import DEFAULT_TABLE, VENDORED_TABLE, load_rows

    assert len(load_rows(VENDORED_TABLE)) == 291
    bases = (VENDORED_TABLE.parents[2], VENDORED_TABLE.parents[3])
    shared = [b / "shared" / "data" / DEFAULT_TABLE.name for b in bases]
    for path in shared:
        if path.exists():
            assert path.read_bytes() == VENDORED_TABLE.read_bytes()
