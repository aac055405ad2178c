#!/usr/bin/env bash
# Train and evaluate the bundled digits model: prepare data, train, score every test set.
#   bash recipes/digits/run.sh [FSDD_DIR] [RUN_DIR]
set -euo pipefail
FSDD=${1:-../shared/data/fsdd}
RUN=${2:-runs/digits}
PY=${PYTHON:-.venv/bin/python}
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
$PY recipes/digits/prepare.py --fsdd "$FSDD" --out data/digits
start=$(date +%s)
$LSTM_ASR train --config recipes/digits/config.yaml --out "$RUN" --no-progress
echo "training wall time: $(( $(date +%s) - start )) s"
$LSTM_ASR evaluate --model "$RUN/best" --manifest data/digits/test.jsonl --json --no-progress > "$RUN/test.json"
$LSTM_ASR evaluate --model "$RUN/best" --manifest data/digits/test_seq.jsonl --json --no-progress > "$RUN/test_seq.json"
cat "$RUN/test.json" "$RUN/test_seq.json"
