#!/usr/bin/env bash
# The streaming variant of the bundled default model, shipped as `digits-commands-streaming`:
# the default model's weights run latency-controlled (model.chunk / right_context) on online
# (causal) features, fine-tuned with the default model as its teacher (streaming.yaml).
#   bash recipes/digits-commands/streaming.sh
# Needs data/digits-commands (prepare.py here); adds its string-heavy mix (streaming_data.py).
# An interrupted run continues where it stopped when started again (--resume).
set -euo pipefail
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
R=recipes/digits-commands
OUT=runs/digits-commands-streaming
[ -f data/digits-commands/sc_seq_train2.jsonl ] || ${PYTHON:-.venv/bin/python} $R/streaming_data.py
start=$(date +%s)
$LSTM_ASR train --config $R/streaming.yaml --out $OUT --no-progress $([ -f "$OUT/last/trainer.json" ] && echo --resume || true)
echo "training: $(( $(date +%s) - start )) s"
# unseen speakers: the streaming variant beside the offline model, on every test set
for test in data/digits-commands/test*.jsonl; do
  name=$(basename "$test" .jsonl)
  for model in digits-commands $OUT/best; do
    $LSTM_ASR evaluate --model "$model" --manifest "$test" --json --no-progress \
      | python3 -c "import json,sys; d=json.load(sys.stdin); print(f\"$name $model: {d['sent_acc']:.1%} right, WER {d['wer']:.1%} (n={d['n']})\")"
  done
done
