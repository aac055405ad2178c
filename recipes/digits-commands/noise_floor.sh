# The front end's noise floor (features.noise_floor, 2026-12-02): both shipped models scored with
# the floor (1.0, as shipped until the level floor came) and without it (0: Kaldi's float epsilon only, as trained), on the dev
# speakers (where the floor was chosen) and on every test set, plus the same sets with digital
# silence (digital_silence.py). The models' weights are the same; only the front end differs.
#   bash recipes/digits-commands/noise_floor.sh      (about 25 min on 2 cores)
# Needs data/digits-commands (prepare.py here). Writes results/noise_floor_scores.jsonl.
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
R=recipes/digits-commands
D=data/digits-commands
OUT=$R/results/noise_floor_scores.jsonl
[ -f $D/test_seq_zero.jsonl ] || $PY $R/digital_silence.py --data $D
for model in digits-commands digits-commands-streaming; do  # the same model with the floor on and off
  for floor in 0 1; do  # (and without the later level floor, level_floor.sh, as measured then)
    rm -rf runs/noise-floor-$floor/$model && mkdir -p runs/noise-floor-$floor
    cp -r "$($PY -c "from lstm_asr.checkpoint import resolve_model; print(resolve_model('$model'))")" runs/noise-floor-$floor/$model
    $PY -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['features'].update(noise_floor=$floor.0, level_floor_db=None); json.dump(c, open(p,'w'), indent=1)" runs/noise-floor-$floor/$model/config.json
  done
done
score() {  # MODEL FLOOR SET -> one JSON line
  OMP_NUM_THREADS=1 $LSTM_ASR evaluate --threads 1 --model "$1" --manifest "$D/$3.jsonl" --json --no-progress \
    | $PY -c "import json,sys,datetime; d=json.load(sys.stdin); print(json.dumps({'set': '$3', 'model': '${1##*/}', 'noise_floor': $2, 'n': d['n'], 'sent_acc': round(d['sent_acc'], 4), 'wer': round(d['wer'], 4), 'date': str(datetime.date.today())}))"
}
: > $OUT
for set in dev dev_sc_seq dev_sc_strings dev_pad dev_seq_zero $(cd $D && ls test*.jsonl | sed 's/.jsonl$//'); do
  for model in digits-commands digits-commands-streaming; do
    score runs/noise-floor-1/$model 1.0 $set >> $OUT & score runs/noise-floor-0/$model 0.0 $set >> $OUT & wait
  done
  tail -n 4 $OUT
done
