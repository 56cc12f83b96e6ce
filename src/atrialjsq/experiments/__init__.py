"""Studies built on the stages: `paper_tables` (the paper's Table 2 and Table 4 by cross-validation on a
labelled data set: train per fold, predict the held-out cases through the Predictor, evaluate, tabulate) and
`lasc2018` (the LASC 2018 real-data studies: time-boxed LA/joint cross-validation on a compact copy of the
release, native-grid scoring, scar injected into the real walls). `evaluate/` keeps the metrics, statistics
and table formatting they use."""
