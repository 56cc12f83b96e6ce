"""Dataset layouts, case index and splits, checks, preprocessing, training targets and the cache."""
