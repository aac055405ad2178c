"""`lstm-asr`: the command line. Each subcommand is a thin layer over the library."""
from __future__ import annotations

import argparse
import json
import sys
import time

EPILOG = """examples:
  lstm-asr transcribe samples/*.wav                 one transcript per file (bundled digits model)
  lstm-asr transcribe --json clip.flac              {"audio": ..., "text": ..., "duration": ...}
  lstm-asr evaluate --manifest test.jsonl           WER, CER, sentence accuracy, real-time factor
  lstm-asr train --config recipes/digits/config.yaml --out runs/digits
  lstm-asr train --config ... --out runs/digits --resume     continue an interrupted run

Audio: any file soundfile reads (wav, flac, ogg, mp3), any sample rate, any channel count.
Manifests: JSON Lines, one {"audio": PATH, "text": TRANSCRIPT} per line, paths relative to the
manifest. Bad files are reported as 'error: PATH: reason' and the others still processed; the exit
status is 1 when anything failed."""


def _model_arg(p):
    p.add_argument("--model", "-m", default=None, metavar="NAME|DIR",
                   help="a model directory or a bundled model's name (default: digits)")


def _progress(n_items: int, args) -> bool:
    return not getattr(args, "no_progress", False) and sys.stderr.isatty() and n_items > 1


def cmd_transcribe(args) -> int:
    from tqdm import tqdm

    from . import load_model
    from .errors import AudioError
    rec = load_model(args.model)
    failed = 0
    for path in tqdm(args.paths, desc="transcribing", unit="file", disable=not _progress(len(args.paths), args),
                     leave=False):
        try:
            result = rec.transcribe(path)
        except AudioError as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            failed += 1
            continue
        if args.json:
            print(json.dumps({"audio": path, "text": result.text, "duration": round(result.duration, 3)},
                             ensure_ascii=False), flush=True)
        else:
            print(f"{path}\t{result.text}" if args.with_names else result.text, flush=True)
    return 1 if failed else 0


def cmd_evaluate(args) -> int:
    from tqdm import tqdm

    from . import load_model
    from .audio import load_audio
    from .data import read_manifest
    from .errors import AudioError
    from .metrics import cer, sentence_accuracy, utterance_errors, wer
    rec = load_model(args.model)
    man = read_manifest(args.manifest, on_error=args.on_bad_line, check_audio=False)
    for msg in man.skipped:
        print(f"error: {msg}", file=sys.stderr)
    utts, waves, failed = [], [], len(man.skipped)
    for u in tqdm(man.utterances, desc="reading audio", disable=not _progress(len(man), args), leave=False):
        try:
            waves.append(load_audio(u.audio))
            utts.append(u)
        except AudioError as e:
            print(f"error: {e}", file=sys.stderr)
            failed += 1
    if not utts:
        print("error: no utterance could be read", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    hyps = []
    chunk = 64
    for k in tqdm(range(0, len(waves), chunk), desc="decoding", disable=not _progress(len(waves) // chunk + 1, args),
                  leave=False):
        hyps += rec.transcribe_waves(waves[k:k + chunk])
    seconds = time.perf_counter() - t0
    refs = [u.text for u in utts]
    audio_s = sum(len(w) for w in waves) / 16000
    ranked = sorted(range(len(utts)), key=lambda i: -utterance_errors(refs[i], hyps[i]))
    worst = [{"audio": str(utts[i].audio), "ref": refs[i], "hyp": hyps[i]}
             for i in ranked[: args.worst] if refs[i].split() != hyps[i].split()]
    res = {"wer": wer(refs, hyps), "cer": cer(refs, hyps), "sent_acc": sentence_accuracy(refs, hyps),
           "rtf": seconds / audio_s, "n": len(utts), "failed": failed, "audio_seconds": round(audio_s, 2),
           "worst": worst}
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
    else:
        print(f"utterances {res['n']} ({audio_s:.1f} s of audio), failed {failed}")
        print(f"WER {100 * res['wer']:.2f} %  CER {100 * res['cer']:.2f} %  "
              f"sentence accuracy {100 * res['sent_acc']:.2f} %  RTF {res['rtf']:.4f}")
        for w in worst:
            print(f"  {w['audio']}\n    ref: {w['ref']}\n    hyp: {w['hyp']}")
    return 1 if failed else 0


def cmd_train(args) -> int:
    from .train import RunConfig, train
    overrides = list(args.set or [])
    for flag, key in (("out", "train.out_dir"), ("epochs", "train.epochs"), ("seed", "train.seed"),
                      ("max_minutes", "train.max_minutes"), ("on_bad_line", "train.on_bad_line")):
        if getattr(args, flag) is not None:
            overrides.append(f"{key}={getattr(args, flag)}")
    cfg = RunConfig.load(args.config, overrides)
    best = train(cfg, resume=args.resume, progress=not args.no_progress,
                 log=lambda m: print(m, file=sys.stderr, flush=True))
    print(best)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lstm-asr", description="Speech recognition with LSTM/GRU/RNN models "
                                "and CTC: transcribe audio, evaluate on a manifest, train a model.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"lstm-asr {__import__('lstm_asr').__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("transcribe", help="audio files -> text, one line per file",
                       description="Transcribe audio files: one line per file (or one JSON object with --json).")
    _model_arg(t)
    t.add_argument("paths", nargs="+", metavar="PATH", help="audio files")
    t.add_argument("--json", action="store_true", help='one {"audio", "text", "duration"} object per line')
    t.add_argument("--with-names", action="store_true", help="prefix each transcript with its file and a tab")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=cmd_transcribe)

    e = sub.add_parser("evaluate", help="WER/CER/accuracy/RTF on a manifest",
                       description="Transcribe every line of a JSON Lines manifest and score it against its text.")
    _model_arg(e)
    e.add_argument("--manifest", required=True, help="JSON Lines: {\"audio\": PATH, \"text\": REF} per line")
    e.add_argument("--json", action="store_true", help="print one JSON object: wer, cer, sent_acc, rtf, n, worst")
    e.add_argument("--worst", type=int, default=5, help="how many of the worst utterances to list (default 5)")
    e.add_argument("--on-bad-line", choices=["stop", "skip"], default="skip",
                   help="a broken manifest line stops the run or is reported and skipped (default)")
    e.add_argument("--no-progress", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("train", help="train a model from a recipe config",
                       description="Train from a YAML config (see recipes/*/config.yaml). Writes RUN/best (the "
                       "model), RUN/last (resumable checkpoint), RUN/curves.csv and RUN/curves.png.")
    r.add_argument("--config", required=True, help="YAML config: features, model, augment, train sections")
    r.add_argument("--out", default=None, help="run directory (overrides train.out_dir)")
    r.add_argument("--epochs", type=int, default=None)
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--max-minutes", type=float, default=None, help="stop after this much training time")
    r.add_argument("--on-bad-line", choices=["stop", "skip"], default=None,
                   help="a broken manifest line stops training (default) or is skipped and counted")
    r.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override any config value, e.g. --set model.cell=gru (repeatable)")
    r.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    r.add_argument("--no-progress", action="store_true", help="no progress bar (one line per epoch)")
    r.set_defaults(func=cmd_train)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from .errors import AsrError
    try:
        return args.func(args)
    except AsrError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted" + (" (continue with --resume)" if args.command == "train" else ""),
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - a bug of ours: still one line, no traceback
        print(f"error: internal error: {type(e).__name__}: {e} (please report it)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
