from arcade.leaderboard import Leaderboard

__all__ = ["Leaderboard"]
