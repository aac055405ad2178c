#!/usr/bin/env bash
# The default model streamed, scored beside the same model read offline, on the six dev sets and
# every test set (results/streaming_scores.jsonl), then the differences on the strings with 95 %
# intervals over speakers. Streaming is a run-time option of the model, not a second model:
# `--model digits-commands-streaming` names the default model run with the default look-ahead
# (4 s: `lstm-asr stream --lookahead 4`; src/lstm_asr/chunking.py), whose offline outputs are what
# a stream's finals are. No training, no model copy.
#   bash recipes/digits-commands/streaming.sh          # about 10 min on 2 cores (JOBS=2 at once)
# Needs data/digits-commands (prepare.py here; digital_silence.py makes the padded and quiet sets).
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
R=recipes/digits-commands
D=data/digits-commands
DEV="dev dev_sc_seq dev_sc_strings dev_seq_zero dev_pad dev_quiet"
[ -f $D/test_quiet.jsonl ] || $PY $R/digital_silence.py --data $D
score() {  # MODEL SET -> one JSON line: set, model, n, sent_acc, wer, date (hypotheses in runs/SET-MODEL.jsonl)
  OMP_NUM_THREADS=1 $LSTM_ASR evaluate --threads 1 --model "$1" --manifest "$D/$2.jsonl" --json --no-progress \
      --save-hyps "runs/$2-$1.jsonl" \
    | $PY -c "import json,sys,datetime; d=json.load(sys.stdin); print(json.dumps({'set': sys.argv[1], 'model': sys.argv[2], 'n': d['n'], 'sent_acc': round(d['sent_acc'], 4), 'wer': round(d['wer'], 4), 'date': str(datetime.date.today())}))" "$2" "$1"
}
mkdir -p runs
OUTS=$R/results/streaming_scores.jsonl
: > $OUTS
for set in $DEV $(cd $D && ls test*.jsonl | sed 's/.jsonl$//'); do
  for model in digits-commands digits-commands-streaming; do
    score $model $set >> $OUTS &
    [ "$(jobs -r | wc -l)" -lt "${JOBS:-2}" ] || wait -n
  done
done
wait
for set in test_sc_seq test_sc_strings; do
  $LSTM_ASR compare runs/$set-digits-commands.jsonl runs/$set-digits-commands-streaming.jsonl
done
