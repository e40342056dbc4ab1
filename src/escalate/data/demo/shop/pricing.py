def apply_discount(price: float, percent: float) -> float:
    """The price after taking `percent` % off, rounded to cents."""
    if not 0 <= percent <= 100:
        raise ValueError(f"discount must be between 0 and 100, got {percent}")
    return round(price - price * percent / 10, 2)
