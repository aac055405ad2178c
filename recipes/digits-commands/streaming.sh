#!/usr/bin/env bash
# The streaming variant of the bundled default model, shipped as `digits-commands-streaming`:
# the same two steps as the default model (recipes/digits, then finetune.yaml), with a
# unidirectional LSTM and causal feature normalisation, so it runs chunk by chunk exactly.
#   bash recipes/digits-commands/streaming.sh
# Needs data/digits (recipes/digits/prepare.py) and data/digits-commands (prepare.py here).
# An interrupted run continues where it stopped when started again (--resume).
set -euo pipefail
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
R=recipes/digits-commands
resume() { [ -f "$1/last/trainer.json" ] && echo --resume || true; }
STREAMING=(--set model.bidirectional=false --set features.normalize=causal)
start=$(date +%s)
$LSTM_ASR train --config recipes/digits/config.yaml --out runs/digits-streaming --no-progress \
  "${STREAMING[@]}" --set train.threads=1 --set train.max_minutes=25 $(resume runs/digits-streaming)
echo "digits stage: $(( $(date +%s) - start )) s"
$LSTM_ASR train --config $R/finetune.yaml --out runs/digits-commands-streaming --no-progress \
  --set train.init=runs/digits-streaming/best --set train.epochs=16 $(resume runs/digits-commands-streaming)
echo "fine-tuning: $(( $(date +%s) - start )) s"
for test in data/digits-commands/test*.jsonl; do
  name=$(basename "$test" .jsonl)
  $LSTM_ASR evaluate --model runs/digits-commands-streaming/best --manifest "$test" --json --no-progress \
    | tee "runs/digits-commands-streaming/$name.json"
done
