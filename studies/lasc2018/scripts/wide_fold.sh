#!/usr/bin/env bash
# Fold K of the weak-label preset (the shipped recipe) with a wider network, 12->192 channels, time-boxed to BUDGET
# seconds (at most 4,500 iterations, the learning rate decaying over whichever is further spent), then scored as
# docs/results/real132_long_fold<k>/ into docs/results/wide_fold<k>/ (LA on the native grid, injected scar on both
# surfaces, the real scans' burden). Rerun the same command to resume an interrupted run (runs/wide<k>/fold<k>/last.pt).
#   studies/lasc2018/scripts/wide_fold.sh K [BUDGET]   (fold 4: 6000 s gave 3,889 iterations on the 2-core CPU)
# Run on folds 4 and 3 (docs/results/wide_folds34/): no reliable gain pooled, so not run on folds 0-2 nor shipped.
# Needs devdata/lasc_150.npz and devdata/lasc_150_scar.npz (studies/lasc2018/DEVELOPMENT.md); never commit devdata/.
set -euo pipefail
k=${1:?fold}; BUDGET=${2:-6000}; RUN=runs/wide$k; R=docs/results/wide_fold$k
export PYTHONPATH=. LASC2018=${LASC2018:-../shared/data/lasc2018}
export EXTRA="--set train.synthetic_scar=0.7 --set train.blur_p=0.2 --set train.bias_p=0.3 --set train.rician_p=0.2 \
--set train.synthetic_scar_unsure_iir=1.32 --set train.synthetic_scar_iir=[1.32,2.6] --set train.synthetic_scar_real_iir=1.32 \
--max-iterations 4500 --threads 2 --set model.base_channels=12 --set model.max_channels=192"
studies/lasc2018/scripts/train_real_model.sh "$BUDGET" "$RUN" "$k"
RESULTS=$R studies/lasc2018/scripts/real_model_results.sh "$RUN" "$k"
.venv/bin/python studies/lasc2018/scripts/real_burden_agreement.py "$RUN/lasc2018-ajsq-sesa.pt" "$LASC2018" "$RUN/folds.json" "$k" \
  "$R/real_burden"
.venv/bin/python -m studies.lasc2018 score-scar --compact devdata/lasc_150_scar.npz --original devdata/lasc_150.npz \
  --network "AJSQnet-SESA=$RUN/fold$k/predictions.npz" --la-predictions "$RUN/fold$k/predictions.npz" --out "$RUN/known$k" --quiet
mkdir -p "$R/known" && cp "$RUN/known$k"/*.csv "$RUN/known$k/scar_table.md" "$R/known/"
echo "wide fold $k scored into $R"
