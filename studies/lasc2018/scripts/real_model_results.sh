#!/usr/bin/env bash
# After studies/lasc2018/scripts/train_real_model.sh SECONDS RUN 0: bundle the fold's network, score its held-out cases
#   (LA through the Predictor on the native LASC grid; scar on the injected real anatomy next to IIR/Otsu/MGMM
#   given the manual and the predicted LA), and copy the per-case metric tables to docs/results/ (numbers only).
# Usage: studies/lasc2018/scripts/real_model_results.sh RUN FOLD   (e.g. runs/tta/mixed150 0); SCAR_COMPACT overrides the scar copy,
#   RESULTS the folder the tables go to (default docs/results/lasc2018_fold<FOLD>)
set -euo pipefail
RUN=${1:?run folder}; FOLD=${2:?fold}
BIN=${BIN:-.venv/bin}
F="$RUN/fold$FOLD"
SCAR_COMPACT=${SCAR_COMPACT:-devdata/lasc_150_scar.npz}  # the grid the network was trained on
RESULTS=${RESULTS:-docs/results/lasc2018_fold$FOLD}  # where the per-case tables go
LASC2018=${LASC2018:-../shared/data/lasc2018}  # the release (default: the development set-up's data folder)
"$BIN/atrialjsq" bundle --overwrite --fine "$F/last.pt" --out "$RUN/lasc2018-ajsq-sesa.pt" --name lasc2018-ajsq-sesa \
    --meta scripts/real_model_meta.json
"$BIN/python" -m studies.lasc2018 score-model --model "$RUN/lasc2018-ajsq-sesa.pt" --src "$LASC2018" \
    --folds "$RUN/folds.json" --fold "$FOLD" --out "$RUN/score_native_fold$FOLD" --quiet
"$BIN/python" -m studies.lasc2018 score-scar --compact "$SCAR_COMPACT" --out "$RUN/scar_fold$FOLD" \
    --network "AJSQnet-SESA=$F/predictions.npz" --la-predictions "$F/predictions.npz" --quiet
mkdir -p "$RESULTS"
cp "$RUN/score_native_fold$FOLD/per_case.csv" "$RESULTS/la_native_per_case.csv"
cp "$RUN/score_native_fold$FOLD/summary.json" "$RESULTS/la_native_summary.json"
cp "$RUN/scar_fold$FOLD"/*.csv "$RUN/scar_fold$FOLD"/scar_table.md "$RUN/scar_fold$FOLD"/scar_table.png "$RESULTS/"
cp "$F/fold.json" "$F/log.csv" "$RUN/folds.json" "$RESULTS/"
echo "wrote $RESULTS"
