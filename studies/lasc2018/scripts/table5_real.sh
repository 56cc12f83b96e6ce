#!/usr/bin/env bash
# Table 5 on the 80 real LASC 2018 cases: U-Net_LA-BCE, U-Net_LA-SE and the three distance-map (DTM) shape
# constraints (Dangi, Audebert, Xue), each trained on a fold's 64 training cases (as acquired, no injected scar)
# with the backbone of the real-data recipe (studies/lasc2018/scripts/train_real_model.sh) and scored on its 16 held-out cases
# through `predict`'s path on the native grid. Every method gets the same number of iterations (ITERATIONS,
# default 1700 = the joint recipe's steps per fold), not the same wall clock, so that other work sharing the
# CPU cannot favour one method. Per-fold per-case CSVs go to docs/results/table5_real/<config>/ (numbers only);
# `python -m studies.lasc2018 table5 --results docs/results/table5_real` pools whatever folds are there.
#   studies/lasc2018/scripts/table5_real.sh RUN FOLD...        e.g. studies/lasc2018/scripts/table5_real.sh runs/table5_real_v2 0 1
# Needs devdata/lasc_150.npz (studies/lasc2018/DEVELOPMENT.md) and the release in $LASC2018 (default: the development
# set-up's ../shared/data/lasc2018); never commit devdata/ or runs/.
set -euo pipefail
RUN=${1:?run folder}; shift
BIN=${BIN:-.venv/bin}
ITERATIONS=${ITERATIONS:-1700}
CONFIGS=${CONFIGS:-unet-la-bce unet-la-se unet-la-dangi unet-la-audebert unet-la-xue}
FOLDS_JSON=docs/results/lasc2018_fold0/folds.json   # the folds of the joint model's cross-validation
RESULTS=${RESULTS:-docs/results/table5_real}
LASC2018=${LASC2018:-../shared/data/lasc2018}
for FOLD in "$@"; do
  for CONFIG in $CONFIGS; do
    OUT="$RUN/$CONFIG"
    DEST="$RESULTS/$CONFIG/fold${FOLD}_la_native_per_case.csv"
    if [ -f "$DEST" ]; then echo "$CONFIG fold $FOLD: done ($DEST)"; continue; fi
    mkdir -p "$OUT"; [ -f "$OUT/folds.json" ] || cp "$FOLDS_JSON" "$OUT/folds.json"
    "$BIN/python" -m studies.lasc2018 cv --compact devdata/lasc_150.npz --out "$OUT" --config "$CONFIG" \
      --seconds 7200 --max-iterations "$ITERATIONS" --spacing 1.5 1.5 1.5 --roi 80 64 64 --margin 10 8 8 \
      --batch-size 2 --device cpu --workers 2 --set model.levels=5 --set model.base_channels=8 \
      --set model.max_channels=128 --set optim.name=adamw --set optim.lr=0.002 --set train.amp=true \
      --set train.channels_last=true --folds "$FOLD" --quiet ${EXTRA:-}
    "$BIN/atrialjsq" bundle --overwrite --fine "$OUT/fold$FOLD/last.pt" --out "$OUT/fold$FOLD/model.pt" --name "$CONFIG-fold$FOLD"
    "$BIN/python" -m studies.lasc2018 score-model --model "$OUT/fold$FOLD/model.pt" --src "$LASC2018" \
      --folds "$OUT/folds.json" --fold "$FOLD" --out "$OUT/score_fold$FOLD" --quiet
    mkdir -p "$RESULTS/$CONFIG"
    cp "$OUT/fold$FOLD/log.csv" "$RESULTS/$CONFIG/fold${FOLD}_log.csv"
    cp "$OUT/fold$FOLD/fold.json" "$RESULTS/$CONFIG/fold${FOLD}.json"
    cp "$OUT/score_fold$FOLD/per_case.csv" "$DEST.tmp" && mv "$DEST.tmp" "$DEST"
    echo "$CONFIG fold $FOLD: wrote $DEST"
  done
done
