"""The roles around the implementer: explorer, planner, reviewer, commit writer, and the crew that
plays them.
"""
