from metrics.summary import summarize

__all__ = ["summarize"]
