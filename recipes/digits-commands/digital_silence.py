"""Sets with digital silence (exact zeros) or 20 dB quieter, for the front end's floors
(noise_floor.sh, level_floor.sh).

Many files carry stretches of exact zeros: recordings trimmed or padded in an editor, a
microphone's first buffers, synthesised speech. Before ``features.noise_floor`` their log-mel sat
at log(float eps) = -15.9, far below any real noise, and dragged the normalisation statistics.

    python recipes/digits-commands/digital_silence.py [--data data/digits-commands]

writes, beside the recipe's manifests (audio under derived/):
  dev_pad / test_pad            the single words of dev / of the SC test sets, 0.5 s of zeros each side
  dev_seq_zero / test_seq_zero  dev_sc_seq / test_sc_seq with every pause made 0.4 s of zeros
  dev_quiet / test_quiet        dev / the SC test sets' single words, 20 dB quieter (a microphone
                                set low: a fixed floor hides more of such speech)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from lstm_asr.data import Utterance, read_manifest

PAD_S, GAP_S, QUIET_DB = 0.5, 0.4, -20.0


def write(out: Path, name: str, items: list[tuple[np.ndarray, int, Utterance]]) -> int:
    (out / "derived" / name).mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (wave, sr, u) in enumerate(items):
        rel = Path("derived") / name / f"{i:05d}.wav"
        sf.write(out / rel, wave, sr, subtype="PCM_16")
        lines.append(json.dumps({"audio": str(rel), "text": u.text, "speaker": u.speaker}) + "\n")
    (out / f"{name}.jsonl").write_text("".join(lines))
    return len(lines)


def padded(data: Path, sets: list[str]) -> list:
    items = []
    for s in sets:
        for u in read_manifest(data / f"{s}.jsonl").utterances:
            if "words" in u.extra:  # strings: only the single words are padded
                continue
            wave, sr = sf.read(u.audio, dtype="int16")
            zeros = np.zeros(int(PAD_S * sr), np.int16)
            items.append((np.concatenate([zeros, wave, zeros]), sr, u))
    return items


def quieter(data: Path, sets: list[str]) -> list:
    items = []
    for s in sets:
        for u in read_manifest(data / f"{s}.jsonl").utterances:
            wave, sr = sf.read(u.audio, dtype="int16")
            items.append((np.round(wave * 10 ** (QUIET_DB / 20)).astype(np.int16), sr, u))
    return items


def zero_gaps(data: Path, s: str) -> list:
    items = []
    for u in read_manifest(data / f"{s}.jsonl").utterances:
        wave, sr = sf.read(u.audio, dtype="int16")
        gap = np.zeros(int(GAP_S * sr), np.int16)
        pieces = [gap]
        for w in u.extra["words"]:
            pieces += [wave[int(w["start"] * sr): int(w["end"] * sr)], gap]
        items.append((np.concatenate(pieces), sr, u))
    return items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/digits-commands", help="prepare.py's output folder")
    a = ap.parse_args()
    data = Path(a.data)
    if not (data / "dev.jsonl").exists():
        sys.exit(f"error: {data}/dev.jsonl: missing; run recipes/digits-commands/prepare.py first")
    counts = {
        "dev_pad": write(data, "dev_pad", padded(data, ["dev"])),
        "test_pad": write(data, "test_pad", padded(data, ["test_sc_digits", "test_sc_commands"])),
        "dev_seq_zero": write(data, "dev_seq_zero", zero_gaps(data, "dev_sc_seq")),
        "test_seq_zero": write(data, "test_seq_zero", zero_gaps(data, "test_sc_seq")),
        "dev_quiet": write(data, "dev_quiet", quieter(data, ["dev"])),
        "test_quiet": write(data, "test_quiet", quieter(data, ["test_sc_digits", "test_sc_commands"])),
    }
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
