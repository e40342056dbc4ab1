"""Is a patch an improvement by the repository's own standards: the baseline and the staged checks."""
