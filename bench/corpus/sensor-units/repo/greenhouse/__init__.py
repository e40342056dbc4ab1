from greenhouse.alerts import check
from greenhouse.reader import Reading, parse_frame
from greenhouse.stats import daily_summary

__all__ = ["Reading", "check", "daily_summary", "parse_frame"]
