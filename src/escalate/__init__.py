"""escalate: a CI pipeline escalation runner for Claude models."""

__version__ = "0.1.0"
