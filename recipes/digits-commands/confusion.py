"""Confusion matrix of single-word results on unseen speakers, from `evaluate --save-hyps` files.

    python recipes/digits-commands/confusion.py HYPS.jsonl [HYPS.jsonl ...] --out docs/speakers/confusion.png

Rows: the reference word; columns: what the recognizer said (a word of the list, "(other)" for
anything else, "(none)" for an empty output). Cells are counts; the title gives the accuracy.
Also prints the most frequent confusions.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

WORDS = "zero one two three four five six seven eight nine yes no up down left right on off stop go".split()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("hyps", nargs="+", help="JSON Lines with ref and hyp per utterance")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--title", default="unseen speakers")
    a = p.parse_args()
    rows = [json.loads(line) for f in a.hyps for line in Path(f).read_text().splitlines() if line.strip()]
    rows = [r for r in rows if len(r["ref"].split()) == 1]
    refs = [w for w in WORDS if any(r["ref"] == w for r in rows)]
    cols = refs + ["(other)", "(none)"]
    counts = collections.Counter()
    for r in rows:
        h = r["hyp"].strip()
        counts[r["ref"], h if h in refs else "(none)" if not h else "(other)"] += 1
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    m = np.array([[counts[r, c] for c in cols] for r in refs])
    acc = np.trace(m[:, : len(refs)]) / m.sum()
    fig, ax = plt.subplots(figsize=(1 + 0.45 * len(cols), 1 + 0.42 * len(refs)))
    ax.imshow(m / m.sum(1, keepdims=True), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(refs)):
        for j in range(len(cols)):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] > 0.6 * m[i].sum() else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(refs)), refs, fontsize=8)
    ax.set(xlabel="recognised as", ylabel="spoken", title=f"{a.title}: {100 * acc:.1f} % of {m.sum()}")
    fig.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    errors = sorted(((n, r, c) for (r, c), n in counts.items() if r != c), reverse=True)[:10]
    print(json.dumps({"n": int(m.sum()), "accuracy": round(100 * acc, 2),
                      "top_confusions": [f"{r} -> {c}: {n}" for n, r, c in errors]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
