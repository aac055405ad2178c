#!/usr/bin/env bash
# Train and evaluate a recipe: prepare its manifests, train, score every data/NAME/test*.jsonl.
#   bash recipes/run.sh NAME [SOURCE_DIR] [RUN_DIR]      e.g. bash recipes/run.sh digits
set -euo pipefail
NAME=${1:?usage: recipes/run.sh NAME [SOURCE_DIR] [RUN_DIR]}
SOURCE=${2:-}
RUN=${3:-runs/$NAME}
PY=${PYTHON:-.venv/bin/python}
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
$PY "recipes/$NAME/prepare.py" ${SOURCE:+--source "$SOURCE"} --out "data/$NAME"
start=$(date +%s)
$LSTM_ASR train --config "recipes/$NAME/config.yaml" --out "$RUN" --no-progress
echo "training wall time: $(( $(date +%s) - start )) s"
for test in data/"$NAME"/test*.jsonl; do
  echo "$test (the model's own decoder, then greedy):"
  $LSTM_ASR evaluate --model "$RUN/best" --manifest "$test" --json --no-progress | tee "$RUN/$(basename "$test" .jsonl).json"
  $LSTM_ASR evaluate --model "$RUN/best" --manifest "$test" --json --no-progress --greedy
done
