"""The FSDD leave-one-speaker-out table: each held-out fold, then the mean over the folds scored.

    python recipes/digits-commands/loso_table.py [--results recipes/digits-commands/results] [--sc]

A fold is the recipe run with HOLDOUT=S NO_OTHER15=1 (run.sh), scored by `score.sh loso` (and
`ONE_WORD=1`) into results/loso_priors.jsonl; PocketSphinx (ten-digit grammar) is read from
results/pocketsphinx_loso.jsonl and the 15 words from text (`--one-word --prior-scale 0.5`) from
results/priors_new_words.jsonl. The last line for each (fold, set, word list) counts. A fold
appears once `score.sh loso` has scored it; the mean row is over the folds with every column.

--sc: instead, the same fold models on the Speech Commands test speakers and held-out synthetic
voices (`score.sh test`: results/scores-holdout-S-no-other15.jsonl, then
priors_test-holdout-S-no-other15.jsonl where one exists, the last line per set counting) beside the
default model (results/priors_test.jsonl): every fold model trains on the same Speech Commands
speakers, so their spread on these sets is the spread between runs of one recipe.
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
SC_COLUMNS = [  # header, set, measure
    ("SC digits", "test_sc_digits", "acc"),
    ("ten commands", "test_sc_commands", "acc"),
    ("digit strings WER", "test_sc_seq", "wer"),
    ("20-word strings WER", "test_sc_strings", "wer"),
    ("synthetic voices, 20 words", "synth_test_words20", "acc"),
    ("fluent strings WER", "synth_test_fluent", "wer"),
]


def fold_of(name):
    m = FOLD.search(name)
    return m.group(1) if m else None


def percent(d, measure):
    return None if d is None else 100 * (d["sent_acc"] if measure == "acc" else d["wer"])


def cells(values):
    return " | ".join("–" if v is None else f"{v:.1f} %" for v in values)


def print_table(first, headers, rows, mean_label, range_label=None):
    """A markdown table: rows are (label, values, counted); then the mean (and, with ``range_label``,
    the range) of each column over the counted rows that have every value. The labels take {n}."""
    print(f"| {first} | " + " | ".join(headers) + " |")
    print("|---" * (len(headers) + 1) + "|")
    for label, values, _ in rows:
        print(f"| {label} | " + cells(values) + " |")
    full = [values for _, values, counted in rows if counted and None not in values]
    if full:
        cols = list(zip(*full))
        n = len(full)
        print(f"| {mean_label.format(n=n)} | " + " | ".join(f"**{sum(c) / n:.1f} %**" for c in cols) + " |")
        if range_label:
            print(f"| {range_label.format(n=n)} | " + " | ".join(f"{min(c):.1f}-{max(c):.1f} %" for c in cols) + " |")


def require(ap, results, names, written_by):
    for name in names:
        if not (results / name).is_file():
            ap.error(f"{results / name}: no such file ({written_by})")


def sc_table(ap, results):
    require(ap, results, ["priors_test.jsonl"], "score.sh test writes it")
    by_set = lambda d: d["set"]  # noqa: E731
    shipped = load(results / "priors_test.jsonl", by_set)
    folds = {}
    for path in sorted(results.glob("scores-holdout-*-no-other15.jsonl")):
        fold = fold_of(path.name)
        folds[fold] = load(path, by_set)
        extra = results / f"priors_test-holdout-{fold}-no-other15.jsonl"
        if extra.is_file():
            folds[fold].update(load(extra, by_set))

    def values(table):
        return [percent(table.get(s), m) for _, s, m in SC_COLUMNS]

    rows = [("default model", values(shipped), False)] + [(f"fold {f}", values(t), True) for f, t in folds.items()]
    print_table("model", [c[0] for c in SC_COLUMNS], rows, "**mean of {n} folds**", "range of {n} folds")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--sc", action="store_true",
                    help="the fold models on the Speech Commands test speakers, beside the default model")
    args = ap.parse_args(argv)
    if args.sc:
        return sc_table(ap, args.results)
    require(ap, args.results, ["loso_priors.jsonl", "pocketsphinx_loso.jsonl", "priors_new_words.jsonl"],
            "score.sh loso and pocketsphinx_bench.py write it")
    ours = load(args.results / "loso_priors.jsonl",
                lambda d: (fold_of(d["model"]), d["set"], d["words"], bool(d.get("one_word"))))
    ps = load(args.results / "pocketsphinx_loso.jsonl", lambda d: (fold_of(d["manifest"]), ps_key(d)))
    new = load(args.results / "priors_new_words.jsonl", lambda d: (fold_of(d["model"]), d["set"]))
    folds = sorted({k[0] for k in ours if k[0]})

    tables = {"ours": ours, "ps": ps, "new": new}

    def value(fold, source, name, words, one_word, measure):
        return percent(tables[source].get((fold, name, words, one_word) if source == "ours" else (fold, name)), measure)

    rows = [(f, [value(f, *c[1:]) for c in COLUMNS], True) for f in folds]
    print_table("left-out FSDD speaker", [c[0] for c in COLUMNS], rows, "**mean of {n}**")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
