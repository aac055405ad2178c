#!/usr/bin/env bash
# The bundled default model from ../shared/data, in one command (stages as icefall's prepare.sh):
#   bash recipes/digits-commands/run.sh [--stage N] [--stop-stage M]
#   1 prepare     split Speech Commands by speaker, FSDD, strings glued from both   (prepare.py)
#   2 synthesize  synthetic speech of training voices and held-out voices           (synth_corpus.py; make voices first)
#   3 train       train.yaml from scratch (train.max_minutes budget); resumes after an interruption
#   4 score       dev sets, then the test sets, into results/scores.jsonl           (score.sh)
# Options: SC=... FSDD=... (data), DEVICE=cpu|cuda, MINUTES=N (training budget, default the config's).
# The shipped model was trained on a GPU machine by gpu.sh (the same config, six runs side by
# side); on this project's 2-core CPU stage 3 takes the config's 150 minutes.
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
  $LSTM_ASR train --config $R/train.yaml --out $OUT --device "${DEVICE:-auto}" \
    ${MINUTES:+--set train.max_minutes=$MINUTES} $([ -f "$OUT/last/trainer.json" ] && echo --resume || true)
fi
if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  mkdir -p $R/results
  bash $R/score.sh dev $OUT/best | tee -a $R/results/scores.jsonl
  bash $R/score.sh test $OUT/best | tee -a $R/results/scores.jsonl
fi
