#!/usr/bin/env bash
# The bundled default model from ../shared/data, in one command (stages as icefall's prepare.sh):
#   bash recipes/digits-commands/run.sh [--stage N] [--stop-stage M]
#   1 prepare     split Speech Commands by speaker, FSDD, strings glued from both   (prepare.py)
#   2 synthesize  synthetic speech of training voices and held-out voices           (synth_corpus.py; make voices first)
#   3 train       config.yaml from scratch (5 epochs, peak lr 4e-3), then two passes from the best
#                 weights (9 epochs at 2e-3, 12 at 1.5e-3): the schedule the shipped weights had
#                 (pass 1 on an H200, 2.3 min; passes 2-3 on the 2-core CPU, 40 + 83 min, one thread)
#   4 score       dev sets, then the test sets, into results/scores.jsonl           (score.sh)
# Options: SC=... FSDD=... (data), DEVICE=cpu|cuda. Each pass resumes after an interruption.
set -euo pipefail
. recipes/stages.sh
SC=${SC:-../shared/data/speech_commands}
FSDD=${FSDD:-../shared/data/fsdd}
R=recipes/digits-commands
OUT=runs/digits-commands

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  $PY $R/prepare.py --sc "$SC" --fsdd "$FSDD" --out data/digits-commands
fi
if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  $PY $R/synth_corpus.py --out data/synth --workers "$(nproc)"
fi
if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  pass() {  # NAME [--set ...]: one training pass into $OUT/NAME, resumed if it was interrupted
    local name=$1; shift
    [ -f "$OUT/$name/done" ] && return 0
    $LSTM_ASR train --config $R/config.yaml --out "$OUT/$name" --device "${DEVICE:-auto}" --no-progress "$@" \
      $([ -f "$OUT/$name/last/trainer.json" ] && echo --resume || true)
    touch "$OUT/$name/done"
  }
  pass pass1
  pass pass2 --set train.init=$OUT/pass1/best --set train.lr=0.002 --set train.warmup=0.02 --set train.epochs=9
  pass pass3 --set train.init=$OUT/pass2/best --set train.lr=0.0015 --set train.warmup=0.02 --set train.epochs=12
  ln -sfn pass3/best $OUT/best
fi
if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  mkdir -p $R/results
  bash $R/score.sh dev $OUT/best | tee -a $R/results/scores.jsonl
  bash $R/score.sh test $OUT/best | tee -a $R/results/scores.jsonl
fi
