"""Where repository code lives and runs: the git worktree, subprocesses (sandboxed), and the repository
map.
"""
