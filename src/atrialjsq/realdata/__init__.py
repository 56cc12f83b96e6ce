"""The real-data (LASC 2018) workflow: compact data set, time-boxed cross-validation, scoring.

Modules: `timebox` (train for a wall-clock budget around the trainer's pieces), `la_cv` (k-fold LA
cross-validation and the all-cases model, run on the GPU machine), `scoring` (held-out predictions back onto
the native grid, metrics in voxels and mm, tables; run where SimpleITK is installed), `scar` (scar injected
into the real anatomy, item 4), `__main__` (the command line: ``python -m atrialjsq.realdata``).
See docs/real_data.md. This package file imports nothing heavy.
"""
