"""Prepare the digits recipe's manifests from FSDD: single digits plus connected digit strings.

    python recipes/digits/prepare.py [--fsdd ../shared/data/fsdd] [--out data/digits] [--holdout SPEAKER]

Splits (FSDD file index per speaker and digit): 0-4 = official test, 5-7 = dev, 8-49 = train.
With --holdout SPEAKER (leave-one-speaker-out), that speaker is left out of train and dev entirely
and test.jsonl holds all 500 of that speaker's recordings.
Writes train.jsonl, dev.jsonl, test.jsonl (singles), test_seq.jsonl (2-7 digit strings built from
test recordings only), and the strings' wav files under seq/.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lstm_asr.data import read_manifest, write_manifest, make_sequences


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", "--fsdd", dest="fsdd", default="../shared/data/fsdd", help="FSDD folder with manifest.jsonl")
    p.add_argument("--out", default="data/digits")
    p.add_argument("--holdout", default=None, help="leave this speaker out (train/dev) and test on it")
    p.add_argument("--train-seqs", type=int, default=1500)
    p.add_argument("--dev-seqs", type=int, default=150)
    p.add_argument("--test-seqs", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    man = read_manifest(Path(a.fsdd) / "manifest.jsonl")
    index = lambda u: int(u.audio.stem.rsplit("_", 1)[1])  # noqa: E731
    if a.holdout:
        if a.holdout not in {u.speaker for u in man.utterances}:
            sys.exit(f"error: {a.holdout}: no such speaker in {a.fsdd}")
        rest = [u for u in man.utterances if u.speaker != a.holdout]
        test = [u for u in man.utterances if u.speaker == a.holdout]
        dev = [u for u in rest if 5 <= index(u) <= 7]
        train = [u for u in rest if index(u) < 5 or index(u) >= 8]
    else:
        test = [u for u in man.utterances if index(u) <= 4]
        dev = [u for u in man.utterances if 5 <= index(u) <= 7]
        train = [u for u in man.utterances if index(u) >= 8]

    out = Path(a.out)
    single = lambda u: {"audio": str(u.audio.resolve()), "text": u.text, "speaker": u.speaker}  # noqa: E731
    seq_rows = {}
    for name, utts, n, seed in (("train", train, a.train_seqs, a.seed), ("dev", dev, a.dev_seqs, a.seed + 1),
                                ("test", test, a.test_seqs, a.seed + 2)):
        rows = make_sequences(utts, out / "seq" / name, n, seed=seed, prefix=name)
        seq_rows[name] = [{**r, "audio": f"seq/{name}/{r['audio']}"} for r in rows]
    write_manifest(out / "train.jsonl", [single(u) for u in train] + seq_rows["train"])
    write_manifest(out / "dev.jsonl", [single(u) for u in dev] + seq_rows["dev"])
    write_manifest(out / "test.jsonl", [single(u) for u in test])
    write_manifest(out / "test_seq.jsonl", seq_rows["test"])
    print(json.dumps({"out": str(out), "train": len(train) + a.train_seqs, "dev": len(dev) + a.dev_seqs,
                      "test": len(test), "test_seq": a.test_seqs, "holdout": a.holdout}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
