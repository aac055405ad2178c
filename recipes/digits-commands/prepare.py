"""Prepare the digits-commands recipe: Speech Commands (many voices) and FSDD, split by speaker.

    python recipes/digits-commands/prepare.py [--sc ../shared/data/speech_commands]
        [--fsdd ../shared/data/fsdd] [--out data/digits-commands] [--holdout FSDD_SPEAKER] [--no-other15]

Speech Commands speakers are split once, by speaker (seeded): 70 % train, 10 % dev, 20 % test, so
dev and test voices are never trained on. FSDD: file indices 0-4 are its official test split,
5-49 train; with ``--holdout SPEAKER`` (leave-one-speaker-out) that speaker leaves training
entirely and test_fsdd*.jsonl hold all 500 of their recordings. With ``--no-other15`` no recording
of the 15 other words (bed bird ... visual) is trained on: they leave sc_train and its strings, for
the model that measures words learned from text alone (dev and test are unchanged).

Writes (under --out):
  sc_train.jsonl       Speech Commands train speakers, all 35 words
  sc_seq_train.jsonl   2-4 word strings from them (each string one speaker's recordings)
  fsdd_train.jsonl     FSDD singles (indices 5-49; every speaker but the held-out one)
  fsdd_seq_train.jsonl 2-7 digit strings from them
  dev.jsonl            dev speakers of Speech Commands: the 20 words, singles and strings
  test_sc_digits.jsonl / test_sc_commands.jsonl   test speakers of Speech Commands, singles
  test_sc_seq.jsonl    digit strings from the Speech Commands test speakers
  dev_sc_seq.jsonl     digit strings from the dev speakers, made the same way (for choosing models)
  test_sc_strings.jsonl  strings of the 20 words from every test speaker who said two or more of them
  dev_sc_strings.jsonl   the same from the dev speakers (for choosing models)
  test_sc_other.jsonl / dev_sc_other.jsonl   the 15 other words (bed bird ... visual), test / dev speakers
  test_fsdd.jsonl / test_fsdd_seq.jsonl           FSDD test split (or the held-out speaker), singles and strings
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from lstm_asr.data import make_sequences, read_manifest, write_manifest

DIGITS = "zero one two three four five six seven eight nine".split()
COMMANDS = "yes no up down left right on off stop go".split()
OTHER15 = "bed bird cat dog happy house marvin sheila tree wow backward forward follow learn visual".split()


def split_speakers(speakers, seed: int = 0, dev: float = 0.1, test: float = 0.2) -> dict:
    """speaker -> "train" | "dev" | "test", a seeded shuffle of the sorted speaker ids."""
    order = sorted(speakers)
    np.random.default_rng(seed).shuffle(order)
    n_test, n_dev = round(test * len(order)), round(dev * len(order))
    return {s: ("test" if k < n_test else "dev" if k < n_test + n_dev else "train") for k, s in enumerate(order)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sc", "--source", dest="sc", default="../shared/data/speech_commands")
    p.add_argument("--fsdd", default="../shared/data/fsdd")
    p.add_argument("--out", default="data/digits-commands")
    p.add_argument("--holdout", default=None, help="FSDD speaker left out of training and tested on")
    p.add_argument("--no-other15", action="store_true",
                   help="train on none of the 15 other words' recordings (words from text alone)")
    p.add_argument("--sc-seqs", type=int, default=600)
    p.add_argument("--fsdd-seqs", type=int, default=600)
    p.add_argument("--test-seqs", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    out = Path(a.out)
    row = lambda u: {"audio": str(u.audio.resolve()), "text": u.text, "speaker": u.speaker}  # noqa: E731

    sc = read_manifest(Path(a.sc) / "manifest.jsonl").utterances
    part = split_speakers({u.speaker for u in sc}, a.seed)
    sc_split = {k: [u for u in sc if part[u.speaker] == k] for k in ("train", "dev", "test")}
    words20 = set(DIGITS + COMMANDS)
    if a.no_other15:
        sc_split["train"] = [u for u in sc_split["train"] if u.text not in OTHER15]

    fsdd = read_manifest(Path(a.fsdd) / "manifest.jsonl").utterances
    if a.holdout and a.holdout not in {u.speaker for u in fsdd}:
        sys.exit(f"error: {a.holdout}: no such speaker in {a.fsdd}")
    index = lambda u: int(u.audio.stem.rsplit("_", 1)[1])  # noqa: E731
    if a.holdout:
        fsdd_test = [u for u in fsdd if u.speaker == a.holdout]
        fsdd_train = [u for u in fsdd if u.speaker != a.holdout and index(u) >= 5]
    else:
        fsdd_test = [u for u in fsdd if index(u) < 5]
        fsdd_train = [u for u in fsdd if index(u) >= 5]

    def seqs(name, utts, n, lo, hi, seed):
        rows = make_sequences(utts, out / "seq" / name, n, min_words=lo, max_words=hi, seed=seed, prefix=name)
        return [{**r, "audio": f"seq/{name}/{r['audio']}"} for r in rows]

    def of_multi(utts, words=DIGITS):  # the recordings of these words by speakers who said two or more
        said = [u for u in utts if u.text in words]
        count = Counter(u.speaker for u in said)
        return [u for u in said if count[u.speaker] >= 2]

    sc_digits_test = [u for u in sc_split["test"] if u.text in DIGITS]
    dev20 = [u for u in sc_split["dev"] if u.text in words20]
    files = {
        "sc_train": [row(u) for u in sc_split["train"]],
        "sc_seq_train": seqs("sc_train", sc_split["train"], a.sc_seqs, 2, 4, a.seed),
        "fsdd_train": [row(u) for u in fsdd_train],
        "fsdd_seq_train": seqs("fsdd_train", fsdd_train, a.fsdd_seqs, 2, 7, a.seed + 1),
        "dev": [row(u) for u in dev20] + seqs("dev", dev20, 100, 2, 4, a.seed + 2),
        "test_sc_digits": [row(u) for u in sc_digits_test],
        "test_sc_commands": [row(u) for u in sc_split["test"] if u.text in COMMANDS],
        "test_sc_seq": seqs("sc_test", of_multi(sc_split["test"]), a.test_seqs, 2, 7, a.seed + 3),
        "test_fsdd": [row(u) for u in fsdd_test],
        "test_fsdd_seq": seqs("fsdd_test", fsdd_test, a.test_seqs, 2, 7, a.seed + 4),
        # the dev speakers' digit strings, made as test_sc_seq is: for choosing between models on the
        # strings of unseen voices without looking at the test speakers (dev's own strings mix in commands)
        "dev_sc_seq": seqs("sc_dev", of_multi(sc_split["dev"]), a.test_seqs, 2, 7, a.seed + 5),
        # strings of all 20 words: test_sc_seq draws on the 45 digit recordings of 7 test speakers,
        # these on every test speaker who said two or more of the 20 words
        "test_sc_strings": seqs("sc_test20", of_multi(sc_split["test"], words20), a.test_seqs, 2, 7, a.seed + 6),
        "dev_sc_strings": seqs("sc_dev20", of_multi(sc_split["dev"], words20), a.test_seqs, 2, 7, a.seed + 7),
        # the 15 other words (bed bird ... visual) by unseen speakers: read with --words of the 15
        "dev_sc_other": [row(u) for u in sc_split["dev"] if u.text in OTHER15],
        "test_sc_other": [row(u) for u in sc_split["test"] if u.text in OTHER15],
    }
    for name, rows in files.items():
        write_manifest(out / f"{name}.jsonl", rows)
    speakers = {k: len({u.speaker for u in v}) for k, v in sc_split.items()}
    print(json.dumps({"out": str(out), "holdout": a.holdout, "no_other15": a.no_other15, "sc_speakers": speakers,
                      **{k: len(v) for k, v in files.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
