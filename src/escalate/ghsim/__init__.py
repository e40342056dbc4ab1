"""A loopback fake of the GitHub REST API, for tests and demos (PyGithub talks to it unchanged).

``escalate.ghsim.testing.running_github_sim()`` starts one; ``GithubState`` seeds it.
Nothing in the runner imports this package.
"""

from escalate.ghsim.state import ApiError, GithubState

__all__ = ["ApiError", "GithubState"]
