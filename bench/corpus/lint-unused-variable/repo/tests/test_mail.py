from digest import Message, send_digest


class RecordingMailer:
    def __init__(self) -> None:
        self.outbox: list[Message] = []

    def send(self, message: Message) -> str:
        self.outbox.append(message)
        return f"<{len(self.outbox)}@example.test>"


def test_sends_to_everyone():
    mailer = RecordingMailer()
    assert send_digest(mailer, ["a@x.test", "b@x.test"], ["release 1.2"]) == 2
    assert [m.to for m in mailer.outbox] == ["a@x.test", "b@x.test"]
    assert mailer.outbox[0].body == "- release 1.2"


def test_empty_digest():
    mailer = RecordingMailer()
    send_digest(mailer, ["a@x.test"], [])
    assert mailer.outbox[0].body == "Nothing new this week."
