"""PocketSphinx 5 with a JSGF word-list grammar, scored on the manifests `lstm-asr evaluate` reads.

A reference point for our own models: the same unseen-speaker test sets, decoded by CMU PocketSphinx
(its bundled US-English acoustic model and CMUdict) with a grammar that allows only the given words.

    .venv/bin/pip install pocketsphinx        # benchmark-only dependency, nothing fetched at run time
    .venv/bin/python benchmarks/pocketsphinx_bench.py --manifest data/digits-commands/test_sc_digits.jsonl
    .venv/bin/python benchmarks/pocketsphinx_bench.py --sequence --json \\
        --manifest data/digits-commands/test_fsdd_seq.jsonl --words "zero one two three four five six seven eight nine"

Grammar: without --sequence exactly one word of --words, with --sequence one or more. Audio (any
rate, any channel count) is mixed to mono, resampled to 16 kHz with soxr and fed as int16, one
utterance per file (full_utt=True: cepstral mean over the whole file). Per manifest it prints n,
sentence accuracy (hypothesis == reference after lower-casing and whitespace normalisation), WER
(jiwer, over the whole manifest) and RTF (decoding seconds / audio seconds; reading and resampling
not counted). With --json, sent_acc and wer are fractions as in `lstm-asr evaluate --json`. A file
that cannot be read is reported as `error: PATH: reason` on stderr and counted as wrong (empty
hypothesis), unlike `lstm-asr evaluate`, which leaves it out of n.
"""
import argparse
import json
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path

import jiwer
import numpy as np
import soundfile as sf
import soxr

RATE = 16000
DEFAULT_WORDS = "zero one two three four five six seven eight nine yes no up down left right on off stop go"

# Pinned: 16 kHz input, whole-file cepstral mean, beams, language weight, word insertion penalty (5.1 defaults,
# written out so a new release cannot move them); no n-gram LM, the grammar is the only search; and bestpath off,
# unlike 5.x's default: lattice rescoring of a grammar search returned an empty text for 33 of 376 Speech Commands
# words here (sentence accuracy 75.5 % vs 82.7 %) and made word loops 16x slower (cmusphinx/pocketsphinx#318).
SETTINGS = {"samprate": RATE, "cmn": "batch", "lw": 6.5, "wip": 0.65, "beam": 1e-48, "wbeam": 7e-29, "pbeam": 1e-48,
            "bestpath": False, "lm": None, "loglevel": "ERROR"}


def system() -> str:
    return f"pocketsphinx {version('pocketsphinx')} jsgf"


def make_decoder(words: list[str], sequence: bool) -> "Decoder":
    """The grammar decoder; pocketsphinx is imported here, so this module's readers and
    scorers work without it (ImportError when it is missing)."""
    from pocketsphinx import Decoder, get_model_path
    model = get_model_path()
    dec = Decoder(hmm=os.path.join(model, "en-us", "en-us"), dict=os.path.join(model, "en-us", "cmudict-en-us.dict"),
                  **SETTINGS)
    missing = [w for w in words if dec.lookup_word(w) is None]
    if missing:
        sys.exit(f"error: not in the PocketSphinx dictionary: {' '.join(missing)}")
    top = "public <s> = <w>+ ;" if sequence else "public <s> = <w> ;"
    dec.add_jsgf_string("words", f"#JSGF V1.0;\ngrammar words;\n<w> = {' | '.join(words)} ;\n{top}\n")
    dec.activate_search("words")
    return dec


def read_manifest(path: Path) -> list[tuple[Path, str]]:
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            audio = Path(row["audio"])
            rows.append((audio if audio.is_absolute() else path.parent / audio, str(row["text"])))
        except (ValueError, KeyError, TypeError) as e:
            print(f"error: {path}:{i}: bad manifest line ({e!r})", file=sys.stderr)
    return rows


def load_16k_int16(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != RATE:
        x = soxr.resample(x, sr, RATE)
    return (np.clip(x, -1.0, 1.0) * 32767).astype(np.int16)


def decode(dec: "Decoder", pcm: np.ndarray) -> str:
    dec.start_utt()
    dec.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
    dec.end_utt()
    hyp = dec.hyp()
    return hyp.hypstr if hyp is not None else ""


def norm(s: str) -> str:
    return " ".join(s.lower().split())


def bench(dec: "Decoder", manifest: Path) -> dict:
    refs, hyps, dec_s, audio_s, failed = [], [], 0.0, 0.0, 0
    for audio, text in read_manifest(manifest):
        hyp = ""
        try:
            pcm = load_16k_int16(audio)
            t0 = time.perf_counter()
            hyp = decode(dec, pcm)
            dec_s += time.perf_counter() - t0
            audio_s += len(pcm) / RATE
        except Exception as e:  # a bad file is counted wrong, the run goes on
            print(f"error: {audio}: {e}", file=sys.stderr)
            failed += 1
        refs.append(norm(text))
        hyps.append(norm(hyp))
    n = len(refs)
    return {"manifest": str(manifest), "n": n, "failed": failed,
            "sent_acc": sum(r == h for r, h in zip(refs, hyps)) / n if n else 0.0,
            "wer": jiwer.wer(refs, hyps) if n else 0.0,
            "rtf": dec_s / audio_s if audio_s else 0.0, "system": system()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--manifest", action="append", required=True, type=Path, help="JSON Lines; repeatable")
    p.add_argument("--words", default=DEFAULT_WORDS, help="the grammar's words, space-separated")
    p.add_argument("--sequence", action="store_true", help="one or more words per utterance (default: exactly one)")
    p.add_argument("--json", action="store_true", help="one JSON object per manifest")
    args = p.parse_args(argv)
    words = list(dict.fromkeys(args.words.lower().split()))
    dec = make_decoder(words, args.sequence)
    if not args.json:
        print(f"{system()}, {'one or more' if args.sequence else 'exactly one'} of {len(words)} words, {SETTINGS}")
    bad = 0
    for m in args.manifest:
        try:
            r = bench(dec, m)
        except OSError as e:
            print(f"error: {m}: {e}", file=sys.stderr)
            bad += 1
            continue
        bad += r["failed"]
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            print(f"{m}: n {r['n']} (failed {r['failed']})  sentence accuracy {100 * r['sent_acc']:.2f} %  "
                  f"WER {100 * r['wer']:.2f} %  RTF {r['rtf']:.4f}", flush=True)
    return 1 if bad else 0  # like `lstm-asr evaluate`: 1 when a file or manifest could not be read


if __name__ == "__main__":
    sys.exit(main())
