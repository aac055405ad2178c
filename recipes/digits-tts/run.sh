#!/usr/bin/env bash
# digits-tts from text alone, in one command (stages as icefall's prepare.sh):
#   bash recipes/digits-tts/run.sh [--stage N] [--stop-stage M]
#   1 synthesize  the synthetic corpus (recipes/digits-commands/synth_corpus.py; make voices first)
#   2 train       config.yaml (synthetic speech only, no dev set); resumes after an interruption
#   3 score       real recordings of people it never heard (needs recipes/digits-commands/prepare.py's
#                 test sets) and held-out synthetic voices -> results/scores.jsonl
set -euo pipefail
. recipes/stages.sh
R=recipes/digits-tts
OUT=${OUT:-runs/digits-tts}
if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  $PY recipes/digits-commands/synth_corpus.py --out data/synth --workers "$(nproc)"
fi
if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  $LSTM_ASR train --config $R/config.yaml --out $OUT --device "${DEVICE:-auto}" \
    $([ -f "$OUT/last/trainer.json" ] && echo --resume || true)
fi
if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  mkdir -p $R/results
  # every real digit recording is of a voice it never heard: all of Speech Commands' and FSDD's
  $PY - <<'PY'
import json
from pathlib import Path
from lstm_asr.data import read_manifest, write_manifest
DIGITS = set("zero one two three four five six seven eight nine".split())
out = Path("data/digits-tts"); out.mkdir(parents=True, exist_ok=True)
for name, src in [("sc_digits_all", "../shared/data/speech_commands/manifest.jsonl"),
                  ("fsdd_all", "../shared/data/fsdd/manifest.jsonl"),
                  ("synth_test_digits", "data/synth/test_words20/manifest.jsonl")]:
    if Path(src).is_file():
        rows = [{"audio": str(u.audio.resolve()), "text": u.text, "speaker": u.speaker}
                for u in read_manifest(src).utterances if u.text in DIGITS]
        write_manifest(out / f"{name}.jsonl", rows)
PY
  for m in data/digits-tts/sc_digits_all.jsonl data/digits-tts/fsdd_all.jsonl data/digits-tts/synth_test_digits.jsonl; do
    [ -f "$m" ] || continue
    $LSTM_ASR evaluate --model $OUT/best --manifest "$m" --json --no-progress --threads 1 --save-hyps "$OUT/$(basename "$m" .jsonl).hyps.jsonl" \
      | $PY -c "import json,sys; d=json.load(sys.stdin); print(json.dumps({'set': sys.argv[1], 'n': d['n'], 'sent_acc': round(d['sent_acc'], 4), 'wer': round(d['wer'], 4), 'ci95': d.get('ci95')}))" "$m" \
      | tee -a $R/results/scores.jsonl
  done
fi
