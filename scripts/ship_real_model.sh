#!/usr/bin/env bash
# Ship the real-data model: train it with the command a user runs, then bundle its last.pt as the default model of
# `atrialjsq predict`. The trainer records what the model was trained on (its card: cases, domain, voxel sizes);
# scripts/real_model_meta.json adds what it cannot know (the acquisition's voxel size, licence, recipe, the
# cross-validation figures).
#   atrialjsq train --data LASC2018_DIR --out RUN --seconds 4500     (the CPU preset ajsq-sesa-cpu, all 80 cases;
#   the v4 model shipped now added --set train.synthetic_scar_real_iir=0, the v3 model shipped until
#   6 December 2026 --set 'train.synthetic_scar_iir=[1.1,2.6]')
#   scripts/ship_real_model.sh RUN
set -euo pipefail
RUN=${1:?run folder}
BIN=${BIN:-.venv/bin}
"$BIN/atrialjsq" bundle --fine "$RUN/last.pt" --out src/atrialjsq/assets/lasc2018-ajsq-sesa.pt \
    --name lasc2018-ajsq-sesa --meta scripts/real_model_meta.json
"$BIN/atrialjsq" models
