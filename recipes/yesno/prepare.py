"""Prepare the Kaldi yes/no recipe's manifests (../shared/data/kaldi_yesno, 60 files, one speaker).

    python recipes/yesno/prepare.py [--yesno ../shared/data/kaldi_yesno] [--out data/yesno]

Split as Kaldi's tutorial: the 31 files whose name starts with 0_ train, the 29 starting with 1_
test. Four training files (every 8th) are held out as the dev set. Words: Hebrew ken/lo, written
with their English glosses "yes"/"no".
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lstm_asr.data import read_manifest, write_manifest


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", "--yesno", dest="yesno", default="../shared/data/kaldi_yesno", help="folder with manifest.jsonl")
    p.add_argument("--out", default="data/yesno")
    a = p.parse_args()
    utts = sorted(read_manifest(Path(a.yesno) / "manifest.jsonl").utterances, key=lambda u: u.audio.name)
    row = lambda u: {"audio": str(u.audio.resolve()), "text": u.text, "speaker": u.speaker}  # noqa: E731
    train = [u for u in utts if u.audio.name.startswith("0_")]
    test = [u for u in utts if u.audio.name.startswith("1_")]
    dev = train[::8]
    train = [u for u in train if u not in dev]
    out = Path(a.out)
    for name, part in (("train", train), ("dev", dev), ("test", test)):
        write_manifest(out / f"{name}.jsonl", [row(u) for u in part])
    print(json.dumps({"out": str(out), "train": len(train), "dev": len(dev), "test": len(test)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
