#!/usr/bin/env bash
# The streaming variant shipped as `digits-commands-streaming` until 2026-12-02 (now streaming.sh):
# the default model's weights run latency-controlled (model.chunk / right_context) on per-window
# normalised features, fine-tuned with the default model as its teacher (streaming.yaml), then its
# weights interpolated with the default model's (interpolate.py; alpha chosen on the dev speakers).
# That config then got its level floor and a longer look-ahead (level_floor.sh sweep).
#   bash recipes/digits-commands/streaming_finetune.sh
# Needs data/digits-commands (prepare.py here); adds its string-heavy mix (streaming_data.py).
# An interrupted run continues where it stopped when started again (--resume).
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
R=recipes/digits-commands
OUT=runs/digits-commands-streaming-ft
[ -f data/digits-commands/sc_seq_train2.jsonl ] || $PY $R/streaming_data.py
start=$(date +%s)
$LSTM_ASR train --config $R/streaming.yaml --out $OUT --no-progress $([ -f "$OUT/last/trainer.json" ] && echo --resume || true)
echo "training: $(( $(date +%s) - start )) s"
score() {  # MODEL SET -> one line: sentences right and WER
  $LSTM_ASR evaluate --model "$1" --manifest "data/digits-commands/$2.jsonl" --json --no-progress \
    | python3 -c "import json,sys; d=json.load(sys.stdin); print(f\"$2 $1: {d['sent_acc']:.1%} right, WER {d['wer']:.1%} (n={d['n']})\")"
}
# the weight of the fine-tuned model against the default model's, on the dev speakers only
# (words and strings: dev, dev_sc_seq, dev_sc_strings); 2026-12-02 chose 0.75
for alpha in 0.25 0.5 0.75 1.0; do
  $PY $R/interpolate.py --start digits-commands --tuned $OUT/best --alpha $alpha --out $OUT/wise-$alpha > /dev/null
  for dev in dev dev_sc_seq dev_sc_strings; do score $OUT/wise-$alpha $dev; done
done
# unseen speakers: the streaming variant beside the offline model, on every test set
for test in data/digits-commands/test*.jsonl; do
  for model in digits-commands $OUT/wise-${ALPHA:-0.75}; do score "$model" "$(basename "$test" .jsonl)"; done
done
