"""Noise the default model never met in training, written as 16 kHz wav files for
`lstm-asr evaluate --noise DIR` (benchmarks/robustness.sh, docs/robustness.md):

- OUT/babble/: babble from other speakers: each file sums 5-8 talkers; each talker is a stream of
  random clips (each scaled to the same RMS) from ../shared/data/ljspeech_subset and
  ../shared/data/cmu_arctic_samples, which no model here was trained on.
- OUT/hum_pink/: mains hum (50 Hz and its harmonics up to 1 kHz, random phases, falling levels)
  plus pink (1/f) noise, the hum 0-10 dB above the pink, made with numpy.

Seeded: the same --seed writes the same samples. Run from the repository root:

    .venv/bin/python benchmarks/make_babble.py --out /tmp/noise
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from lstm_asr.audio import SAMPLE_RATE, load_audio

ROOT = Path(__file__).resolve().parents[1]
SPEECH = [ROOT.parent / "shared" / "data" / "ljspeech_subset", ROOT.parent / "shared" / "data" / "cmu_arctic_samples"]


def speech_clips(folders) -> list[np.ndarray]:
    """Every wav under ``folders``, 16 kHz mono, silence trimmed, scaled to RMS 0.05."""
    clips = []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.wav")):
            wave = load_audio(path)
            loud = np.flatnonzero(np.abs(wave) > 0.02 * np.abs(wave).max())
            wave = wave[loud[0]:loud[-1] + 1] if len(loud) else wave
            clips.append(0.05 * wave / (np.sqrt(np.mean(wave.astype(np.float64) ** 2)) + 1e-9))
    if len(clips) < 8:
        raise SystemExit(f"need at least 8 speech clips under {folders}, found {len(clips)}")
    return clips


def talker(clips, n: int, rng: np.random.Generator) -> np.ndarray:
    """One voice talking for ``n`` samples: random clips back to back from a random point of the first,
    with short random pauses."""
    parts, total = [], 0
    first = True
    while total < n:
        clip = clips[rng.integers(len(clips))]
        if first:
            clip, first = clip[rng.integers(len(clip)):], False
        pause = np.zeros(int(rng.uniform(0.05, 0.4) * SAMPLE_RATE), np.float32)
        parts += [clip, pause]
        total += len(clip) + len(pause)
    return np.concatenate(parts)[:n]


def babble(clips, seconds: float, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    n = int(seconds * SAMPLE_RATE)
    k = int(rng.integers(5, 9))  # 5..8 talkers
    return sum(talker(clips, n, rng) for _ in range(k)), k


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise: white noise shaped to power 1/f in the frequency domain (from 20 Hz), RMS 1."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spec /= np.sqrt(np.maximum(f, 20.0))
    x = np.fft.irfft(spec, n)
    return x / np.sqrt(np.mean(x ** 2))


def hum(n: int, rng: np.random.Generator, base: float = 50.0, top: float = 1000.0) -> np.ndarray:
    """Mains hum: ``base`` Hz and its harmonics up to ``top`` Hz with random phases, levels falling
    with the harmonic number h (about -(3..9) * (h-1)^0.7 dB), even harmonics 6 dB weaker; RMS 1."""
    t = np.arange(n) / SAMPLE_RATE
    x = np.zeros(n)
    for h in range(1, int(top // base) + 1):
        level_db = -rng.uniform(3, 9) * (h - 1) ** 0.7 - (0 if h % 2 else 6)
        x += 10 ** (level_db / 20) * np.sin(2 * np.pi * base * h * t + rng.uniform(0, 2 * np.pi))
    return x / np.sqrt(np.mean(x ** 2))


def write(path: Path, wave: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wave = np.asarray(wave, np.float64)
    sf.write(path, (0.5 * wave / np.abs(wave).max()).astype(np.float32), SAMPLE_RATE, subtype="PCM_16")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder to write babble/ and hum_pink/ into")
    p.add_argument("--files", type=int, default=4, help="files of each kind (default 4)")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each file (default 30)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    out = Path(args.out)
    rng = np.random.default_rng(args.seed)
    clips = speech_clips(SPEECH)
    n = int(args.seconds * SAMPLE_RATE)
    for i in range(args.files):
        wave, k = babble(clips, args.seconds, rng)
        write(out / "babble" / f"babble_{i}_{k}talkers.wav", wave)
        hum_over_pink_db = rng.uniform(0, 10)
        g = 10 ** (hum_over_pink_db / 20)
        write(out / "hum_pink" / f"hum50_pink_{i}_{hum_over_pink_db:.0f}dB.wav", g * hum(n, rng) + pink(n, rng))
    print(f"{out}: babble/ and hum_pink/, {args.files} files of {args.seconds:g} s each "
          f"({len(clips)} speech clips from {', '.join(str(s) for s in SPEECH)})")


if __name__ == "__main__":
    main()
