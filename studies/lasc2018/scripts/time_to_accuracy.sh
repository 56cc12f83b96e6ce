#!/usr/bin/env bash
# Recipe choice by time-to-accuracy on LASC 2018 (fold 0 of the saved 5 folds as validation; its 16 cases are
# never used to pick weights, only to compare recipes): each recipe trains for SECONDS on fold 0's 64 training
# cases with snapshots every SECONDS/5, then every snapshot is scored on the held-out cases' original images
# through the Predictor on the native grid (studies/lasc2018/scripts/score_snapshots.py).
#   studies/lasc2018/scripts/time_to_accuracy.sh SECONDS OUT [RECIPE...]   recipes: injected125 mixed125 mixed150 (default: all)
# Needs devdata/lasc_125{,_scar}.npz and devdata/lasc_150{,_scar}.npz (studies/lasc2018/DEVELOPMENT.md); never commit devdata/.
set -euo pipefail
SECONDS_BUDGET=${1:?seconds}; OUT=${2:?out}; shift 2
RECIPES=("$@"); [ "${#RECIPES[@]}" -gt 0 ] || RECIPES=(injected125 mixed125 mixed150)
PY=${PY:-.venv/bin/python}
SNAP=$((SECONDS_BUDGET / 5))
COMMON=(--config ajsq-sesa --seconds "$SECONDS_BUDGET" --snapshot-every "$SNAP" --batch-size 2 --device cpu
  --workers 2 --set model.levels=5 --set model.base_channels=8 --set model.max_channels=128
  --set optim.name=adamw --set optim.lr=0.002 --set train.amp=true --set train.channels_last=true
  --set 'loss.la_terms=["bce","dice","se"]' --folds 0 --quiet)
for recipe in "${RECIPES[@]}"; do
  case "$recipe" in
    injected125) ARGS=(--compact devdata/lasc_125_scar.npz --spacing 1.25 1.25 1.25 --roi 80 80 64 --margin 12 8 8) ;;
    mixed125) ARGS=(--compact devdata/lasc_125_scar.npz --add-originals devdata/lasc_125.npz
                    --spacing 1.25 1.25 1.25 --roi 80 80 64 --margin 12 8 8) ;;
    mixed150) ARGS=(--compact devdata/lasc_150_scar.npz --add-originals devdata/lasc_150.npz
                    --spacing 1.5 1.5 1.5 --roi 80 64 64 --margin 10 8 8) ;;
    *) echo "unknown recipe $recipe" >&2; exit 2 ;;
  esac
  echo "$(date -u +%FT%TZ) recipe $recipe: ${SECONDS_BUDGET} s"
  "$PY" -m studies.lasc2018 cv "${ARGS[@]}" "${COMMON[@]}" --out "$OUT/$recipe"
done
echo "$(date -u +%FT%TZ) done"
