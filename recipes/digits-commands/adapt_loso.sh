#!/usr/bin/env bash
# A left-out FSDD speaker's own recordings as a user would give them to `lstm-asr adapt`: the fold's model
# (HOLDOUT=S NO_OTHER15=1) adapted on K of S's clips per digit (file indices 0 to K-1; K = 5 unless given,
# at most 10), then scored on 400 others (indices 10-49), ten-digit grammar. One JSON line per variant:
#   none    the fold's model as it is (adapt_clips 0)
#   labels  adapted on the 10*K clips with their transcripts (lstm-asr adapt, its defaults)
# (Adapting on the model's own transcripts of the clips was measured and dropped: RESULTS.md, commit e65fbe5.)
#   bash recipes/digits-commands/adapt_loso.sh S [K] >> recipes/digits-commands/results/adapt_loso.jsonl
set -euo pipefail
S=$1
K=${2:-5}
case $K in [1-9]|10) ;; *) echo "adapt_loso.sh: K (clips per digit to adapt on) must be 1 to 10, not '$K'" >&2; exit 2 ;; esac
PY=${PYTHON:-.venv/bin/python}
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
M=runs/digits-commands-holdout-$S-no-other15/best
W="zero one two three four five six seven eight nine"
[ -d "$M" ] || { echo "adapt_loso.sh: no model $M (train the fold: HOLDOUT=$S NO_OTHER15=1 bash recipes/digits-commands/run.sh)" >&2; exit 2; }
O=$(mktemp -d)
trap 'rm -rf "$O"' EXIT
$PY - "data/digits-commands-holdout-$S-no-other15/test_fsdd.jsonl" "$O" "$K" <<'PY'
import json, re, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
index = lambda r: int(re.search(r"_(\d+)\.\w+$", r["audio"]).group(1))  # noqa: E731
for name, keep in (("labels", lambda i: i < int(sys.argv[3])), ("test", lambda i: i >= 10)):
    with open(f"{sys.argv[2]}/{name}.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows if keep(index(r)))
PY
score() {  # MODEL VARIANT CLIPS
  OMP_NUM_THREADS=1 $LSTM_ASR evaluate --threads 1 -m "$1" --manifest "$O/test.jsonl" --words "$W" --json --no-progress \
    | $PY -c "import json,sys,datetime; d=json.load(sys.stdin); print(json.dumps({'speaker': sys.argv[1], 'adapt': sys.argv[2], 'adapt_clips': int(sys.argv[3]), 'n': d['n'], 'sent_acc': round(d['sent_acc'], 4), 'date': str(datetime.date.today())}))" "$S" "$2" "$3"
}
score "$M" none 0
OMP_NUM_THREADS=1 $LSTM_ASR adapt --threads 1 -m "$M" --manifest "$O/labels.jsonl" --out "$O/adapted" --no-progress \
  > "$O/adapt.log" 2>&1 || { cat "$O/adapt.log" >&2; exit 1; }
score "$O/adapted" labels "$(wc -l < "$O/labels.jsonl")"
