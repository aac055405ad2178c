"""The FSDD leave-one-speaker-out table: each held-out fold, then the mean over the folds scored.

    python recipes/digits-commands/loso_table.py [--results recipes/digits-commands/results]

A fold is the recipe run with HOLDOUT=S NO_OTHER15=1 (run.sh), scored by `score.sh loso` (and
`ONE_WORD=1`) into results/loso_priors.jsonl; PocketSphinx (ten-digit grammar) is read from
results/pocketsphinx_loso.jsonl and the 15 words from text (`--one-word --prior-scale 0.5`) from
results/priors_new_words.jsonl. The last line for each (fold, set, word list) counts. A fold
appears once `score.sh loso` has scored it; the mean row is over the folds with every column.
"""
import argparse
import json
import re
from pathlib import Path

from table import load, ps_key

DIGITS = "zero one two three four five six seven eight nine"
FOLD = re.compile(r"holdout-(\w+)-no-other15")
COLUMNS = [  # header, source, set, word list ("default" = the model's 20 words), one_word, measure
    ("digits, 20 words", "ours", "test_fsdd", "default", False, "acc"),
    ("digits, ten digits", "ours", "test_fsdd", DIGITS, False, "acc"),
    ("… `--one-word`", "ours", "test_fsdd", DIGITS, True, "acc"),
    ("PocketSphinx, ten digits", "ps", "test_fsdd", None, None, "acc"),
    ("strings WER, ten digits", "ours", "test_fsdd_seq", DIGITS, False, "wer"),
    ("PocketSphinx strings WER", "ps", "test_fsdd_seq", None, None, "wer"),
    ("the 15 words from text", "new", "test_sc_other", None, None, "acc"),
]


def fold_of(name):
    m = FOLD.search(name)
    return m.group(1) if m else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)
    for name in ("loso_priors.jsonl", "pocketsphinx_loso.jsonl", "priors_new_words.jsonl"):
        if not (args.results / name).is_file():
            ap.error(f"{args.results / name}: no such file (score.sh loso and pocketsphinx_bench.py write it)")
    ours = load(args.results / "loso_priors.jsonl",
                lambda d: (fold_of(d["model"]), d["set"], d["words"], bool(d.get("one_word"))))
    ps = load(args.results / "pocketsphinx_loso.jsonl", lambda d: (fold_of(d["manifest"]), ps_key(d)))
    new = load(args.results / "priors_new_words.jsonl", lambda d: (fold_of(d["model"]), d["set"]))
    folds = sorted({k[0] for k in ours if k[0]})

    tables = {"ours": ours, "ps": ps, "new": new}

    def value(fold, source, name, words, one_word, measure):
        d = tables[source].get((fold, name, words, one_word) if source == "ours" else (fold, name))
        return None if d is None else 100 * (d["sent_acc"] if measure == "acc" else d["wer"])

    rows = {f: [value(f, *c[1:]) for c in COLUMNS] for f in folds}
    print("| left-out FSDD speaker | " + " | ".join(c[0] for c in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for f in folds:
        print(f"| {f} | " + " | ".join("–" if v is None else f"{v:.1f} %" for v in rows[f]) + " |")
    full = [rows[f] for f in folds if None not in rows[f]]
    if full:
        means = [sum(col) / len(full) for col in zip(*full)]
        print(f"| **mean of {len(full)}** | " + " | ".join(f"**{v:.1f} %**" for v in means) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
