from breaker.circuit import CircuitBreaker, CircuitOpen

__all__ = ["CircuitBreaker", "CircuitOpen"]
