from resilient.retry import retry

__all__ = ["retry"]
