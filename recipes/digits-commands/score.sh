#!/usr/bin/env bash
# Stage 4 of run.sh: score models on unseen speakers and held-out synthetic voices, one JSON line
# per (model, set): set, model, words (the word list, "default" = the model's own decoder), n,
# sent_acc, wer, ci95 of sent_acc and wer (resampled by speaker), date.
#   bash recipes/digits-commands/score.sh dev  MODEL_DIR...  >> results/x.jsonl   # choosing
#   bash recipes/digits-commands/score.sh test MODEL_DIR...  >> results/x.jsonl   # once, after choosing
#   D=data/digits-commands-holdout-S-no-other15 bash recipes/digits-commands/score.sh loso MODEL_DIR   # FSDD's S left out
# Sets (D=data/digits-commands from prepare.py, or a held-out variant's folder; data/synth from synth_corpus.py):
#   dev:  dev (20 words, singles + strings), dev_sc_seq, dev_sc_strings; dev_sc_other with --words of the 15
#   test: test_sc_digits, test_fsdd (singles), test_sc_seq, test_fsdd_seq, test_sc_strings (strings),
#         test_sc_commands with --words of the ten commands, test_sc_other with --words of the 15,
#         synth test_words20 and test_fluent (held-out synthetic voices)
#   loso: test_fsdd and test_fsdd_seq (a held-out variant's: all of its left-out FSDD speaker), each with the
#         model's own words and with --words of the ten digits (PocketSphinx's grammar for them)
# ONE_WORD=1: only the single-word sets (dev: dev_sc_other; test: test_sc_digits, test_fsdd, test_sc_commands,
# test_sc_other, synth test_words20; loso: test_fsdd with both lists), each decoded one word per stretch of speech (--one-word, as PocketSphinx's
# one-word grammar); the line has "one_word": true.
# JOBS (default 2) evaluations run at once, each on one thread. BACKEND=onnx|onnx-int8: what runs the
# model (default torch; the line's "backend" says); HYPS=DIR: each set's transcripts into DIR/SET.jsonl.
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
D=${D:-data/digits-commands}
S=data/synth
COMMANDS="yes no up down left right on off stop go"
DIGITS="zero one two three four five six seven eight nine"
OTHER15="bed bird cat dog happy house marvin sheila tree wow backward forward follow learn visual"
split=$1
shift
[ -z "${HYPS:-}" ] || mkdir -p "$HYPS"
one() {  # MODEL MANIFEST [WORDS]
  local model=$1 manifest=$2 words=${3:-}
  local name
  name=$(basename "$manifest" .jsonl)
  [ "$name" = manifest ] && name=synth_$(basename "$(dirname "$manifest")")
  OMP_NUM_THREADS=1 $LSTM_ASR evaluate --threads 1 --model "$model" --manifest "$manifest" --json --no-progress \
      ${words:+--words "$words"} ${ONE_WORD:+--one-word} ${BACKEND:+--backend "$BACKEND"} ${HYPS:+--save-hyps "$HYPS/$name.jsonl"} \
    | $PY -c "import json,sys,datetime; d=json.load(sys.stdin); print(json.dumps({'set': sys.argv[1], 'model': sys.argv[2], 'words': sys.argv[3] or 'default', 'n': d['n'], 'sent_acc': round(d['sent_acc'], 4), 'wer': round(d['wer'], 4), 'ci95': d.get('ci95'), **({'backend': sys.argv[4]} if sys.argv[4] else {}), **({'one_word': True} if sys.argv[5] else {}), 'date': str(datetime.date.today())}), flush=True)" \
      "$name" "$model" "$words" "${BACKEND:-}" "${ONE_WORD:-}"
}
sets() {  # MODEL -> lines "MANIFEST|WORDS"
  if [ "$split" = loso ]; then
    printf '%s\n' "$D/test_fsdd.jsonl|" "$D/test_fsdd.jsonl|$DIGITS"
    [ -n "${ONE_WORD:-}" ] || printf '%s\n' "$D/test_fsdd_seq.jsonl|" "$D/test_fsdd_seq.jsonl|$DIGITS"
  elif [ -n "${ONE_WORD:-}" ]; then
    if [ "$split" = dev ]; then echo "$D/dev_sc_other.jsonl|$OTHER15"; return; fi
    printf '%s|\n' $D/test_sc_digits.jsonl $D/test_fsdd.jsonl $S/test_words20/manifest.jsonl
    echo "$D/test_sc_commands.jsonl|$COMMANDS"
    echo "$D/test_sc_other.jsonl|$OTHER15"
  elif [ "$split" = dev ]; then
    printf '%s|\n' $D/dev.jsonl $D/dev_sc_seq.jsonl $D/dev_sc_strings.jsonl
    echo "$D/dev_sc_other.jsonl|$OTHER15"
  else
    printf '%s|\n' $D/test_sc_digits.jsonl $D/test_fsdd.jsonl $D/test_sc_seq.jsonl $D/test_fsdd_seq.jsonl \
      $D/test_sc_strings.jsonl $S/test_words20/manifest.jsonl $S/test_fluent/manifest.jsonl
    echo "$D/test_sc_commands.jsonl|$COMMANDS"
    echo "$D/test_sc_other.jsonl|$OTHER15"
  fi
}
for model in "$@"; do
  while IFS='|' read -r manifest words; do
    one "$model" "$manifest" "$words" &
    [ "$(jobs -r | wc -l)" -lt "${JOBS:-2}" ] || wait -n
  done < <(sets)
done
wait
