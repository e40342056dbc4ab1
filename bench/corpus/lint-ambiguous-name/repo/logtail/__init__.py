from logtail.tail import last_errors, tail

__all__ = ["last_errors", "tail"]
