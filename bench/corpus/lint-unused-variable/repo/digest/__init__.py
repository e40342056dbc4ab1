from digest.mail import Message, send_digest

__all__ = ["Message", "send_digest"]
