"""Workflows a user runs, built from the stages below: `predict` (image files → Predictor → scar on the
surface → report files), the pipeline behind `atrialjsq predict` and `atrialjsq demo`."""
