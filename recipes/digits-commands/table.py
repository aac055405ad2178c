"""The figures table of docs/speakers.md from score.sh's and pocketsphinx_bench.py's JSON lines.

    python recipes/digits-commands/table.py NEW_SCORES.jsonl SHIPPED_SCORES.jsonl POCKETSPHINX.jsonl

One row per test set: accuracy (single words) or WER (strings) of the new model, the shipped
model and PocketSphinx, the goal, and the 95 % interval of the new model (by speaker).
"""
import json
import sys

ROWS = [  # set, what, measure, goal
    ("test_sc_digits", "single digits, Speech Commands test speakers", "acc", "≥ 95 %"),
    ("test_fsdd", "single digits, FSDD test split (speakers in training)", "acc", "–"),
    ("test_sc_commands", "the ten commands, `--words` of the ten", "acc", "≥ 93 %"),
    ("test_sc_other", "the 15 other words, `--words` of the 15", "acc", "≥ 90 %"),
    ("test_sc_seq", "digit strings glued, SC test speakers (WER)", "wer", "≤ 5 %"),
    ("test_sc_strings", "20-word strings glued, SC test speakers (WER)", "wer", "–"),
    ("test_fsdd_seq", "digit strings glued, FSDD test split (WER)", "wer", "–"),
    ("synth_test_words20", "the 20 words, held-out synthetic voices", "acc", "–"),
    ("synth_test_fluent", "fluent strings, held-out synthetic voices (WER)", "wer", "≤ 5 %"),
]


def load(path, key):
    out = {}
    for line in open(path, encoding="utf-8"):
        d = json.loads(line)
        name = key(d)
        out[name] = d
    return out


def ps_key(d):
    parts = d["manifest"].split("/")
    return "synth_" + parts[-2] if parts[-1] == "manifest.jsonl" else parts[-1][:-len(".jsonl")]


def cell(d, measure, ci=False):
    if d is None:
        return "–"
    v = d["sent_acc"] if measure == "acc" else d["wer"]
    text = f"{100 * v:.1f} %"
    if ci and d.get("ci95"):
        lo, hi = d["ci95"]["sent_acc" if measure == "acc" else "wer"]
        text += f" ({100 * lo:.1f}-{100 * hi:.1f})"
    return text


def main(argv):
    new, shipped = load(argv[0], lambda d: d["set"]), load(argv[1], lambda d: d["set"])
    ps = load(argv[2], ps_key)
    print("| unseen speakers / voices | n | new model (95 % CI by speaker) | shipped model | PocketSphinx | goal |")
    print("|---|---|---|---|---|---|")
    for name, what, measure, goal in ROWS:
        d = new.get(name)
        n = (d or shipped.get(name) or {}).get("n", "–")
        print(f"| {what} | {n} | {cell(d, measure, ci=True)} | {cell(shipped.get(name), measure)} | "
              f"{cell(ps.get(name), measure)} | {goal} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
