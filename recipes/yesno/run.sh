#!/usr/bin/env bash
# Train and evaluate the yes/no recipe.   bash recipes/yesno/run.sh [YESNO_DIR] [RUN_DIR]
set -euo pipefail
YESNO=${1:-../shared/data/kaldi_yesno}
RUN=${2:-runs/yesno}
PY=${PYTHON:-.venv/bin/python}
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
$PY recipes/yesno/prepare.py --yesno "$YESNO" --out data/yesno
start=$(date +%s)
$LSTM_ASR train --config recipes/yesno/config.yaml --out "$RUN" --no-progress
echo "training wall time: $(( $(date +%s) - start )) s"
$LSTM_ASR evaluate --model "$RUN/best" --manifest data/yesno/test.jsonl --json --no-progress
$LSTM_ASR evaluate --model "$RUN/best" --manifest data/yesno/test.jsonl --json --no-progress --beam 8 --words "yes no"
