# Sourced by noise_floor.sh, level_floor.sh and streaming.sh: their settings (PY, LSTM_ASR, R, D,
# and DEV, the six dev sets the front end's floors and the streaming variant were chosen on), copies
# of a shipped model with its config changed (the weights stay), and their scores as JSON lines.
PY=${PYTHON:-.venv/bin/python}
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
R=recipes/digits-commands
D=data/digits-commands
DEV="dev dev_sc_seq dev_sc_strings dev_seq_zero dev_pad dev_quiet"
derived_sets() {  # the sets with digital silence or 20 dB quieter (digital_silence.py), made once
  [ -f $D/test_quiet.jsonl ] || $PY $R/digital_silence.py --data $D
}
in_parallel() {  # after starting a job in the background: wait while JOBS (default 2) are running
  [ $(jobs -r | wc -l) -lt ${JOBS:-2} ] || wait -n
}
model_copy() {  # MODEL OUT PYTHON [ARGS...] -> OUT: the model's directory, its config.json changed by
  # the Python statements (the config is `c`; ARGS are sys.argv[2:])
  local model=$1 out=$2 code=$3
  shift 3
  rm -rf "$out" && mkdir -p "$(dirname "$out")"
  cp -r "$($PY -c "from lstm_asr.checkpoint import resolve_model; print(resolve_model('$model'))")" "$out"
  $PY -c "import json,sys; p=sys.argv[1]; c=json.load(open(p))
$code
json.dump(c, open(p,'w'), indent=1)" "$out/config.json" "$@"
}
score() {  # MODEL_DIR SET FIELDS [HYPS] -> one JSON line: set, model, the FIELDS (a JSON object), n,
  # sent_acc, wer, date; with HYPS, each utterance's hypothesis saved there too (for lstm-asr compare)
  OMP_NUM_THREADS=1 $LSTM_ASR evaluate --threads 1 --model "$1" --manifest "$D/$2.jsonl" --json --no-progress \
      ${4:+--save-hyps "$4"} \
    | $PY -c "import json,sys,datetime; d=json.load(sys.stdin); print(json.dumps({'set': '$2', 'model': '${1##*/}', **json.loads(sys.argv[1]), 'n': d['n'], 'sent_acc': round(d['sent_acc'], 4), 'wer': round(d['wer'], 4), 'date': str(datetime.date.today())}))" "$3"
}
