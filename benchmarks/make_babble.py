"""Noise the default model never met in training, written as 16 kHz wav files for
`lstm-asr evaluate --noise DIR` (benchmarks/robustness.sh, docs/robustness.md):

- OUT/babble/: babble from other speakers: each file sums 5-8 talkers; each talker is a stream of
  random clips (each scaled to the same RMS) from ../shared/data/ljspeech_subset and
  ../shared/data/cmu_arctic_samples, which no model here was trained on. With --speech, from the
  folders or manifests named instead: the digits-commands recipe makes its training babble from its
  own training speakers this way (--kinds babble), so the test babble's voices stay unseen.
- OUT/hum_pink/: mains hum (50 Hz and its harmonics up to 1 kHz, random phases, falling levels)
  plus pink (1/f) noise, the hum 0-10 dB above the pink, made with numpy.

Seeded: the same --seed writes the same samples. Run from the repository root:

    .venv/bin/python benchmarks/make_babble.py --out /tmp/noise
    .venv/bin/python benchmarks/make_babble.py --out data/digits-commands/noise --kinds babble \
        --speech data/digits-commands/sc_train.jsonl --speech data/synth/vocab/manifest.jsonl
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from lstm_asr.audio import SAMPLE_RATE, load_audio

ROOT = Path(__file__).resolve().parents[1]
SPEECH = [ROOT.parent / "shared" / "data" / "ljspeech_subset", ROOT.parent / "shared" / "data" / "cmu_arctic_samples"]


def audio_paths(source: Path) -> list[Path]:
    """The recordings of a folder (every wav under it) or of a manifest (its lines' audio)."""
    if source.is_dir():
        return sorted(source.rglob("*.wav"))
    with open(source, encoding="utf-8") as f:
        return [source.parent / json.loads(line)["audio"] for line in f if line.strip()]


def speech_clips(sources) -> list[np.ndarray]:
    """Every recording of ``sources``, 16 kHz mono, silence trimmed, scaled to RMS 0.05."""
    clips = []
    for source in sources:
        for path in audio_paths(Path(source)):
            wave = load_audio(path)
            loud = np.flatnonzero(np.abs(wave) > 0.02 * np.abs(wave).max())
            wave = wave[loud[0]:loud[-1] + 1] if len(loud) else wave
            clips.append(0.05 * wave / (np.sqrt(np.mean(wave.astype(np.float64) ** 2)) + 1e-9))
    if len(clips) < 8:
        raise SystemExit(f"need at least 8 speech clips in {', '.join(map(str, sources))}, found {len(clips)}")
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
    p.add_argument("--speech", action="append", metavar="FOLDER|MANIFEST",
                   help="where the babble's talkers come from (repeatable; default: "
                        "../shared/data/ljspeech_subset and cmu_arctic_samples)")
    p.add_argument("--kinds", default="babble,hum_pink", help="which kinds to write (default babble,hum_pink)")
    args = p.parse_args(argv)
    kinds = set(args.kinds.split(","))
    if not kinds or not kinds <= {"babble", "hum_pink"}:
        raise SystemExit(f"--kinds: {args.kinds!r}: choose from babble, hum_pink")
    out = Path(args.out)
    rng = np.random.default_rng(args.seed)
    sources = args.speech or SPEECH
    clips = speech_clips(sources) if "babble" in kinds else []
    n = int(args.seconds * SAMPLE_RATE)
    # one generator draws the kinds in turn, so the files depend on --seed and on --kinds
    for i in range(args.files):
        if clips:
            wave, k = babble(clips, args.seconds, rng)
            write(out / "babble" / f"babble_{i}_{k}talkers.wav", wave)
        hum_over_pink_db = rng.uniform(0, 10)
        if "hum_pink" in kinds:
            g = 10 ** (hum_over_pink_db / 20)
            write(out / "hum_pink" / f"hum50_pink_{i}_{hum_over_pink_db:.0f}dB.wav", g * hum(n, rng) + pink(n, rng))
    print(f"{out}: {', '.join(sorted(kinds))}, {args.files} files of {args.seconds:g} s each"
          + (f" ({len(clips)} speech clips from {', '.join(str(s) for s in sources)})" if clips else ""))


if __name__ == "__main__":
    main()
