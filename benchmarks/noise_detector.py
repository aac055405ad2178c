"""Who loses the words in noise, the speech detector or the model? And PocketSphinx on the same mixes.

    .venv/bin/python benchmarks/noise_detector.py [--model digits-commands] [--snr clean,20,10,5,0]

For each noise kind of benchmarks/robustness.sh (run that first: it builds the test manifest and
the noises under /tmp/lstm-asr-robustness) and each SNR, every utterance is mixed exactly as
`lstm-asr evaluate --noise DIR --snr S --seed 0` mixes it (the same lstm_asr.evaluate code), then
read three ways:

- **pipeline**: `Recognizer.transcribe`, the speech detector cutting segments, as every user gets;
- **whole clip**: the same model and decoder on the whole clip as one segment, no detector (the
  clips are 1 s words: what the detector could at best hand over);
- **PocketSphinx** 5 with a grammar of the model's 20 words (one word per clip), on the same samples.

WER of each; the detector's share of the pipeline's errors is (pipeline - whole clip) / pipeline.
Prints a Markdown table and appends JSON lines to benchmarks/results/noise_detector.jsonl.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="digits-commands")
    ap.add_argument("--work", default="/tmp/lstm-asr-robustness")
    ap.add_argument("--snr", default="clean,20,10,5,0")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-pocketsphinx", action="store_true")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    import lstm_asr
    from lstm_asr.audio import load_audio
    from lstm_asr.data import read_manifest
    from lstm_asr.evaluate import NoiseMixer, _noisy_sources
    from lstm_asr.metrics import wer
    from lstm_asr.segment import Segment

    work = Path(args.work)
    manifest_path = work / "test.jsonl"
    if not manifest_path.is_file():
        sys.exit(f"{manifest_path}: not found; run benchmarks/robustness.sh first")
    kinds = {"seen noise": ROOT.parent / "shared" / "data" / "noise_speech_commands_bg",
             "babble": work / "noise" / "babble", "hum + pink": work / "noise" / "hum_pink"}
    rec = lstm_asr.load_model(args.model)
    words = rec.default_options.words
    ps = None
    if not args.no_pocketsphinx:
        try:
            import pocketsphinx_bench as psb
            ps = psb.make_decoder(list(words), sequence=False)
        except ImportError as e:
            print(f"PocketSphinx left out: {e} (pip install '.[bench]')", file=sys.stderr)
    utts = read_manifest(manifest_path).utterances
    refs = [u.text for u in utts]
    waves = [load_audio(u.audio) for u in utts]
    rows = []

    def read(kind: str, snr: str, mixed: list) -> None:
        pipe = [rec.transcribe(w).text for w in mixed]
        whole = [t.text for t in rec.decode_segments([Segment(0.0, len(w) / 16000, w) for w in mixed])]
        row = {"model": args.model, "noise": kind, "snr": snr, "n": len(refs),
               "wer_pipeline": round(wer(refs, pipe), 4), "wer_whole_clip": round(wer(refs, whole), 4),
               "empty_pipeline": sum(not h for h in pipe), "empty_whole_clip": sum(not h for h in whole)}
        if ps is not None:
            hyp = [psb.decode(ps, np.clip(np.round(w * 32767), -32768, 32767).astype(np.int16)) for w in mixed]
            row["wer_pocketsphinx"] = round(wer(refs, [psb.norm(h) for h in hyp]), 4)
        row["date"] = str(datetime.date.today())
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    snrs = args.snr.split(",")
    if "clean" in snrs:
        read("none", "clean", waves)
    for kind, folder in kinds.items():
        mixer = NoiseMixer(folder, seed=args.seed)
        for snr in (s for s in snrs if s != "clean"):
            read(kind, snr, list(_noisy_sources(utts, mixer, float(snr), manifest_path)))
    out = ROOT / "benchmarks" / "results" / "noise_detector.jsonl"
    with open(out, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    print(f"Model {args.model}; WER %; n = {len(refs)} per row; seed {args.seed}.\n")
    print("| noise | SNR | pipeline (detector + model) | whole clip (model alone) | detector's share | empty outputs: pipeline / whole | PocketSphinx |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        share = (r["wer_pipeline"] - r["wer_whole_clip"]) / r["wer_pipeline"] if r["wer_pipeline"] else 0.0
        ps_cell = f"{100 * r['wer_pocketsphinx']:.1f}" if "wer_pocketsphinx" in r else "–"
        print(f"| {r['noise'] if r['snr'] != 'clean' else '–'} | {r['snr']} | {100 * r['wer_pipeline']:.1f} | "
              f"{100 * r['wer_whole_clip']:.1f} | {100 * share:.0f} % | {r['empty_pipeline']} / {r['empty_whole_clip']} | {ps_cell} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
