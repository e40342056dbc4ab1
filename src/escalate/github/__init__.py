"""Everything GitHub: the REST client, webhook events, what a PR body or comment says, the issue and CI
flows.
"""
