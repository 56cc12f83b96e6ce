#!/usr/bin/env bash
# Ship the final real-data model: after `scripts/train_real_model.sh SECONDS RUN` (no fold: every one of the 80
# LASC 2018 cases trains), bundle RUN/last.pt with scripts/real_model_meta.json (training data, recipe, budget,
# the cross-validation figures, licence) as the default model of `atrialjsq predict`.
#   scripts/ship_real_model.sh RUN   (e.g. runs/final150)
set -euo pipefail
RUN=${1:?run folder}
BIN=${BIN:-.venv/bin}
"$BIN/atrialjsq" bundle --fine "$RUN/last.pt" --out src/atrialjsq/assets/lasc2018-ajsq-sesa.pt \
    --name lasc2018-ajsq-sesa --meta scripts/real_model_meta.json
"$BIN/atrialjsq" models
