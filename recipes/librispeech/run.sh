#!/usr/bin/env bash
# LibriSpeech, BiLSTM-CTC over characters, no LM (config.yaml), in one command, staged:
#   bash recipes/librispeech/run.sh [--stage N] [--stop-stage M]
#   1 import  TRAIN_SETS (default train-clean-100), dev-clean, test-clean, test-other
#             -> DATA/train/SUBSET.jsonl, DATA/SUBSET.jsonl   (`lstm-asr data import librispeech`)
#   2 train   config.yaml into OUT (resumes an interrupted run); one process, or NPROC processes
#             under torchrun (one per GPU)
#   3 score   greedy WER/CER of OUT/best on test-clean and test-other (and dev-clean, dev-other if
#             imported) -> one JSON line each, appended to OUT/scores.jsonl
# Options (environment): LIBRISPEECH=folder holding LibriSpeech/ or the subset folders
# (default ../shared/data/librispeech); TRAIN_SETS="train-clean-100 train-clean-360 train-other-500"
# for 960 h; DATA (default data/librispeech); OUT (default runs/librispeech); DEVICE (default auto);
# NPROC=N GPUs with torchrun; EXTRA="--set k=v ..." passed to `lstm-asr train`.
set -euo pipefail
. recipes/stages.sh
LIBRISPEECH=${LIBRISPEECH:-../shared/data/librispeech}
[ -d "$LIBRISPEECH/LibriSpeech" ] && LIBRISPEECH=$LIBRISPEECH/LibriSpeech
TRAIN_SETS=${TRAIN_SETS:-train-clean-100}
DATA=${DATA:-data/librispeech}
OUT=${OUT:-runs/librispeech}
R=recipes/librispeech
NPROC=${NPROC:-1}

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  [ -d "$LIBRISPEECH" ] || { echo "no LibriSpeech at $LIBRISPEECH (set LIBRISPEECH=/path)" >&2; exit 1; }
  mkdir -p "$DATA/train"
  for s in $TRAIN_SETS; do
    [ -f "$DATA/train/$s.jsonl" ] || $LSTM_ASR data import librispeech "$LIBRISPEECH/$s" --out "$DATA/train/$s.jsonl" --no-progress
  done
  for s in dev-clean dev-other test-clean test-other; do
    if [ ! -d "$LIBRISPEECH/$s" ]; then  # dev-other is optional
      [ $s = dev-other ] && continue
      echo "missing $LIBRISPEECH/$s" >&2; exit 1
    fi
    [ -f "$DATA/$s.jsonl" ] || $LSTM_ASR data import librispeech "$LIBRISPEECH/$s" --out "$DATA/$s.jsonl" --no-progress
  done
fi
if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  if [ "$NPROC" -gt 1 ]; then
    TRAIN="$PY -m torch.distributed.run --standalone --nproc_per_node $NPROC -m lstm_asr.cli train"
  else
    TRAIN="$LSTM_ASR train"
  fi
  # shellcheck disable=SC2086  # EXTRA is a list of options
  $TRAIN --config $R/config.yaml --out "$OUT" --device "${DEVICE:-auto}" --no-progress \
    --set "train.manifests=[$DATA/train]" --set "train.dev=$DATA/dev-clean.jsonl" ${EXTRA:-} \
    $([ -f "$OUT/last/trainer.json" ] && echo --resume || true)
fi
if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  for s in dev-clean dev-other test-clean test-other; do
    [ -f "$DATA/$s.jsonl" ] || continue
    $LSTM_ASR evaluate --model "$OUT/best" --manifest "$DATA/$s.jsonl" --greedy --max-segment 40 \
        --device "${DEVICE:-auto}" --json --no-progress \
      | $PY -c "import json,sys,datetime; d=json.load(sys.stdin); print(json.dumps({'set': sys.argv[1], 'model': sys.argv[2], 'n': d['n'], 'wer': round(d['wer'], 4), 'cer': round(d['cer'], 4), 'date': str(datetime.date.today())}), flush=True)" \
        "$s" "$OUT/best"
  done | tee -a "$OUT/scores.jsonl"
fi
