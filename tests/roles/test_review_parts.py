"""A long diff is reviewed in parts, cut only between files, hunks or lines; never cut out."""

from __future__ import annotations

from escalate.roles.review import MAX_REVIEW_PARTS, ReviewAnswer, combine, diff_parts, too_large


def file_diff(name: str, lines: int, width: int = 20) -> str:
    body = "".join(f"+{name}_{i:05d}".ljust(width) + "\n" for i in range(lines))
    return (
        f"diff --git a/{name} b/{name}\nnew file mode 100644\n--- /dev/null\n+++ b/{name}\n"
        f"@@ -0,0 +1,{lines} @@\n{body}"
    )


def test_a_short_diff_is_one_part():
    diff = file_diff("a.py", 3)
    assert diff_parts(diff) == [diff]


def test_every_line_of_a_long_diff_is_in_exactly_one_part_within_the_limit():
    diff = file_diff("a.py", 900) + file_diff("cheat.py", 2) + file_diff("z.py", 900)
    parts = diff_parts(diff, limit=8000)
    assert all(len(p) <= 8000 for p in parts) and len(parts) > 2
    lines = [ln for p in parts for ln in p.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert lines == [ln for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    # Each part carries its file's header, so a continued hunk still says which file it is.
    assert all(p.startswith("diff --git ") for p in parts)
    assert sum("+cheat.py_00001" in p for p in parts) == 1


def test_a_line_longer_than_a_part_cannot_be_reviewed_and_is_not_accepted():
    diff = file_diff("min.js", 1, width=10_000)
    assert diff_parts(diff, limit=2000) is None
    failed = too_large(diff, None)
    assert failed.stage == "review" and not failed.passed and "too large to review" in failed.reason


def test_too_many_parts_fail_with_the_size_named():
    failed = too_large("x" * 10, ["a"] * (MAX_REVIEW_PARTS + 1))
    assert f"in {MAX_REVIEW_PARTS + 1} parts" in failed.reason


def test_any_rejecting_part_rejects_and_approval_needs_every_part():
    ok, bad = ReviewAnswer("approve", text="APPROVE"), ReviewAnswer("reject", ["cheat in ops.py"], "REJECT")
    assert combine([ok, bad, ok], 3).rejects
    assert combine([ok, ok], 2).kind == "approve"
    assert combine([ok], 2).kind == "unclear"  # a part without an answer is not an approval
