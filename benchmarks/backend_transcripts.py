"""Do the backends give the same transcripts on the test sets? torch fp32 against onnxruntime fp32
and int8, every test set of the digits-commands recipe, the whole pipeline.

    .venv/bin/python benchmarks/backend_transcripts.py [--model digits-commands] [--split test]

Runs `recipes/digits-commands/score.sh SPLIT MODEL` once per backend (BACKEND=..., HYPS=... so
each set's transcripts are kept; one evaluation at a time, one thread), then counts per set the
utterances whose transcript differs from torch fp32's and prints each backend's WER. Appends one
JSON line to benchmarks/results/backend_transcripts.jsonl and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BACKENDS = ("torch", "onnx", "onnx-int8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="digits-commands")
    ap.add_argument("--split", choices=["dev", "test"], default="test")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="backend_transcripts_"))
    scores, hyps = {}, {}
    for b in BACKENDS:
        env = {**os.environ, "HYPS": str(work / b), "JOBS": "1", "BACKEND": "" if b == "torch" else b}
        out = subprocess.run(["bash", "recipes/digits-commands/score.sh", a.split, a.model], cwd=ROOT, env=env,
                             check=True, capture_output=True, text=True).stdout
        scores[b] = {d["set"]: d for d in map(json.loads, out.splitlines())}
        hyps[b] = {p.stem: [json.loads(line)["hyp"] for line in p.open(encoding="utf-8")]
                   for p in sorted((work / b).glob("*.jsonl"))}
    rows = []
    for name, ref in hyps["torch"].items():
        rows.append({"set": name, "n": len(ref),
                     **{f"differ_{b}": sum(x != y for x, y in zip(ref, hyps[b][name])) for b in BACKENDS[1:]},
                     **{f"wer_{b}": scores[b][name]["wer"] for b in BACKENDS}})
    res = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "model": a.model, "split": a.split, "rows": rows}
    with open(HERE / "results" / "backend_transcripts.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(res) + "\n")
    print("| set | n | onnx fp32: transcripts ≠ torch | onnx int8: ≠ torch | WER % torch / onnx fp32 / onnx int8 |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['set']} | {r['n']} | {r['differ_onnx']} | {r['differ_onnx-int8']} | "
              + " / ".join(f"{100 * r['wer_' + b]:.1f}" for b in BACKENDS) + " |")
    print(f"| all | {sum(r['n'] for r in rows)} | {sum(r['differ_onnx'] for r in rows)} | "
          f"{sum(r['differ_onnx-int8'] for r in rows)} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
