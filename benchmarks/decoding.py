"""WER of greedy decoding vs prefix beam search, beam + n-gram LM, and beam + word list, and
word-timestamp accuracy, on connected digits (FSDD test strings) and Kaldi yes/no.

    python benchmarks/decoding.py [--digits-model digits] [--yesno-model runs/yesno/best]

Needs data/digits (recipes/digits/prepare.py) and data/yesno (recipes/yesno/prepare.py). The LMs
are built from the training transcripts only (`lstm-asr lm build`'s code). Writes
benchmarks/results/decoding.md and prints it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lstm_asr import load_model  # noqa: E402
from lstm_asr.audio import load_audio  # noqa: E402
from lstm_asr.data import read_manifest  # noqa: E402
from lstm_asr.lm import build_arpa, save_arpa  # noqa: E402
from lstm_asr.metrics import sentence_accuracy, wer  # noqa: E402


def lm_from(manifest: Path, out: Path, order: int) -> str:
    texts = [u.text for u in read_manifest(manifest).utterances if " " in u.text]
    save_arpa(build_arpa(texts, order=order), out)
    return str(out)


def score(rec, waves, refs, **opts) -> dict:
    rec.set_decoding(**opts)
    t0 = time.perf_counter()
    hyps = rec.transcribe_waves(waves)
    secs = time.perf_counter() - t0
    rec.set_decoding()
    return {"wer": wer(refs, hyps), "sent_acc": sentence_accuracy(refs, hyps),
            "rtf": secs / (sum(map(len, waves)) / 16000)}


def timestamps(rec, manifest: Path) -> dict:
    errs, n = [], 0
    for u in read_manifest(manifest).utterances:
        t = rec.transcribe(u.audio)
        if t.text != u.text:
            continue
        n += 1
        for w, ref in zip(t.words, u.extra["words"]):
            errs += [abs(w["start"] - ref["start"]), abs(w["end"] - ref["end"])]
    e = np.array(errs)
    return {"utterances": n, "boundaries": len(e), "within_0.1s": float(np.mean(e <= 0.1)),
            "median_s": float(np.median(e)), "p95_s": float(np.percentile(e, 95))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--digits-model", default="digits")
    ap.add_argument("--yesno-model", default="runs/yesno/best")
    ap.add_argument("--beam", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(1)
    work = ROOT / "runs" / "bench_decoding"
    work.mkdir(parents=True, exist_ok=True)
    sets = [("connected digits (FSDD test strings)", a.digits_model, ROOT / "data/digits/test_seq.jsonl",
             ROOT / "data/digits/train.jsonl", "zero one two three four five six seven eight nine", 3),
            ("yes/no (Kaldi, 29 test files)", a.yesno_model, ROOT / "data/yesno/test.jsonl",
             ROOT / "data/yesno/train.jsonl", "yes no", 3)]
    lines = ["# Decoding benchmark", "",
             f"`python benchmarks/decoding.py` on {platform.machine()}, {os.cpu_count()} cores, torch "
             f"{torch.__version__}, 1 thread, {time.strftime('%Y-%m-%d')}. Beam {a.beam}; LMs are "
             "built from the training transcripts.", "",
             "| test set | decoder | WER | sentence acc. | RTF |", "|---|---|---|---|---|"]
    results = {}
    for name, model, test, train, words, order in sets:
        rec = load_model(model)
        utts = read_manifest(test).utterances
        waves, refs = [load_audio(u.audio) for u in utts], [u.text for u in utts]
        lm = lm_from(train, work / f"{Path(model).name}.arpa", order)
        rows = {"greedy": {}, f"beam {a.beam}": {"beam_size": a.beam},
                f"beam {a.beam} + {order}-gram LM": {"beam_size": a.beam, "lm": lm, "alpha": 0.5, "beta": 1.0},
                f"beam {a.beam} + word list": {"beam_size": a.beam, "words": words.split()}}
        for label, opts in rows.items():
            r = score(rec, waves, refs, **opts)
            results[f"{name} / {label}"] = r
            lines.append(f"| {name} | {label} | {100 * r['wer']:.2f} % | {100 * r['sent_acc']:.1f} % | {r['rtf']:.4f} |")
    ts = timestamps(load_model(a.digits_model), ROOT / "data/digits/test_seq.jsonl")
    results["timestamps"] = ts
    lines += ["", "Word timestamps on the connected digit strings (true spans known from how they were built; "
              "correctly recognised strings only):", "",
              f"- {ts['boundaries']} word boundaries in {ts['utterances']} strings: "
              f"{100 * ts['within_0.1s']:.1f} % within 0.1 s, median error {1000 * ts['median_s']:.0f} ms, "
              f"95th percentile {1000 * ts['p95_s']:.0f} ms", ""]
    text = "\n".join(lines)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "decoding.md").write_text(text)
    (out / "decoding.json").write_text(json.dumps(results, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
