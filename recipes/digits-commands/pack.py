"""Pack manifests' audio small enough to travel to a GPU machine (or anywhere without ../shared).

    python recipes/digits-commands/pack.py --out pack data/digits-commands/sc_train.jsonl ...
    python recipes/digits-commands/pack.py --unpack pack --out unpacked    # there: clips again

Each manifest's clips become one 8 kHz Ogg Vorbis file, OUT/NAME.ogg (the model's front end reads
20-3900 Hz, so 8 kHz keeps all it uses; one file per manifest, because Vorbis' headers cost
about 4 kB a file, more than a short clip), and OUT/NAME.jsonl lists each clip's ``offset`` and
``samples`` in it with the same text, speaker and other fields. ``--noise FILE...`` packs noise
files alike (OUT/noise.ogg). ``--unpack`` cuts them into 8 kHz WAV files with manifests beside.
About 2 kB per second of audio.
"""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from lstm_asr.audio import SAMPLE_RATE, load_audio, resample
from lstm_asr.data import Utterance, read_manifest

RATE = 8000


def load_8k(path: str) -> np.ndarray:
    return resample(load_audio(path), SAMPLE_RATE, RATE)


def write_ogg(path: Path, wave: np.ndarray, block: int = 8192) -> None:
    """Vorbis, written a block at a time (libsndfile 1.2 crashes on one large write)."""
    with sf.SoundFile(path, "w", RATE, 1, format="OGG", subtype="VORBIS", compression_level=0.9) as f:
        for k in range(0, len(wave), block):
            f.write(wave[k:k + block])


def pack(manifests: list[str], noise: list[str], out: Path, workers: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    groups = [(Path(m).stem, read_manifest(m).utterances) for m in manifests]
    if noise:
        groups.append(("noise", [Utterance(Path(n), "", speaker=None) for n in noise]))
    seconds = 0.0
    with ProcessPoolExecutor(workers) as ex:
        for name, utts in groups:
            waves = list(ex.map(load_8k, [str(u.audio) for u in utts], chunksize=32))
            rows, offset = [], 0
            for u, w in zip(utts, waves):
                rows.append({**(u.extra or {}), "audio": f"{name}.ogg", "text": u.text, "speaker": u.speaker,
                             "offset": offset, "samples": len(w)})
                offset += len(w)
            seconds += offset / RATE
            write_ogg(out / f"{name}.ogg", np.concatenate(waves))
            (out / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                               encoding="utf-8")
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    return {"clips": sum(len(u) for _, u in groups), "hours": round(seconds / 3600, 3), "mib": round(size / 2**20, 1)}


def unpack(src: Path, out: Path) -> dict:
    n = 0
    for table in sorted(src.glob("*.jsonl")):
        name = table.stem
        wave, rate = sf.read(src / f"{name}.ogg", dtype="float32")
        (out / name).mkdir(parents=True, exist_ok=True)
        rows = []
        for k, line in enumerate(table.read_text(encoding="utf-8").splitlines()):
            r = json.loads(line)
            clip = wave[r.pop("offset"):][:r.pop("samples")]
            r["audio"] = f"{name}/{k:06d}.wav"
            sf.write(out / r["audio"], clip, rate, subtype="PCM_16")
            rows.append(r)
            n += 1
        (out / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                           encoding="utf-8")
    return {"clips": n}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("manifests", nargs="*")
    p.add_argument("--out", required=True)
    p.add_argument("--noise", nargs="*", default=[])
    p.add_argument("--unpack", default=None, metavar="PACKED_DIR")
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    result = unpack(Path(a.unpack), Path(a.out)) if a.unpack else pack(a.manifests, a.noise, Path(a.out), a.workers)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
