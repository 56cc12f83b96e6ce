"""Scar burden, Utah stages and the classic baselines (IIR, Otsu, MGMM, mean + k·SD)."""
