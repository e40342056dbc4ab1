"""The nightly job over the Message Batches API: discovery, submit, collect, the queue across nights, PRs."""
