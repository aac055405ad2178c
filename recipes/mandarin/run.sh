#!/usr/bin/env bash
# The bundled Mandarin model (`--model mandarin`) from text alone, in one command:
#   bash recipes/mandarin/run.sh [--stage N] [--stop-stage M]
#   1 prepare     voices (espeak-ng's cmn variants: 3 in 4 train, 1 in 4 held out) and strings (corpus.py)
#   2 synthesize  the 20 words (3 clips per training voice, 1 per held-out voice); 30 fluent strings
#                 per voice, each group of 7 training voices with strings of its own
#   3 train       config.yaml: characters as units, synthetic speech only, 8 epochs
#   4 score       held-out voices (words, strings) and the three real AISHELL-1 sentences, CER
# Needs espeak-ng (`make voices`, or apt's espeak-ng). Times on the 2-core CPU are in README.md.
set -euo pipefail
. recipes/stages.sh
AISHELL=${AISHELL:-../shared/data/mandarin_aishell_samples/manifest.jsonl}
R=recipes/mandarin
D=data/mandarin
OUT=${OUT:-runs/mandarin}
WORDS="零 一 二 三 四 五 六 七 八 九 是 不 上 下 左 右 开 关 停 走"
WORKERS=${WORKERS:-$(nproc)}

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  $PY $R/corpus.py --out $D
  cat $D/voices_test.txt $D/voices_excluded.txt > $D/exclude_for_train.txt
  cat $D/voices_train.txt $D/voices_excluded.txt > $D/exclude_for_test.txt
fi
if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  syn() { $LSTM_ASR synth --language cmn --engines espeak --workers "$WORKERS" --no-progress "$@"; }
  syn --words "$WORDS" --per-voice 3 --exclude-voices $D/exclude_for_train.txt --out $D/train_words
  for g in $D/groups/*.txt; do
    syn --text-file $g --exclude-voices ${g%.txt}.exclude --seed 1 --out $D/train_strings/$(basename $g .txt)
  done
  $PY - $D/train_strings <<'PY'
import json, pathlib, sys
root = pathlib.Path(sys.argv[1])
rows = [{**json.loads(line), "audio": f"{m.parent.name}/{json.loads(line)['audio']}"}
        for m in sorted(root.glob("*/manifest.jsonl")) for line in m.read_text(encoding="utf-8").splitlines()]
(root / "manifest.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
print(f"{root}/manifest.jsonl: {len(rows)} strings")
PY
  syn --words "$WORDS" --exclude-voices $D/exclude_for_test.txt --seed 2 --out $D/test_words
  syn --text-file $D/strings_test.txt --exclude-voices $D/exclude_for_test.txt --seed 3 --out $D/test_strings
fi
if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  $LSTM_ASR train --config $R/config.yaml --out $OUT --no-progress \
    $([ -f "$OUT/last/trainer.json" ] && echo --resume || true)
fi
if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  MODEL=${MODEL:-$OUT/best}
  for m in $D/test_words/manifest.jsonl $D/test_strings/manifest.jsonl "$AISHELL"; do
    $LSTM_ASR evaluate --model "$MODEL" --manifest "$m" --json --no-progress \
      | $PY -c "import json,sys; d=json.load(sys.stdin); print(json.dumps({'set': sys.argv[1], 'model': sys.argv[2], 'n': d['n'], 'cer': round(d['cer'], 4), 'wer': round(d['wer'], 4), 'sent_acc': round(d['sent_acc'], 4)}))" "$m" "$MODEL"
  done | tee -a $R/results/scores.jsonl
fi
