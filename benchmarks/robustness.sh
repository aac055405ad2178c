#!/usr/bin/env bash
# Error under noise, per SNR, for any model: the table of docs/robustness.md.
#
#   benchmarks/robustness.sh                         the bundled default model
#   benchmarks/robustness.sh --model runs/x/best     any model (a directory or a bundled name)
#
# Test set: the first 150 lines of data/digits-commands/test_sc_commands.jsonl + the 45 of
# test_sc_digits.jsonl (Speech Commands test speakers, never trained on). Noise kinds:
#   seen noise  ../shared/data/noise_speech_commands_bg (the 4 real recordings used in training)
#   babble      5-8 other speakers (LJSpeech subset + CMU ARCTIC), never met  } benchmarks/make_babble.py
#   hum + pink  50 Hz hum + harmonics over pink noise, never met               } (seeded)
# each at clean, 20, 10, 5, 0 dB (`lstm-asr evaluate --noise DIR --snr ...`, seed 0: the same noisy
# audio for every model). Writes WORK (default /tmp/lstm-asr-robustness), prints the Markdown table
# and appends the figures to benchmarks/results/robustness.jsonl. Torch on 1 thread, at nice 10.
set -euo pipefail
cd "$(dirname "$0")/.."

model=""
work=${WORK:-/tmp/lstm-asr-robustness}
snrs=clean,20,10,5,0
while [ $# -gt 0 ]; do
  case "$1" in
    --model|-m) model=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --snr) snrs=$2; shift 2 ;;
    *) echo "usage: $0 [--model NAME|DIR] [--work DIR] [--snr S,...]" >&2; exit 2 ;;
  esac
done
py=.venv/bin/python
model_args=()
[ -n "$model" ] && model_args=(--model "$model")
mkdir -p "$work"

{ head -n 150 data/digits-commands/test_sc_commands.jsonl; cat data/digits-commands/test_sc_digits.jsonl; } > "$work/test.jsonl"
[ -d "$work/noise/babble" ] && [ -d "$work/noise/hum_pink" ] || $py benchmarks/make_babble.py --out "$work/noise" >&2

runs=()
for kind in "seen noise=../shared/data/noise_speech_commands_bg" "babble=$work/noise/babble" "hum + pink=$work/noise/hum_pink"; do
  name=${kind%%=*}; dir=${kind#*=}; out="$work/$(echo "$name" | tr -c 'a-z\n' '_').jsonl"
  echo "+ lstm-asr evaluate ${model_args[*]} --manifest $work/test.jsonl --noise $dir --snr $snrs --json" >&2
  OMP_NUM_THREADS=1 nice -n 10 .venv/bin/lstm-asr evaluate --threads 1 --no-progress "${model_args[@]}" \
    --manifest "$work/test.jsonl" --noise "$dir" --snr "$snrs" --seed 0 --json > "$out"
  runs+=("$name=$out")
done
$py benchmarks/robustness_table.py "${model_args[@]}" --record benchmarks/results/robustness.jsonl "${runs[@]}"
