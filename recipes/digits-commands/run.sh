#!/usr/bin/env bash
# The bundled default model, from scratch, in one command:
#   bash recipes/digits-commands/run.sh [SC_DIR] [FSDD_DIR]
# prepare (split by speaker) -> stage 1 (base.yaml: Speech Commands) -> stage 2 (config.yaml: + FSDD)
# -> score every test set with the model's own decoder and with greedy decoding.
# An interrupted run continues where it stopped when started again (--resume).
set -euo pipefail
SC=${1:-../shared/data/speech_commands}
FSDD=${2:-../shared/data/fsdd}
PY=${PYTHON:-.venv/bin/python}
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
R=recipes/digits-commands
[ -f data/digits-commands/test_fsdd.jsonl ] || $PY $R/prepare.py --sc "$SC" --fsdd "$FSDD" --out data/digits-commands
start=$(date +%s)
for stage in base config; do
  out=runs/digits-commands$([ $stage = base ] && echo -base || true)
  $LSTM_ASR train --config $R/$stage.yaml --out "$out" --no-progress $([ -f "$out/last/trainer.json" ] && echo --resume || true)
  echo "after $stage: $(( $(date +%s) - start )) s of training"
done
for test in data/digits-commands/test*.jsonl; do
  name=$(basename "$test" .jsonl)
  echo "$name (the model's own decoder, then greedy):"
  $LSTM_ASR evaluate --model runs/digits-commands/best --manifest "$test" --json --no-progress \
    --save-hyps "runs/digits-commands/$name.hyps.jsonl" | tee "runs/digits-commands/$name.json"
  $LSTM_ASR evaluate --model runs/digits-commands/best --manifest "$test" --json --no-progress --greedy
done
