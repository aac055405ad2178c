"""`lstm-asr`: the command line. Each subcommand is a thin layer over the library."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

EPILOG = """examples:
  lstm-asr transcribe samples/*.wav                 one transcript per file (bundled default model)
  lstm-asr transcribe --words "yes no" clip.wav     only these words (of the model's twenty)
  lstm-asr transcribe -o out -f srt clip.wav        out/clip.srt: subtitles from word timestamps
  cat clip.wav | lstm-asr transcribe -              standard input
  lstm-asr transcribe --json clip.flac              {"audio": ..., "text": ..., "duration": ...}
  lstm-asr transcribe --words "one two three" clip.wav   only these words (beam search)
  lstm-asr transcribe --json --nbest 3 clip.wav     word timestamps/confidences and the 3 best texts
  lstm-asr transcribe --json hour.flac              long audio: one JSON line per segment (start, end)
  lstm-asr lm build corpus.txt -o lm.arpa           n-gram LM for --lm (with --alpha, --beta)
  lstm-asr evaluate --manifest test.jsonl           WER, CER, sentence accuracy, real-time factor
  lstm-asr train --config recipes/digits/config.yaml --out runs/digits
  lstm-asr train --config ... --out runs/digits --resume     continue an interrupted run
  lstm-asr train --config ... --device cuda         on a GPU (bf16 autocast); the model runs anywhere
  lstm-asr adapt --manifest me.jsonl --out models/me     fine-tune to one voice (10-50 recordings, 2 min)

Audio: any file soundfile reads (wav, flac, ogg, mp3), any sample rate, any channel count.
Manifests: JSON Lines, one {"audio": PATH, "text": TRANSCRIPT} per line, paths relative to the
manifest. Bad files are reported as 'error: PATH: reason' and the others still processed; the exit
status is 1 when anything failed."""


def _model_arg(p):
    p.add_argument("--model", "-m", default=None, metavar="NAME|DIR",
                   help="a model directory or a bundled model's name (default: digits-commands; "
                   "also bundled: digits)")


def _progress(n_items: int, args) -> bool:
    return not getattr(args, "no_progress", False) and sys.stderr.isatty() and n_items > 1


def _common(p):
    """Options every subcommand takes, before or after its name."""
    p.add_argument("--threads", type=int, default=argparse.SUPPRESS, metavar="N",
                   help="CPU threads for torch (1 is best when running several jobs)")
    p.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS,
                   help="on an internal error, show the traceback (or set LSTM_ASR_DEBUG=1)")


def _decoding_args(p, nbest: bool = True):
    g = p.add_argument_group("decoding (default: the model's own, from its config.json)")
    g.add_argument("--greedy", action="store_true", help="plain greedy CTC decoding (ignore the model's default)")
    g.add_argument("--beam", type=int, default=None, metavar="N",
                   help="prefix beam search with N beams (default: 8 with a word list, LM, hotword or n-best)")
    g.add_argument("--lm", default=None, metavar="ARPA", help="n-gram word LM (ARPA; build one with `lstm-asr lm build`)")
    g.add_argument("--alpha", type=float, default=None, help="LM weight (default 0.5)")
    g.add_argument("--beta", type=float, default=None, help="word insertion bonus with an LM (default 1.0)")
    g.add_argument("--words", default=None, metavar='"W1 W2 ..."', help="only output these words")
    g.add_argument("--words-file", default=None, metavar="FILE", help="only output the words in FILE (whitespace separated)")
    g.add_argument("--hotword", action="append", default=None, metavar="WORD[:BONUS]",
                   help="boost a word that must not be missed (bonus in log units, default 3; repeatable)")
    if nbest:
        g.add_argument("--nbest", type=int, default=None, metavar="K", help="also give the K best transcripts (--json)")


def _apply_decoding(rec, args) -> None:
    """The model's default decoder, or greedy with --greedy, with the given flags on top."""
    import dataclasses
    from pathlib import Path

    from .errors import ConfigError
    from .transcribe import DecodeOptions
    opts = DecodeOptions() if args.greedy else dataclasses.replace(rec.default_options)
    if args.words_file:
        try:
            opts.words = Path(args.words_file).read_text(encoding="utf-8").split()
        except OSError as e:
            raise ConfigError(f"{args.words_file}: cannot read word list ({e.strerror})") from None
    if args.words:
        opts.words = (opts.words if args.words_file else []) + args.words.split()
    if args.hotword:
        opts.hotwords = {}
        for item in args.hotword:
            word, _, bonus = item.partition(":")
            try:
                opts.hotwords[word] = float(bonus) if bonus else DecodeOptions.HOTWORD_BONUS
            except ValueError:
                raise ConfigError(f"--hotword {item}: the bonus must be a number") from None
    if args.lm:
        if not Path(args.lm).is_file():
            raise ConfigError(f"{args.lm}: no such LM file")
        opts.lm = args.lm
    for flag, field in (("beam", "beam_size"), ("alpha", "alpha"), ("beta", "beta"), ("nbest", "nbest")):
        if getattr(args, flag, None) is not None:
            setattr(opts, field, getattr(args, flag))
    rec.set_decoding(opts)


def _json_line(path, t, long: bool) -> str:
    obj = {"audio": path, "text": t.text}
    if long:
        obj.update(start=round(t.start, 3), end=round(t.end, 3))
    else:
        obj["duration"] = round(t.duration, 3)
    if t.words:
        obj["words"] = t.words
    if t.nbest:
        obj["nbest"] = t.nbest
    return json.dumps(obj, ensure_ascii=False)


def cmd_transcribe(args) -> int:
    from tqdm import tqdm

    from . import load_model
    from .errors import AudioError, ConfigError
    from .output import FORMATS, write_outputs
    from .segment import duration_of
    formats = list(FORMATS) if args.output_format == "all" else [args.output_format]
    if args.paths.count("-") > 1:
        raise ConfigError("'-' (standard input) can be given once")
    rec = load_model(args.model, args.device)
    _apply_decoding(rec, args)
    failed = 0
    for path in tqdm(args.paths, desc="transcribing", unit="file", disable=not _progress(len(args.paths), args),
                     leave=False):
        try:
            with _readable(path) as source:
                total = duration_of(source)
                if total > args.long_over:
                    segments = _transcribe_long(rec, path, source, total, args)
                else:
                    segments = [rec.transcribe(source)]
                    print(_json_line(path, segments[0], long=False) if args.json else
                          f"{path}\t{segments[0].text}" if args.with_names else segments[0].text, flush=True)
        except AudioError as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            failed += 1
            continue
        if args.output_dir:
            write_outputs(segments, path, args.output_dir, formats)
    return 1 if failed else 0


class _readable:
    """``with _readable(path) as p``: ``p`` is ``path``, or for ``-`` a temporary copy of standard
    input (errors then name ``-``)."""

    def __init__(self, path: str):
        self.path, self.tmp = path, None

    def __enter__(self) -> str:
        if self.path != "-":
            return self.path
        import tempfile
        self.tmp = tempfile.NamedTemporaryFile(prefix="lstm-asr-stdin-", delete=False)
        self.tmp.write(sys.stdin.buffer.read())
        self.tmp.close()
        return self.tmp.name

    def __exit__(self, kind, err, tb):
        if self.tmp is not None:
            os.unlink(self.tmp.name)
            from .errors import AudioError
            if isinstance(err, AudioError):
                raise AudioError("-", err.reason.replace(self.tmp.name, "-")) from None
        return False


def _transcribe_long(rec, path: str, source: str, total: float, args) -> list:
    """A long file: segments streamed out as they are recognised (JSON: one line per segment)."""
    from tqdm import tqdm

    bar = tqdm(total=round(total), desc=path, unit="s", disable=not _progress(2, args), leave=False)
    done = [0.0]

    def step(t):
        bar.update(round(t) - round(done[0]))
        done[0] = t
    segments = []
    for seg in rec.transcribe_long(source, max_seconds=args.max_segment, progress=step):
        segments.append(seg)
        if args.json:
            bar.clear()
            print(_json_line(path, seg, long=True), flush=True)
    bar.close()
    if not args.json:
        text = " ".join(s.text for s in segments)
        print(f"{path}\t{text}" if args.with_names else text, flush=True)
    return segments


def cmd_evaluate(args) -> int:
    from tqdm import tqdm

    from . import load_model
    from .audio import SAMPLE_RATE, load_audio
    from .data import read_manifest
    from .errors import AudioError
    from .metrics import cer, sentence_accuracy, utterance_errors, wer
    rec = load_model(args.model, args.device)
    _apply_decoding(rec, args)
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
    audio_s = sum(len(w) for w in waves) / SAMPLE_RATE
    ranked = sorted(range(len(utts)), key=lambda i: -utterance_errors(refs[i], hyps[i]))
    worst = [{"audio": str(utts[i].audio), "ref": refs[i], "hyp": hyps[i]}
             for i in ranked[: args.worst] if refs[i].split() != hyps[i].split()]
    res = {"wer": wer(refs, hyps), "cer": cer(refs, hyps), "sent_acc": sentence_accuracy(refs, hyps),
           "rtf": seconds / audio_s, "n": len(utts), "failed": failed, "audio_seconds": round(audio_s, 2),
           "worst": worst}
    if args.save_hyps:
        from .data import write_manifest
        write_manifest(args.save_hyps, [{"audio": str(u.audio), "ref": r, "hyp": h, "speaker": u.speaker}
                                        for u, r, h in zip(utts, refs, hyps)])
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
                      ("device", "train.device"),
                      ("max_minutes", "train.max_minutes"), ("on_bad_line", "train.on_bad_line")):
        if getattr(args, flag) is not None:
            overrides.append(f"{key}={getattr(args, flag)}")
    if args.threads:
        overrides.append(f"train.threads={args.threads}")
    cfg = RunConfig.load(args.config, overrides)
    best = train(cfg, resume=args.resume, progress=not args.no_progress, force=args.force,
                 log=lambda m: print(m, file=sys.stderr, flush=True))
    print(best)
    return 0


def cmd_adapt(args) -> int:
    from .adapt import adapt
    out = adapt(args.model, args.manifest, args.out, minutes=args.minutes, epochs=args.epochs, lr=args.lr,
                device=args.device, threads=args.threads or 1, progress=not args.no_progress,
                log=lambda m: print(m, file=sys.stderr, flush=True))
    print(out)
    return 0


def cmd_lm_build(args) -> int:
    from pathlib import Path

    from .errors import ConfigError
    from .lm import build_arpa, save_arpa
    from .text import normalize_text
    try:
        lines = Path(args.corpus).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{args.corpus}: cannot read corpus ({e})") from None
    sentences = [t for t in (normalize_text(line) for line in lines) if t]
    if not sentences:
        raise ConfigError(f"{args.corpus}: no sentences")
    save_arpa(build_arpa(sentences, order=args.order), args.output)
    print(f"{args.output}: order {args.order}, {len(sentences)} sentences", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lstm-asr", description="Speech recognition with LSTM/GRU/RNN models "
                                "and CTC: transcribe audio, evaluate on a manifest, train a model.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"lstm-asr {__import__('lstm_asr').__version__}")
    _common(p)
    p.set_defaults(threads=None, verbose=False)  # the subcommands' copies leave these alone unless given
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    _common(common)

    t = sub.add_parser("transcribe", parents=[common], help="audio files -> text, one line per file",
                       description="Transcribe audio files: one line per file (or one JSON object with --json).")
    _model_arg(t)
    t.add_argument("paths", nargs="+", metavar="PATH", help="audio files; - reads one file from standard input")
    t.add_argument("--json", action="store_true", help='one {"audio", "text", "duration"} object per line')
    t.add_argument("--with-names", action="store_true", help="prefix each transcript with its file and a tab")
    t.add_argument("--long-over", type=float, default=30.0, metavar="SECONDS",
                   help="files longer than this are streamed and cut at pauses (default 30); with --json one "
                   "line per segment with its start and end")
    t.add_argument("--max-segment", type=float, default=20.0, metavar="SECONDS",
                   help="longest segment of a long file (default 20)")
    t.add_argument("--device", default=None, metavar="auto|cpu|cuda", help="where the model runs (default cpu)")
    t.add_argument("--output-dir", "-o", default=None, metavar="DIR",
                   help="also write one file per input into DIR (named after the input; stdin: 'stdin')")
    t.add_argument("--output-format", "-f", default="txt", choices=["txt", "json", "srt", "vtt", "all"],
                   help="format of the files in --output-dir (default txt; srt/vtt: subtitles from word times)")
    t.add_argument("--no-progress", action="store_true")
    _decoding_args(t)
    t.set_defaults(func=cmd_transcribe)

    e = sub.add_parser("evaluate", parents=[common], help="WER/CER/accuracy/RTF on a manifest",
                       description="Transcribe every line of a JSON Lines manifest and score it against its text.")
    _model_arg(e)
    e.add_argument("--manifest", required=True, help="JSON Lines: {\"audio\": PATH, \"text\": REF} per line")
    e.add_argument("--json", action="store_true", help="print one JSON object: wer, cer, sent_acc, rtf, n, worst")
    e.add_argument("--worst", type=int, default=5, help="how many of the worst utterances to list (default 5)")
    e.add_argument("--on-bad-line", choices=["stop", "skip"], default="skip",
                   help="a broken manifest line stops the run or is reported and skipped (default)")
    e.add_argument("--save-hyps", default=None, metavar="FILE",
                   help='write every utterance\'s {"audio", "ref", "hyp", "speaker"} to FILE (JSON Lines)')
    e.add_argument("--device", default=None, metavar="auto|cpu|cuda", help="where the model runs (default cpu)")
    e.add_argument("--no-progress", action="store_true")
    _decoding_args(e, nbest=False)
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("train", parents=[common], help="train a model from a recipe config",
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
    r.add_argument("--force", action="store_true",
                   help="with --resume: continue even though the config (schedule, data, ...) has changed")
    r.add_argument("--device", default=None, metavar="auto|cpu|cuda",
                   help="where the model and front end run (default: the config's train.device, auto = CUDA if "
                   "present); bf16 mixed precision on CUDA; the model saved loads on any device")
    r.add_argument("--no-progress", action="store_true", help="no progress bar (one line per epoch)")
    r.set_defaults(func=cmd_train)

    ad = sub.add_parser("adapt", parents=[common], help="fine-tune a model to one voice from a few of its recordings",
                        description="Adapt a model to one speaker: fine-tune it on a handful (10-50) of that "
                        "person's recordings for a couple of minutes and write a new model directory.",
                        epilog="example:\n  lstm-asr adapt --manifest me.jsonl --out models/me --minutes 2\n"
                        "  lstm-asr transcribe --model models/me clip.wav",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    _model_arg(ad)
    ad.add_argument("--manifest", required=True, help='JSON Lines: {"audio": PATH, "text": WORDS} per recording')
    ad.add_argument("--out", required=True, metavar="DIR", help="the adapted model directory to write")
    ad.add_argument("--minutes", type=float, default=2.0, help="wall-time budget (default 2)")
    ad.add_argument("--epochs", type=int, default=40, help="passes over the recordings at most (default 40)")
    ad.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    ad.add_argument("--device", default="auto", metavar="auto|cpu|cuda",
                    help="where to train (default auto: CUDA when there is one)")
    ad.add_argument("--no-progress", action="store_true", help="no progress bar")
    ad.set_defaults(func=cmd_adapt)

    lm = sub.add_parser("lm", parents=[common], help="n-gram language models", description="Build an ARPA n-gram word LM "
                        "(interpolated modified Kneser-Ney) for beam search with --lm.")
    lm_sub = lm.add_subparsers(dest="lm_command", metavar="ACTION", required=True)
    b = lm_sub.add_parser("build", parents=[common], help="corpus.txt (one sentence per line) -> lm.arpa")
    b.add_argument("corpus", help="text file, one sentence per line (normalised like transcripts)")
    b.add_argument("-o", "--output", required=True, help="ARPA file to write")
    b.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    b.set_defaults(func=cmd_lm_build)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from .errors import AsrError
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    verbose = args.verbose or os.environ.get("LSTM_ASR_DEBUG", "") not in ("", "0")
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
    except Exception as e:  # noqa: BLE001 - a bug of ours: one line, the traceback only when asked for
        if verbose:
            import traceback
            traceback.print_exc()
        print(f"error: internal error: {type(e).__name__}: {e} (please report it; --verbose shows where)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
