"""Shared fixtures. The simulated Anthropic API (``sim``) and GitHub (``github_sim``) are
plugins that load only here, never into the repositories escalate runs pytest on."""

pytest_plugins = ["escalate.sim.testing", "escalate.ghsim.testing"]
