"""Stage 2 of run.sh: the synthetic speech the recipe trains and tests on (lstm_asr.synth).

    python recipes/digits-commands/synth_corpus.py [--out data/synth] [--workers 2] [--scale 1.0]

Voices are split once (seeded) into training voices and held-out voices; the held-out ones
(whole engines' voices: one flite, one RHVoice, one pico voice, one festival voice, 4 Kokoro
voices and every mix of theirs, 40 espeak-ng variants) are never trained on and make the
synthetic test sets. Writes, each a folder with manifest.jsonl:

  words20/   the 20 words (digits + commands) by every training voice
  other15/   the 15 other Speech Commands words by a third of the training voices
  vocab/     3000 frequent English words (words.txt), each by one training voice: phone coverage
  strings/   fluent strings (phone numbers, command sequences) said in one breath, training voices
  test_words20/, test_fluent/   the same by held-out voices only (never in training)

Resumable: a rerun renders only what is missing. Kokoro is used when installed
(scripts/install_kokoro.sh); without it the other engines make up the voices.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from lstm_asr.synth import ENGINES, get_engine, pick_voices, plan_jobs, synthesize

WORDS20 = "zero one two three four five six seven eight nine yes no up down left right on off stop go".split()
OTHER15 = "bed bird cat dog happy house marvin sheila tree wow backward forward follow learn visual".split()
HELD = ["flite/rms", "rhvoice/clb", "pico/en-GB", "festival/ked_diphone",
        "kokoro/af_sky", "kokoro/am_michael", "kokoro/bf_isabella", "kokoro/bm_lewis"]
HERE = Path(__file__).parent


def engines_here() -> list:
    out = []
    for name in ENGINES:
        try:
            e = get_engine(name)
        except Exception:  # noqa: BLE001 - an engine that cannot load is simply not used
            continue
        if e.available():
            out.append(e)
    return out


def split_voices(seed: int, n_mixes: int) -> tuple[list, list]:
    engines = engines_here()
    everyone = pick_voices(engines, None, seed)
    espeak = [v for v in everyone if v[0] == "espeak"]
    random.Random(seed).shuffle(espeak)
    held = set(HELD) | {f"{e}/{v}" for e, v in espeak[:40]}
    train = [v for v in everyone if f"{v[0]}/{v[1]}" not in held]
    test = [v for v in everyone if f"{v[0]}/{v[1]}" in held]
    if any(e.name == "kokoro" for e in engines):  # mixes: new speakers, of training or held-out voices only
        from lstm_asr.kokoro import random_mix
        kok_train = [v for e, v in train if e == "kokoro"]
        kok_test = [v for e, v in test if e == "kokoro"]
        rng = random.Random(seed)
        train += [("kokoro", random_mix(rng, rng.choice([2, 3]), kok_train)) for _ in range(n_mixes)]
        test += [("kokoro", random_mix(rng, 2, kok_test)) for _ in range(n_mixes // 10)]
    return train, test


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="data/synth")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--espeak-voices", type=int, default=100, help="espeak-ng variants used for training")
    p.add_argument("--mixes", type=int, default=40, help="Kokoro mixes used for training")
    p.add_argument("--only", default=None, help="comma-separated sets to render (default all)")
    a = p.parse_args()
    train, test = split_voices(a.seed, a.mixes)
    rng = random.Random(a.seed)
    espeak = [v for v in train if v[0] == "espeak"]
    train = [v for v in train if v[0] != "espeak"] + rng.sample(espeak, min(a.espeak_voices, len(espeak)))
    rng.shuffle(train)
    vocab = [w for line in (HERE / "words.txt").read_text().splitlines() if not line.startswith("#") for w in line.split()]
    sets = {
        "words20": plan_jobs(train, WORDS20, seed=a.seed),
        "other15": plan_jobs(train[::3], OTHER15, seed=a.seed),
        "vocab": [j for k, w in enumerate(vocab) for j in plan_jobs([train[k % len(train)]], [w], seed=a.seed)],
        "strings": plan_jobs(train, strings=[("digits", 3), ("commands", 3)], seed=a.seed),
        "test_words20": plan_jobs(test, WORDS20, seed=a.seed + 1),
        "test_fluent": plan_jobs(test, strings=[("digits", 1), ("commands", 1)], seed=a.seed + 1),
    }
    only = a.only.split(",") if a.only else ["words20", "strings", "test_fluent", "test_words20", "other15", "vocab"]
    print(f"{len(train)} training voices, {len(test)} held out", file=sys.stderr)
    for name in only:
        print(f"{name}: {len(sets[name])} clips", file=sys.stderr)
        synthesize(sets[name], Path(a.out) / name, workers=a.workers, progress=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
