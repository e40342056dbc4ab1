"""The order lifecycle: a small state machine with an audit history."""

from __future__ import annotations

TRANSITIONS = {
    "new": {"paid", "cancelled"},
    "paid": {"shipped", "refunded"},
    "shipped": {"delivered"},
    "delivered": set(),
    "cancelled": set(),
    "refunded": set(),
}


class InvalidTransition(Exception):
    pass


class Order:
    history: list[tuple[str, str]] = []

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        self.state = "new"

    def advance(self, new_state: str) -> None:
        if new_state not in TRANSITIONS.get(self.state, set()):
            raise InvalidTransition(f"{self.order_id}: {self.state} -> {new_state} is not allowed")
        self.history.append((self.state, new_state))
        self.state = new_state

    @property
    def is_final(self) -> bool:
        return not TRANSITIONS[self.state]
