#!/usr/bin/env bash
# The shipped real-data joint model (lasc2018-ajsq-sesa), trained on the 2-core CPU: AtrialJSQnet (ajsq-sesa, exp DPMs on the eq. 1
# targets) on LASC 2018 with synthetic scar injected into the real LA walls, 1.25 mm grid, time-boxed.
#   scripts/train_real_model.sh SECONDS OUT [FOLD...]   (no fold: train on all 80 cases, `final`)
# Needs devdata/lasc_125.npz and devdata/lasc_125_scar.npz (see docs/real_data.md); never commit devdata/.
set -euo pipefail
SECONDS_BUDGET=${1:?seconds}; OUT=${2:?out}; shift 2
PY=${PY:-.venv/bin/python}
ARGS=(--compact devdata/lasc_125_scar.npz --out "$OUT" --config ajsq-sesa --seconds "$SECONDS_BUDGET"
  --spacing 1.25 1.25 1.25 --roi 80 80 64 --margin 12 8 8 --batch-size 2 --device cpu --workers 2
  --set model.levels=5 --set model.base_channels=8 --set model.max_channels=128
  --set optim.name=adamw --set optim.lr=0.002 --set train.amp=true --set train.channels_last=true
  --set 'loss.la_terms=["bce","dice","se"]' ${EXTRA:-})
if [ "$#" -gt 0 ]; then
  exec "$PY" -m atrialjsq.cli.lasc2018 cv "${ARGS[@]}" --folds "$@"
else
  exec "$PY" -m atrialjsq.cli.lasc2018 final "${ARGS[@]}" --export "$OUT/model.pt"
fi
