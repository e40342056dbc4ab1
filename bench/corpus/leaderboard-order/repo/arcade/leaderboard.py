"""Per-game leaderboards: best score per player."""

from __future__ import annotations


class Leaderboard:
    def __init__(self, game: str) -> None:
        self.game = game
        self._best: dict[str, int] = {}

    def record(self, player: str, score: int) -> bool:
        """Keep the player's best score; True when this score is a new personal best."""
        if score > self._best.get(player, -1):
            self._best[player] = score
            return True
        return False

    def top(self, n: int = 3, highest_first: bool = False) -> list[tuple[str, int]]:
        """The ``n`` best entries; ties are broken by player name."""
        ordered = sorted(
            self._best.items(),
            key=lambda item: (-item[1] if highest_first else item[1], item[0]),
        )
        return ordered[:n]

    def rank(self, player: str) -> int:
        """1-based position of the player in the full board."""
        names = [name for name, _ in self.top(len(self._best))]
        return names.index(player) + 1
