"""Which tier starts, with what effort and thinking, and why: rules, the classifier call, learning,
context size.
"""
