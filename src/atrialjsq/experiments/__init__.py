"""Cross-validation on any labelled data set, built on the stages: `kfold` (the one fold loop: saved folds,
per-fold training that resumes, the fold's Predictor) and `paper_tables` (the paper's Table 2 and Table 4: train
per fold, predict the held-out cases through the Predictor, evaluate, tabulate). `evaluate/` keeps the metrics,
statistics and table formatting they use. Studies of one particular data set (the LASC 2018 release) live
outside the package, in `studies/` at the repository root."""
