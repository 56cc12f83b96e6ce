#!/usr/bin/env bash
# Ship the real-data model: train it with the command a user runs, then bundle its last.pt as the default model of
# `atrialjsq predict`. The trainer records what the model was trained on (its card: cases, domain, voxel sizes);
# scripts/real_model_meta.json adds what it cannot know (the acquisition's voxel size, licence, recipe, the
# cross-validation figures).
#   atrialjsq train --data LASC2018_DIR --out RUN     (the CPU preset ajsq-sesa-cpu, all 80 cases, 4,500 iterations;
#   v4, shipped until 6 December 2026, added --seconds 4500 --set train.synthetic_scar_real_iir=0)
#   scripts/ship_real_model.sh RUN
# The meta's trained_on repeats what today's trainer records: the v5 checkpoint was written before the trainer's
# card named the weak labels (train.synthetic_scar_real_iir).
set -euo pipefail
RUN=${1:?run folder}
BIN=${BIN:-.venv/bin}
"$BIN/atrialjsq" bundle --fine "$RUN/last.pt" --overwrite --out src/atrialjsq/assets/lasc2018-ajsq-sesa.pt \
    --name lasc2018-ajsq-sesa --meta scripts/real_model_meta.json
"$BIN/atrialjsq" models
