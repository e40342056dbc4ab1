from telemetry.ring import RingBuffer

__all__ = ["RingBuffer"]
