"""The weekly digest e-mail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    def send(self, message: Message) -> str: ...


def render(items: list[str]) -> str:
    if not items:
        return "Nothing new this week."
    return "\n".join(f"- {item}" for item in items)


def send_digest(mailer: Mailer, recipients: list[str], items: list[str]) -> int:
    """Send the digest to every recipient; returns how many were sent."""
    body = render(items)
    sent = 0
    for to in recipients:
        message_id = mailer.send(Message(to=to, subject="Your weekly digest", body=body))
        sent += 1
    return sent
