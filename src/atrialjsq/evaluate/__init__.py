"""LA metrics, scar-on-surface metrics by the paper's protocol, statistics and the experiment runner."""
