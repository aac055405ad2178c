# Sourced by a recipe's run.sh: --stage N --stop-stage M (defaults 1 and STOP_DEFAULT) and the
# tools, as icefall's prepare.sh; a stage runs when `[ $stage -le K ] && [ $stop_stage -ge K ]`.
stage=1
stop_stage=${STOP_DEFAULT:-99}
while [ $# -gt 0 ]; do
  case $1 in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    *) echo "unknown option $1 (expected --stage N, --stop-stage M)" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-.venv/bin/python}
LSTM_ASR=${LSTM_ASR:-.venv/bin/lstm-asr}
