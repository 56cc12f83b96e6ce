#!/usr/bin/env bash
# Rebuild the shipped demo model (src/atrialjsq/assets/phantom-ajsq-sesa.pt) from phantoms, on a CPU, and
# evaluate it on 10 phantoms it has not seen. These are the exact commands that produced the shipped file;
# about 25 minutes on the 2-core development machine with native bf16 once the phantoms and caches exist
# (measured with OMP_NUM_THREADS=1 while the other core was busy; the default here is 2 threads).
# Usage: scripts/train_phantom_model.sh [WORK_DIR]   (default runs/; git-ignored)
set -euo pipefail
set -f  # no globbing: the --set values below contain [ ]
cd "$(dirname "$0")/.."
WORK="${1:-runs}"
BIN="${BIN:-.venv/bin}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
mkdir -p "$WORK"
# --resume where a run left a checkpoint, else --overwrite (a run killed before its first checkpoint).
resume_flag() { if [ -f "$1/last.pt" ]; then echo --resume; else echo --overwrite; fi; }
FINE_SET="--optimizer adam --lr 1e-3 --set model.levels=4 --set model.base_channels=8 --set model.max_channels=64
 --set data.spacing=[2,2,2] --set data.roi=[64,64,48] --set data.margin=[8,8,4]"

# 1. Data: 40 training phantoms (seed 0) and 10 unseen test phantoms (seed 777), clinical geometry.
[ -d "$WORK/phantoms_train" ] || "$BIN/atrialjsq" phantom --n 40 --out "$WORK/phantoms_train" --seed 0
[ -d "$WORK/phantoms_test" ] || "$BIN/atrialjsq" phantom --n 10 --out "$WORK/phantoms_test" --seed 777

# 2. Caches: the fine model at 2 mm (64x64x48 ROI around the LA), the localiser at 5 mm (whole field of view).
[ -d "$WORK/cache_fine" ] || "$BIN/atrialjsq" preprocess "$WORK/phantoms_train" --out "$WORK/cache_fine" \
    --spacing 2 2 2 --roi 64 64 48 --margin 8 8 4 --center la --workers 2
[ -d "$WORK/cache_loc" ] || "$BIN/atrialjsq" preprocess "$WORK/phantoms_train" --out "$WORK/cache_loc" \
    --spacing 5 5 5 --roi 72 72 24 --margin 4 4 2 --center image --workers 2

# 3. Networks: a small LA localiser (unet-la-bce) and the joint AtrialJSQnet (ajsq-sesa, all losses of eq. 7)
#    at reduced width for the CPU; Adam instead of the paper's SGD for a short run. 10% of cases validate.
"$BIN/atrialjsq" train --data "$WORK/cache_loc" --config unet-la-bce --out "$WORK/loc" --val-fraction 0.1 \
    --iterations 300 --optimizer adam --lr 2e-3 --set model.levels=3 --set model.base_channels=8 \
    --set model.max_channels=32 --set 'data.spacing=[5,5,5]' --set 'data.roi=[72,72,24]' \
    --set 'data.margin=[4,4,2]' --set train.checkpoint_every=50 --set train.val_every=100 \
    --set train.rotate_deg=5 --device cpu $(resume_flag "$WORK/loc")
# The paper's DPMs exp(-|phi|) on the eq. 1 targets (phi = 0 on each region's boundary voxels); best.pt is the
# checkpoint with the best validation score on the 4 validation phantoms.
"$BIN/atrialjsq" train --data "$WORK/cache_fine" --config ajsq-sesa --out "$WORK/fine" --val-fraction 0.1 \
    --iterations 1400 $FINE_SET --set train.checkpoint_every=100 --set train.val_every=100 --device cpu \
    $(resume_flag "$WORK/fine")

# 4. Bundle (fp16, weights-only) and evaluation on the unseen phantoms by the paper's protocol.
"$BIN/atrialjsq" bundle --localizer "$WORK/loc/last.pt" --fine "$WORK/fine/best.pt" \
    --overwrite --out "$WORK/phantom-ajsq-sesa.pt" --name phantom-ajsq-sesa --meta scripts/phantom_model_meta.json
"$BIN/atrialjsq" predict "$WORK/phantoms_test" --out "$WORK/pred_test" --model "$WORK/phantom-ajsq-sesa.pt" \
    --device cpu --no-figure --quiet --overwrite
"$BIN/atrialjsq" evaluate --pred "$WORK/pred_test" --gt "$WORK/phantoms_test" --out "$WORK/eval_test" --overwrite
echo "copy $WORK/phantom-ajsq-sesa.pt to src/atrialjsq/assets/ to ship it"
