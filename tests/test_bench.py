"""benchmarks/bench.py (`make bench`): the harness runs end to end in --quick mode on tiny inputs and
writes its RESULTS.md; the parts that need TensorFlow or PocketSphinx say so when those are missing."""
import importlib.util
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench  # noqa: E402


def has(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def test_quick_run_writes_results(tmp_path):
    out = tmp_path / "RESULTS.md"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--repeats", "1",
           "--sections", "backends,memory,side,pocketsphinx", "--backends", "torch-fp32", "--threads", "1",
           "--lengths", "0.05", "--out", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-3000:]
    text = out.read_text()
    for line in ("- command: `", "- machine: ", "- software: ", "torch 2.", "## Goals",
                 "## Backends: real-time factor and peak RSS", "## Memory against the audio's length",
                 "## Side by side", "## PocketSphinx beside ours", "| PyTorch fp32 | 1 | 0."):
        assert line in text, line
    side = next(ln for ln in text.splitlines() if ln.startswith("| NumPy"))
    assert float(side.split("|")[7]) < 1e-3            # the NumPy reference is the same model
    keras = [ln for ln in text.splitlines() if ln.startswith("| Keras")]
    if has("tensorflow") and has("keras"):
        assert keras and "XLA" in keras[0]
        assert float(keras[0].split("|")[7]) < 1e-3    # the Keras twin computes what ours does
    else:
        assert "not installed (pip install '.[bench]')" in keras[0]
    ps = [ln for ln in text.splitlines() if "| PocketSphinx |" in ln]
    assert ps and (has("pocketsphinx") or "not installed" in ps[0])
    assert "Section" not in text                         # no section failed


def test_missing_parts_are_rows_not_failures():
    a = Namespace(quick=True)
    res = {"side": {"seconds": 2.0, "frames": 200, "rows": {
        "torch-fp32": {"median": 0.01, "min": 0.01, "cpu_median": 0.01, "cpu_per_wall": 1.0, "max_abs_diff": 0.0},
        "onnx-fp32": {"error": bench.INSTALL}, "keras": {"error": bench.INSTALL}}},
        "pocketsphinx": {"source": "x", "words": ["yes"], "version": None, "rows": [
            {"set": "s.jsonl", "n": 1, "audio_s": 1.0, "systems": {
                "ours (torch fp32, 1 thread)": {"sent_acc": 1.0, "wer": 0.0, "rtf": 0.01},
                "PocketSphinx": {"error": bench.INSTALL}}}]}, "errors": {}}
    meta = {"command": "c", "date": "d", "took_s": 1, "cpu": "cpu", "cores": 2, "platform": "p", "versions": "v",
            "model": "m", "params": 1, "load": (0.1, 0.1)}
    text = bench.report(a, bench.QUICK, res, meta)
    assert text.count("not installed (pip install '.[bench]')") == 4   # onnx row, keras row, goal, ps
    assert "| ≥ 3× faster than Keras with XLA | not installed" in text
    assert "Noisy" not in text
