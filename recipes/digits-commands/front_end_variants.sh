# Sourced by noise_floor.sh and level_floor.sh (needs PY, LSTM_ASR and D): copies of a shipped
# model with its config changed (the weights stay), and their scores as JSON lines.
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
score() {  # MODEL_DIR SET FIELDS -> one JSON line: set, model, the FIELDS (a JSON object), n, sent_acc, wer, date
  OMP_NUM_THREADS=1 $LSTM_ASR evaluate --threads 1 --model "$1" --manifest "$D/$2.jsonl" --json --no-progress \
    | $PY -c "import json,sys,datetime; d=json.load(sys.stdin); print(json.dumps({'set': '$2', 'model': '${1##*/}', **json.loads(sys.argv[1]), 'n': d['n'], 'sent_acc': round(d['sent_acc'], 4), 'wer': round(d['wer'], 4), 'date': str(datetime.date.today())}))" "$3"
}
