#!/usr/bin/env bash
# The bundled default model from ../shared/data, in one command (stages as icefall's prepare.sh):
#   bash recipes/digits-commands/run.sh [--stage N] [--stop-stage M]
#   1 prepare     split Speech Commands by speaker, FSDD, strings glued from both   (prepare.py)
#   2 synthesize  synthetic speech of training voices and held-out voices           (synth_corpus.py; make voices first)
#   3 train       the training babble (5-8 talkers from the training speakers and voices; make_babble.py), then
#                 config.yaml from scratch (5 epochs, peak lr 4e-3), then four passes from the best
#                 weights (9 epochs at 2e-3, 12 at 1.5e-3, then 10 at 1e-3 and 10 at 7e-4 with the
#                 babble among the noises on 40 % of clips): the schedule the shipped weights had
#                 (pass 1 on an H200, 2.3 min; passes 2-5 on the 2-core CPU, 40 + 83 + 43 + 34 min, one thread);
#                 then the units' priors from 600 training clips into the model's config (lstm-asr priors)
#   4 score       dev sets, then the test sets, into results/scores.jsonl (a variant: scores-holdout-S-no-other15.jsonl)
# Options: SC=... FSDD=... (data), DEVICE=cpu|cuda. Each pass resumes after an interruption.
# Held-out variants of the same recipe (data and runs get their own folders, -holdout-S / -no-other15):
#   HOLDOUT=S     FSDD speaker S leaves training, test_fsdd*.jsonl are all of S (leave-one-speaker-out)
#   NO_OTHER15=1  no recording of the 15 other words, real or synthetic, is trained on (words from text)
set -euo pipefail
. recipes/stages.sh
SC=${SC:-../shared/data/speech_commands}
FSDD=${FSDD:-../shared/data/fsdd}
HOLDOUT=${HOLDOUT:-}
NO_OTHER15=${NO_OTHER15:-}
R=recipes/digits-commands
variant=${HOLDOUT:+-holdout-$HOLDOUT}${NO_OTHER15:+-no-other15}
D=data/digits-commands$variant
OUT=runs/digits-commands$variant

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  $PY $R/prepare.py --sc "$SC" --fsdd "$FSDD" --out $D ${HOLDOUT:+--holdout "$HOLDOUT"} ${NO_OTHER15:+--no-other15}
fi
if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  $PY $R/synth_corpus.py --out data/synth --workers "$(nproc)"
fi
if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  pass() {  # NAME [--set ...]: one training pass into $OUT/NAME, resumed if it was interrupted
    local name=$1; shift
    [ -f "$OUT/$name/done" ] && return 0
    $LSTM_ASR train --config $R/config.yaml --out "$OUT/$name" --device "${DEVICE:-auto}" --no-progress \
      --set "train.manifests=[$manifests]" --set train.dev=$D/dev.jsonl "$@" \
      $([ -f "$OUT/$name/last/trainer.json" ] && echo --resume || true)
    touch "$OUT/$name/done"
  }
  # training babble (passes 4-5): talkers from this run's training speakers and voices only
  [ -d $D/noise/babble ] || $PY benchmarks/make_babble.py --out $D/noise --kinds babble \
    --speech $D/sc_train.jsonl --speech data/synth/vocab/manifest.jsonl
  manifests=$(printf '%s\n' $D/{sc,sc_seq,fsdd,fsdd_seq}_train.jsonl \
              data/synth/{words20,$([ -n "$NO_OTHER15" ] || echo other15,)vocab,strings}/manifest.jsonl | paste -sd, -)
  pass pass1
  pass pass2 --set train.init=$OUT/pass1/best --set train.lr=0.002 --set train.warmup=0.02 --set train.epochs=9
  pass pass3 --set train.init=$OUT/pass2/best --set train.lr=0.0015 --set train.warmup=0.02 --set train.epochs=12
  noises=$(ls ${NOISE:-../shared/data/noise_speech_commands_bg}/{doing_the_dishes,dude_miaowing,exercise_bike,running_tap}.wav \
           $D/noise/babble/*.wav | paste -sd, -)
  pass pass4 --set train.init=$OUT/pass3/best --set train.lr=0.001 --set train.warmup=0.02 --set train.epochs=10 \
    --set augment.noise_prob=0.4 --set "augment.noise_files=[$noises]"
  pass pass5 --set train.init=$OUT/pass4/best --set train.lr=0.0007 --set train.warmup=0.02 --set train.epochs=10 \
    --set augment.noise_prob=0.4 --set "augment.noise_files=[$noises]"
  # the units' priors, read by the decoder at scale 0.15 (chosen on dev: RESULTS.md, "Unit priors")
  $LSTM_ASR priors -m $OUT/pass5/best --manifest $D/sc_train.jsonl --scale 0.15 --no-progress
  ln -sfn pass5/best $OUT/best
fi
if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  mkdir -p $R/results
  D=$D bash $R/score.sh dev $OUT/best | tee -a $R/results/scores$variant.jsonl
  D=$D bash $R/score.sh test $OUT/best | tee -a $R/results/scores$variant.jsonl
fi
