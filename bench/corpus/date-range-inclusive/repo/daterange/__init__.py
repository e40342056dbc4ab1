from daterange.ranges import DateRange, business_days

__all__ = ["DateRange", "business_days"]
