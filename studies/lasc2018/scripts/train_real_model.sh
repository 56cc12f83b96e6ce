#!/usr/bin/env bash
# The shipped real-data joint model (lasc2018-ajsq-sesa), trained on the 2-core CPU: AtrialJSQnet (ajsq-sesa, exp
# DPMs on the eq. 1 targets) on LASC 2018, each training case twice: with synthetic scar injected into its LA wall
# (all loss terms) and as acquired (LA terms only), on a 1.5 mm grid, time-boxed. The recipe won the
# time-to-accuracy comparison of studies/lasc2018/scripts/time_to_accuracy.sh (README, docs/figures/cpu_time_to_accuracy.png).
#   studies/lasc2018/scripts/train_real_model.sh SECONDS OUT [FOLD...]   (no fold: train on all 80 cases, `final`)
# Needs devdata/lasc_150.npz and devdata/lasc_150_scar.npz (studies/lasc2018/DEVELOPMENT.md); never commit devdata/.
set -euo pipefail
SECONDS_BUDGET=${1:?seconds}; OUT=${2:?out}; shift 2
BIN=${BIN:-.venv/bin}
ARGS=(--compact devdata/lasc_150_scar.npz --add-originals devdata/lasc_150.npz --out "$OUT" --config ajsq-sesa
  --seconds "$SECONDS_BUDGET" --spacing 1.5 1.5 1.5 --roi 80 64 64 --margin 10 8 8 --batch-size 2 --device cpu
  --workers 2 --set model.levels=5 --set model.base_channels=8 --set model.max_channels=128
  --set optim.name=adamw --set optim.lr=0.002 --set train.amp=true --set train.channels_last=true
  --set 'loss.la_terms=["bce","dice","se"]' ${EXTRA:-})
if [ "$#" -gt 0 ]; then
  exec "$BIN/python" -m studies.lasc2018 cv "${ARGS[@]}" --folds "$@"
else
  exec "$BIN/python" -m studies.lasc2018 final "${ARGS[@]}" --export "$OUT/model.pt"
fi
