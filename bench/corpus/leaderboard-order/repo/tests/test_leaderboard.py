from arcade import Leaderboard


def board() -> Leaderboard:
    lb = Leaderboard("tetris")
    for player, score in [("ann", 120), ("bob", 300), ("cy", 80), ("dee", 300), ("ann", 90)]:
        lb.record(player, score)
    return lb


def test_personal_best_only():
    lb = Leaderboard("pong")
    assert lb.record("ann", 10)
    assert not lb.record("ann", 5)


def test_top_defaults_to_highest_scores():
    assert board().top() == [("bob", 300), ("dee", 300), ("ann", 120)]


def test_lowest_first_on_request():
    assert board().top(2, highest_first=False) == [("cy", 80), ("ann", 120)]


def test_rank():
    assert board().rank("bob") == 1
    assert board().rank("cy") == 4
