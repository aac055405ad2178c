"""The earlier streaming variant's training mix (streaming_finetune.sh): more connected strings,
fewer single words.

A latency-controlled model must learn to read words across its chunk edges, which happens in
strings (single words fit in its first window), so its fine-tuning set is string-heavy: the
recipe's strings, as many again made the same way (other draws, training speakers only), and
every other single word of Speech Commands and every third of FSDD.

    python recipes/digits-commands/streaming_data.py [--data data/digits-commands]

Writes sc_seq_train2.jsonl, fsdd_seq_train2.jsonl, sc_train_half.jsonl and fsdd_train_third.jsonl
beside the recipe's manifests (prepare.py makes those first).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from lstm_asr.data import make_sequences, read_manifest, write_manifest  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="data/digits-commands", help="prepare.py's output directory")
    ap.add_argument("--seed", type=int, default=100)
    a = ap.parse_args()
    data = Path(a.data)
    if not (data / "sc_train.jsonl").is_file():
        sys.exit(f"error: {data}: no sc_train.jsonl (run recipes/digits-commands/prepare.py first)")

    def utts(name):
        return read_manifest(data / f"{name}.jsonl").utterances

    def strings(name, source, n, hi, seed):
        rows = make_sequences(source, data / "seq" / name, n, min_words=2, max_words=hi, seed=seed, prefix=name)
        return [{**r, "audio": f"seq/{name}/{r['audio']}"} for r in rows]

    def rows(us):
        return [{"audio": str(u.audio), "text": u.text, "speaker": u.speaker,
                 **({"duration": u.duration} if u.duration is not None else {})} for u in us]

    sc, fsdd = utts("sc_train"), utts("fsdd_train")
    write_manifest(data / "sc_seq_train2.jsonl", strings("sc_train2", sc, len(utts("sc_seq_train")), 4, a.seed))
    write_manifest(data / "fsdd_seq_train2.jsonl", strings("fsdd_train2", fsdd, len(utts("fsdd_seq_train")), 7, a.seed + 1))
    write_manifest(data / "sc_train_half.jsonl", rows(sc[::2]))
    write_manifest(data / "fsdd_train_third.jsonl", rows(fsdd[::3]))
    print(f"{data}: sc_seq_train2, fsdd_seq_train2, sc_train_half ({len(sc[::2])}), fsdd_train_third ({len(fsdd[::3])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
