"""The prefix beam search's speed before and after, and what skipping blank frames changes.

    .venv/bin/python benchmarks/decoder_speed.py [--model digits-commands] [--before cc5fe7e]
        [--sets test|dev|none]

1. Speed. The input of `make bench` (the bundled samples joined with 0.3 s pauses to 60 s) goes
   through the model once; its posteriors (each speech segment's) are then decoded by the model's
   own decoder settings with: the decoder as it was at git revision ``--before`` (its
   ``decoding.py``, read with ``git show``), this tree's decoder with ``skip_blank=None`` (every
   frame) and this tree's decoder as shipped. CPU time of the process (``time.process_time``),
   median of 7 after a warm-up, torch on 1 thread; also the whole ``transcribe`` of that file.
2. Transcripts. Every utterance of the digits-commands recipe's test (or dev) manifests, with the
   model's own decoder (its 20 words), every frame against as shipped: how many transcripts differ,
   and the WER of each.

Appends one JSON line to benchmarks/results/decoder_speed.jsonl, writes the Markdown summary to
benchmarks/results/decoder_speed.md and prints it.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench import make_long_audio  # noqa: E402
from lstm_asr import decoding, load_model  # noqa: E402
from lstm_asr.data import read_manifest  # noqa: E402
from lstm_asr.metrics import wer  # noqa: E402

SETS = {"test": ["test_sc_digits", "test_fsdd", "test_sc_seq", "test_fsdd_seq", "test_sc_strings",
                 "test_sc_commands", "test_sc_other"],
        "dev": ["dev", "dev_sc_seq", "dev_sc_strings", "dev_sc_other"]}


def old_decoding(rev: str):
    """The decoding module at git revision ``rev``, loaded under another name."""
    src = subprocess.run(["git", "show", f"{rev}:src/lstm_asr/decoding.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "decoding_before.py"
    path.write_text(src.replace("from .", "from lstm_asr."))
    spec = importlib.util.spec_from_file_location("lstm_asr_decoding_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def segment_posteriors(rec, wav: Path) -> list[np.ndarray]:
    """The (T, V) log-probabilities the decoder is fed for each speech segment of ``wav``."""
    fed = []
    accept = decoding.BeamSearchDecoder.accept

    def keep(self, lp):
        fed.append(decoding._as_numpy(lp))
        return accept(self, lp)
    decoding.BeamSearchDecoder.accept = keep
    try:
        rec.transcribe(str(wav))
    finally:
        decoding.BeamSearchDecoder.accept = accept
    return fed


def cpu_time(fn, repeats: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def speed(rec, before) -> dict:
    wav = Path(tempfile.mkdtemp()) / "rtf.wav"
    seconds = make_long_audio(60.0, wav)
    lps = segment_posteriors(rec, wav)
    base = rec.decoder()  # the model's own settings: beam, word list, lexicon

    def decode(cls, **kw):
        def run():
            for lp in lps:
                d = cls(rec.vocab, beam_size=base.beam_size, words=list(dict.fromkeys(base._words.values()))
                        if base._words else None, lexicon=base.lexicon, **kw)
                d.accept(lp)
                d.finalize()
        return run
    frames = sum(len(lp) for lp in lps)
    out = {"audio_s": seconds, "frames": frames,
           "before_s": cpu_time(decode(before.BeamSearchDecoder)),
           "every_frame_s": cpu_time(decode(decoding.BeamSearchDecoder, skip_blank=None)),
           "shipped_s": cpu_time(decode(decoding.BeamSearchDecoder)),
           "transcribe_s": cpu_time(lambda: rec.transcribe(str(wav)), repeats=5)}
    quiet = np.concatenate([lp[:, rec.vocab.blank] >= np.log(decoding.SKIP_BLANK) for lp in lps])
    out["frames_skipped"] = int(np.sum(quiet[1:] & quiet[:-1]))  # segment joins ignored
    return out


def transcripts(rec, model: str, names: list[str]) -> list[dict]:
    """``rec`` as shipped against a second recognizer of ``model`` whose beam search decodes every
    frame. (A recognizer keeps the decoder it built for its options and forks it for each segment,
    so the every-frame one must be built, and only ever used, under the patch.)"""
    init = decoding.BeamSearchDecoder.__init__

    def every_frame(self, *a, **kw):
        kw.setdefault("skip_blank", None)
        init(self, *a, **kw)
    exact_rec = load_model(model)
    assert rec.decoder()._skip_logp < 0  # built (or forked) outside the patch: it skips
    decoding.BeamSearchDecoder.__init__ = every_frame
    try:
        assert exact_rec.decoder()._skip_logp == math.inf  # built under the patch: every frame
    finally:
        decoding.BeamSearchDecoder.__init__ = init
    rows = []
    for name in names:
        manifest = ROOT / "data" / "digits-commands" / f"{name}.jsonl"
        if not manifest.exists():
            print(f"{manifest}: missing (recipes/digits-commands/prepare.py makes it); skipped", file=sys.stderr)
            continue
        utts = read_manifest(manifest).utterances
        paths = [str(u.audio) for u in utts]
        refs = [u.text for u in utts]
        shipped = [t.text for _, t in rec.transcribe_many(paths)]
        decoding.BeamSearchDecoder.__init__ = every_frame
        try:
            exact = [t.text for _, t in exact_rec.transcribe_many(paths)]
        finally:
            decoding.BeamSearchDecoder.__init__ = init
        rows.append({"set": name, "n": len(refs), "changed": sum(a != b for a, b in zip(shipped, exact)),
                     "wer_every_frame": round(wer(refs, exact), 4), "wer_shipped": round(wer(refs, shipped), 4)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="digits-commands")
    ap.add_argument("--before", default="cc5fe7e", help="git revision of the decoder to compare with")
    ap.add_argument("--sets", choices=["test", "dev", "none"], default="test")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    rec = load_model(a.model)
    res = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "model": a.model, "before": a.before, "skip_blank": decoding.SKIP_BLANK,
           "speed": speed(rec, old_decoding(a.before)),
           "transcripts": transcripts(rec, a.model, SETS.get(a.sets, []))}
    with open(HERE / "results" / "decoder_speed.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(res) + "\n")
    s = res["speed"]
    lines = [f"# Decoder speed\n\n`{' '.join(['.venv/bin/python', 'benchmarks/decoder_speed.py', *(argv or sys.argv[1:])])}`, "
             f"{res['date']}, {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end; "
             f"model `{a.model}`.\n",
             f"Decoding the posteriors of {s['audio_s']:.0f} s of audio ({s['frames']} frames, {s['frames_skipped']} "
             "of them blank frames after another), CPU s, 1 thread:\n",
             "| decoder | CPU s | RTF | vs before |", "|---|---:|---:|---:|"]
    for key, label in [("before_s", f"before ({a.before})"), ("every_frame_s", "now, every frame"),
                       ("shipped_s", f"now, skip_blank={decoding.SKIP_BLANK}")]:
        lines.append(f"| {label} | {s[key]:.4f} | {s[key] / s['audio_s']:.5f} | {s['before_s'] / s[key]:.2f}x |")
    lines.append(f"\nWhole `transcribe` (PyTorch fp32) of the same file: {s['transcribe_s']:.3f} s, RTF "
                 f"{s['transcribe_s'] / s['audio_s']:.4f}; the decoder's share {s['shipped_s'] / s['transcribe_s']:.0%} "
                 f"(before: {s['before_s'] / (s['transcribe_s'] - s['shipped_s'] + s['before_s']):.0%}).")
    if res["transcripts"]:
        lines += ["\nEvery frame against as shipped, the model's own decoder (its 20 words) on every set:\n",
                  "| set | n | transcripts changed | WER every frame | WER shipped |", "|---|---:|---:|---:|---:|"]
        for r in res["transcripts"]:
            lines.append(f"| {r['set']} | {r['n']} | {r['changed']} | {100 * r['wer_every_frame']:.1f} | "
                         f"{100 * r['wer_shipped']:.1f} |")
    text = "\n".join(lines) + "\n"
    (HERE / "results" / "decoder_speed.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
