"""LASC 2018 (80 real LGE MRIs with expert LA labels) studies: `cross_validation` (k folds with a wall-clock
budget per fold and the all-cases model; runs where only torch, NumPy, SciPy and edt are installed),
`scoring` (held-out predictions on the native grid, metrics in voxels and mm), `model_scoring` (a model file
through the Predictor on the release's own images, as `predict` runs it), `scar` (scar injected into the real
walls, Table 2 layout). Command line: ``python -m studies.lasc2018 …`` (or ``python -m studies.lasc2018 …``);
see studies/lasc2018/DEVELOPMENT.md."""
