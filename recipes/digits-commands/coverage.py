"""Single words read right, split by whether real voices in training ever said all of their phones.

    python recipes/digits-commands/coverage.py --train data/digits-commands-holdout-george-no-other15 \
        HYPS.jsonl [HYPS.jsonl ...]

--train: a prepare.py folder; its real training speech (sc_train, fsdd_train) gives the phones real
voices said (every CMU-dictionary variant of every word). HYPS: `lstm-asr evaluate --save-hyps`
files of single words. Prints one JSON line per file: for the words whose first pronunciation uses
only those phones ("covered") and for the rest, clips right / clips, with the phones each word lacks.
"""
import argparse
import json
import sys
from pathlib import Path

from lstm_asr.data import read_manifest
from lstm_asr.lexicon import default_lexicon


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True, help="prepare.py's output folder")
    p.add_argument("hyps", nargs="+")
    a = p.parse_args()
    lex = default_lexicon()
    said = {w for name in ("sc_train", "fsdd_train")
            for u in read_manifest(Path(a.train) / f"{name}.jsonl").utterances for w in u.text.split()}
    real = {ph for w in said for v in lex.pronunciations(w) for ph in v}
    for path in a.hyps:
        rows = [json.loads(line) for line in open(path, encoding="utf-8")]
        groups = {"covered": [0, 0], "not_covered": [0, 0]}
        lacks = {}
        for line, r in enumerate(rows, 1):
            said_as = lex.pronunciations(r["ref"])
            if len(r["ref"].split()) != 1 or not said_as:
                sys.exit(f"error: {path}:{line}: {r['ref']!r} is not one word with a pronunciation")
            missing = sorted(set(said_as[0]) - real)
            lacks[r["ref"]] = missing
            g = groups["not_covered" if missing else "covered"]
            g[0] += r["hyp"] == r["ref"]
            g[1] += 1
        print(json.dumps({"hyps": path, "real_phones": len(real),
                          **{k: {"right": v[0], "n": v[1], "acc": round(v[0] / v[1], 4) if v[1] else None,
                                 "words": sorted(w for w, m in lacks.items() if bool(m) == (k == "not_covered"))}
                             for k, v in groups.items()},
                          "lacks": {w: m for w, m in sorted(lacks.items()) if m}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
