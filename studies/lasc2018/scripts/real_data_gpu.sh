#!/usr/bin/env bash
# Real-data (LASC 2018) LA cross-validation on a GPU machine, in one command per device call.
# See studies/lasc2018/DEVELOPMENT.md for the budget plan, the device calls and how the results are scored afterwards.
#
# Usage, from the repository root on the GPU machine (OUT = folder whose files come back):
#   OUT=/some/dir studies/lasc2018/scripts/real_data_gpu.sh cv 0 1 2          # folds 0-2
#   OUT=/some/dir studies/lasc2018/scripts/real_data_gpu.sh cv 3 4 final      # folds 3-4, then the all-cases model
#   OUT=/some/dir studies/lasc2018/scripts/real_data_gpu.sh smoke             # 5 s per fold on folds 0-1 (plumbing check)
# Settings (environment): TRAIN_SECONDS (60), CONFIG (unet-la-se), COMPACT (devdata/lasc2018_compact.npz),
# WORK (/tmp/realdata), ARGS (replaces the default training arguments below), EXTRA (appended to them).
#
# Writes to $OUT (tag = config, mode and folds): predictions_<config>_fold<k>.npz per fold run (held-out
# probabilities on the 1 mm windows), lasc-<config>.pt (final fp16 model, with `final`), logs_<tag>.tar.gz
# (folds.json, per-fold json/log.csv, final.json) and run_<tag>.log (this script's output): at most
# folds + 3 files per invocation; the device returns 8 files per call.
# Scar study (studies/lasc2018/DEVELOPMENT.md): COMPACT=devdata/lasc2018_scar.npz CONFIG=ajsq-sesa ... cv 0 1 2 3 4
set -euo pipefail

: "${OUT:?set OUT to the folder whose files come back}"
TRAIN_SECONDS="${TRAIN_SECONDS:-60}"
CONFIG="${CONFIG:-unet-la-se}"
COMPACT="${COMPACT:-devdata/lasc2018_compact.npz}"
WORK="${WORK:-/tmp/realdata}"
DEFAULT_ARGS=(--roi 112 96 96 --margin 16 8 8 --batch-size 4 --tta --workers 12
    --set optim.name=adamw --set optim.lr=0.002 --set optim.weight_decay=0.0001
    --set 'loss.la_terms=["bce","dice","se"]')
if [[ -n "${ARGS:-}" ]]; then read -r -a TRAIN_ARGS <<<"$ARGS"; else TRAIN_ARGS=("${DEFAULT_ARGS[@]}"); fi
if [[ -n "${EXTRA:-}" ]]; then read -r -a EXTRA_ARGS <<<"$EXTRA"; TRAIN_ARGS+=("${EXTRA_ARGS[@]}"); fi

mode="${1:-}"
shift || true
folds=()
final=0
case "$mode" in
    cv)
        for item in "$@"; do
            if [[ "$item" == final ]]; then final=1; else folds+=("$item"); fi
        done ;;
    final) final=1 ;;
    smoke) folds=(0 1); TRAIN_SECONDS=5; WORK="$WORK/smoke" ;;
    *) echo "usage: OUT=dir $0 cv FOLD... [final] | final | smoke" >&2; exit 2 ;;
esac
tag="${CONFIG}_${mode}${folds[*]:+_$(IFS=; echo "${folds[*]}")}"
[[ $final == 1 && $mode == cv ]] && tag="${tag}_final"
WORK="$WORK/$(basename "$COMPACT" .npz)/$CONFIG"

mkdir -p "$OUT" "$WORK"
exec > >(tee "$OUT/run_${tag}.log") 2>&1

# The GPU image has torch/numpy/scipy but not edt: install the carried wheel (see studies/lasc2018/DEVELOPMENT.md).
if ! python3 -c "import edt" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numpy', numpy.__version__)"
[[ -f "$COMPACT" ]] || { echo "missing $COMPACT: carry it (studies/lasc2018/DEVELOPMENT.md)" >&2; exit 1; }

common=(--compact "$COMPACT" --config "$CONFIG" --seconds "$TRAIN_SECONDS" "${TRAIN_ARGS[@]}")
start=$(date +%s)
if (( ${#folds[@]} )); then
    python3 -m studies.lasc2018 cv "${common[@]}" --out "$WORK/cv" --folds "${folds[@]}"
    for k in "${folds[@]}"; do cp "$WORK/cv/fold$k/predictions.npz" "$OUT/predictions_${CONFIG}_fold$k.npz"; done
fi
if [[ $final == 1 ]]; then
    python3 -m studies.lasc2018 final "${common[@]}" --out "$WORK/final" --export "$WORK/lasc-$CONFIG.pt"
    cp "$WORK/lasc-$CONFIG.pt" "$OUT/lasc-$CONFIG.pt"
fi
echo "wall time $(( $(date +%s) - start )) s"

(cd "$WORK" && find . \( -name '*.json' -o -name 'log.csv' \) -print0 | tar --null -czf "$OUT/logs_${tag}.tar.gz" -T -)
ls -la "$OUT"
