"""Build a long recording of real speech to benchmark long-audio transcription.

The file is a sequence of connected-digit strings (3 to 7 FSDD digit recordings of one speaker,
joined with 0-80 ms gaps, each string at its own level between -12 and -3 dBFS peak) separated by
0.5-2.0 s pauses, with light white noise (-55 dBFS RMS) over everything. It is written
incrementally with soundfile, so the hour is never held in memory. Next to it, a JSON Lines
reference has one line per string:

    {"start": 12.345, "end": 14.02, "text": "three one four", "speaker": "theo",
     "words": [[12.345, 12.79, "three"], ...]}

Digits come from ../shared/data/fsdd (all 2500 recordings) when present, else tests/data/fsdd.

    python benchmarks/make_long_audio.py --minutes 60 --out /tmp/long.wav   # ~115 MB at 16 kHz
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
FSDD_DIRS = [ROOT.parent / "shared" / "data" / "fsdd", ROOT / "tests" / "data" / "fsdd"]


def find_fsdd(explicit: str | None) -> Path:
    for d in ([Path(explicit)] if explicit else FSDD_DIRS):
        if (d / "manifest.jsonl").is_file():
            return d
    sys.exit(f"no FSDD manifest.jsonl in {', '.join(map(str, FSDD_DIRS))}")


def read_manifest(fsdd: Path, split: str) -> dict[str, list[tuple[Path, str]]]:
    """speaker -> [(wav path, digit word)]"""
    by_speaker: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    with open(fsdd / "manifest.jsonl") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            if split != "all" and row.get("split") != split:
                continue
            by_speaker[row["speaker"]].append((fsdd / row["audio"], row["text"]))
    if not by_speaker:
        sys.exit(f"no recordings of split {split!r} in {fsdd / 'manifest.jsonl'}")
    return dict(by_speaker)


def load_digit(path: Path, rate: int) -> np.ndarray:
    wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    if sr != rate:
        wave = soxr.resample(wave, sr, rate, quality="HQ").astype(np.float32)
    return wave


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="duration of the file (default 60)")
    ap.add_argument("--out", default="/tmp/long.wav", help="audio file to write (format from the suffix)")
    ap.add_argument("--ref", default=None, help="JSON Lines reference (default: OUT with suffix .jsonl)")
    ap.add_argument("--rate", type=int, default=16000, help="sample rate of the file (FSDD is 8000)")
    ap.add_argument("--split", choices=["test", "train", "all"], default="test",
                    help="which FSDD recordings to use (default test: unseen by a model trained on train)")
    ap.add_argument("--noise-db", type=float, default=-55.0, help="white noise level, dBFS RMS")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fsdd", default=None, help="FSDD folder (default: ../shared/data/fsdd, else tests/data/fsdd)")
    args = ap.parse_args(argv)

    out = Path(args.out)
    ref_path = Path(args.ref) if args.ref else out.with_suffix(".jsonl")
    fsdd = find_fsdd(args.fsdd)
    by_speaker = read_manifest(fsdd, args.split)
    speakers = sorted(by_speaker)
    rng = np.random.default_rng(args.seed)
    rate = args.rate
    total = int(round(args.minutes * 60 * rate))
    noise_rms = 10 ** (args.noise_db / 20)

    def noisy(x: np.ndarray) -> np.ndarray:
        return (x + noise_rms * rng.standard_normal(len(x))).astype(np.float32)

    t0 = time.time()
    pos = n_strings = n_digits = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(str(out), "w", samplerate=rate, channels=1, subtype="PCM_16") as f, \
            open(ref_path, "w") as ref:
        while True:
            pause = np.zeros(int(rng.uniform(0.5, 2.0) * rate), np.float32)
            speaker = speakers[rng.integers(len(speakers))]
            pool = by_speaker[speaker]
            picks = [pool[i] for i in rng.integers(len(pool), size=int(rng.integers(3, 8)))]
            peak = 10 ** (rng.uniform(-12, -3) / 20)
            parts, words, cursor = [], [], len(pause)
            for k, (path, word) in enumerate(picks):
                if k:
                    gap = np.zeros(int(rng.uniform(0.0, 0.08) * rate), np.float32)
                    parts.append(gap)
                    cursor += len(gap)
                w = load_digit(path, rate)
                w *= peak / max(float(np.abs(w).max()), 1e-6)
                parts.append(w)
                words.append([round((pos + cursor) / rate, 4), round((pos + cursor + len(w)) / rate, 4), word])
                cursor += len(w)
            if pos + cursor + int(0.5 * rate) > total:  # no room for this string and a pause after it
                break
            f.write(noisy(np.concatenate([pause, *parts])))
            pos += cursor
            ref.write(json.dumps({"start": words[0][0], "end": words[-1][1],
                                  "text": " ".join(w for _, _, w in words), "speaker": speaker,
                                  "words": words}) + "\n")
            n_strings += 1
            n_digits += len(words)
        while pos < total:  # trailing pause up to the exact duration, in 10 s blocks
            n = min(total - pos, 10 * rate)
            f.write(noisy(np.zeros(n, np.float32)))
            pos += n
    print(f"{out}: {pos / rate / 60:.2f} min at {rate} Hz, {n_strings} strings, {n_digits} digits "
          f"({len(speakers)} speakers, FSDD {args.split} split from {fsdd}); reference {ref_path}; "
          f"{out.stat().st_size / 1e6:.1f} MB in {time.time() - t0:.1f} s")


def ensure(minutes: float, work, name: str = "long") -> tuple[Path, Path]:
    """(wav, reference) of a ``minutes``-long recording in the folder ``work``, built on first use
    (the benchmarks' shared set-up)."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    wav, ref = work / f"{name}_{minutes:g}min.wav", work / f"{name}_{minutes:g}min.jsonl"
    if not wav.exists():
        main(["--minutes", str(minutes), "--out", str(wav), "--ref", str(ref)])
    return wav, ref


if __name__ == "__main__":
    main()
