"""The Mandarin recipe's text and voices: which espeak-ng voices train and which are held out,
and the fluent strings each side says.

    python recipes/mandarin/corpus.py --out data/mandarin     writes voices_*.txt, strings_test.txt and
                                                               groups/NN.{exclude,txt}: the training voices
                                                               in groups of 7, each group with strings of its own

Voices: espeak-ng's ``cmn`` accent times its voice variants (``cmn+m3``, ``cmn+Alicia``, ...).
``cmn-latn-pinyin`` reads Chinese characters exactly as ``cmn`` does, so it is left out (it
would be the same voice twice). One variant in four (seeded) is held out for testing.
Words: the ten digits 零 一 二 三 四 五 六 七 八 九 and ten commands 是 不 上 下 左 右 开 关 停 走
(yes no up down left right on off stop go), one syllable each. Strings: 2-8 of those, written
without spaces, as Chinese is; every group of 7 training voices says 30 strings of its own (so 330
different strings are heard in training), the held-out voices 30 others.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

from lstm_asr.synth import get_engine

DIGITS = "零 一 二 三 四 五 六 七 八 九".split()
COMMANDS = "是 不 上 下 左 右 开 关 停 走".split()
WORDS = DIGITS + COMMANDS


def strings(n: int, seed: str) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        pool = DIGITS if i % 2 == 0 else WORDS   # half digit strings (phone numbers), half mixed
        out.append("".join(rng.choice(pool) for _ in range(rng.randint(2, 8))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/mandarin")
    ap.add_argument("--strings", type=int, default=30, help="fluent strings said by each group of voices")
    ap.add_argument("--group", type=int, default=7, help="training voices per group")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    every = get_engine("espeak", "cmn").voices()
    voices = [v for v in every if v.split("+")[0] == "cmn"]
    if not voices:
        raise SystemExit("espeak-ng has no cmn voice (install espeak-ng: `make voices`)")
    rng = random.Random(args.seed)
    rng.shuffle(voices)
    test = sorted(voices[: len(voices) // 4])
    train = sorted(voices[len(voices) // 4:])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "voices_train.txt").write_text("".join(f"espeak/{v}\n" for v in train), encoding="utf-8")
    (out / "voices_test.txt").write_text("".join(f"espeak/{v}\n" for v in test), encoding="utf-8")
    # the pinyin accent reads characters as cmn does: never a voice of its own
    pinyin = [v for v in every if v.split("+")[0] != "cmn"]
    (out / "voices_excluded.txt").write_text("".join(f"espeak/{v}\n" for v in pinyin), encoding="utf-8")
    (out / "strings_test.txt").write_text("\n".join(strings(args.strings, f"{args.seed}|test")) + "\n", encoding="utf-8")
    groups = out / "groups"
    groups.mkdir(exist_ok=True)
    everyone = [f"espeak/{v}" for v in voices + pinyin]
    for g in range(0, len(train), args.group):
        members = {f"espeak/{v}" for v in train[g:g + args.group]}
        name = f"{g // args.group:02d}"
        (groups / f"{name}.exclude").write_text("".join(f"{v}\n" for v in everyone if v not in members), encoding="utf-8")
        (groups / f"{name}.txt").write_text("\n".join(strings(args.strings, f"{args.seed}|train|{name}")) + "\n",
                                           encoding="utf-8")
    print(f"{out}: {len(train)} training voices in groups of {args.group}, {len(test)} held out, "
          f"{args.strings} strings per group")


if __name__ == "__main__":
    main()
