"""`lstm-asr`: the command line. Each subcommand is a thin layer over the library: ``cmd_NAME(args)``
calls it with the parsed options and prints what it returns; ``main`` turns the library's errors
into one line and an exit status.

Why this module is longer than 450 lines: most of it is argparse's grammar of the thirteen
subcommands and actions (``build_parser``, about 230 lines, and the example texts), every option
with its check from :mod:`.validate` and its help text. The commands themselves are short; audio
sources are in :mod:`.sources`, decoding flags become options in :mod:`.options`, evaluation's
reports in :mod:`.evaluate`, output formats in :mod:`.output`.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

from . import validate as V

EPILOG = """examples:
  lstm-asr transcribe samples/*.wav                 one transcript per file (bundled default model)
  lstm-asr transcribe --words "lights fan off" clip.wav   only these words: any English words
  lstm-asr transcribe --words "yes no" --one-word clip.wav  exactly one of them per stretch of speech
  lstm-asr transcribe -o out -f srt clip.wav        out/clip.srt: subtitles from word timestamps
  cat clip.wav | lstm-asr transcribe -              standard input
  lstm-asr transcribe --json clip.flac              {"audio": ..., "text": ..., "duration": ...}
  lstm-asr transcribe --json --nbest 3 clip.wav     word timestamps/confidences and the 3 best texts
  lstm-asr transcribe --json hour.flac              long audio: one JSON line per segment (start, end)
  lstm-asr lm build corpus.txt -o lm.arpa           n-gram LM for --lm (with --alpha, --beta)
  lstm-asr evaluate --manifest test.jsonl           WER, CER, sentence accuracy, real-time factor
  lstm-asr compare a.jsonl b.jsonl                  two runs (evaluate --save-hyps) with 95 % intervals
  lstm-asr train --config recipes/digits/config.yaml --out runs/digits
  lstm-asr train --config ... --out runs/digits --resume     continue an interrupted run
  lstm-asr train --config ... --device cuda         on a GPU (bf16 autocast); the model runs anywhere
  lstm-asr adapt --manifest me.jsonl --out models/me     fine-tune to one voice (10-50 recordings, 2 min)

Audio: any file soundfile reads (wav, flac, ogg, mp3), any sample rate, any channel count.
Manifests: JSON Lines, one {"audio": PATH, "text": TRANSCRIPT} per line, paths relative to the
manifest. Bad files are reported as 'error: PATH: reason' and the others still processed; the exit
status is 1 when anything failed."""


def _with_model(p):
    """A subcommand parser that runs a model: adds --model, returns the parser."""
    _model_arg(p)
    return p


def _model_arg(p):
    from .checkpoint import DEFAULT_MODEL, bundled_models
    others = ", ".join(m for m in bundled_models() if m != DEFAULT_MODEL) or "none"
    p.add_argument("--model", "-m", default=None, metavar="NAME|DIR",
                   help=f"a model directory or a bundled model's name (default: {DEFAULT_MODEL}; "
                   f"also bundled: {others})")


def _progress(n_items: int, args) -> bool:
    return not getattr(args, "no_progress", False) and sys.stderr.isatty() and n_items > 1


def _common(p):
    """Options every subcommand takes, before or after its name."""
    p.add_argument("--threads", type=V.arg_int(1, V.MAX_THREADS), default=argparse.SUPPRESS, metavar="N",
                   help="CPU threads for torch (1 is best when running several jobs)")
    p.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS,
                   help="on an internal error, show the traceback (or set LSTM_ASR_DEBUG=1)")


def _decoding_args(p, nbest: bool = True):
    g = p.add_argument_group("decoding (default: the model's own, from its config.json)")
    g.add_argument("--greedy", action="store_true", help="plain greedy CTC decoding (ignore the model's default)")
    g.add_argument("--beam", type=V.arg_int(1, V.MAX_BEAM), default=None, metavar="N",
                   help="prefix beam search with N beams (default: 8 with a word list, LM, hotword or n-best); "
                   "1 is greedy decoding")
    g.add_argument("--lm", default=None, metavar="ARPA", help="n-gram word LM (ARPA; build one with `lstm-asr lm build`)")
    g.add_argument("--alpha", type=V.arg_float(), default=None, help="LM weight (default 0.5)")
    g.add_argument("--beta", type=V.arg_float(), default=None, help="word insertion bonus with an LM (default 1.0)")
    g.add_argument("--words", type=V.arg_words, default=None, metavar='"W1 W2 ..."', help="only output these words (a phone model such as the default reads any English word: the CMU dictionary, a hyphenated word by its parts, else espeak-ng's guess)")
    g.add_argument("--words-file", type=V.arg_nonempty, default=None, metavar="FILE", help="only output the words in FILE (whitespace separated)")
    g.add_argument("--lexicon", type=V.arg_nonempty, default=None, metavar="FILE",
                   help="phone models: your pronunciations, lines 'WORD PH PH ...' in ARPAbet (e.g. 'kubectl K Y UW B K AH T AH L'); "
                   "other words come from the CMU dictionary or espeak-ng's guess")
    g.add_argument("--hotword", type=V.arg_hotword, action="append", default=None, metavar="WORD[:BONUS]",
                   help="boost a word that must not be missed (bonus in log units, default 3; repeatable)")
    g.add_argument("--prior-scale", type=V.arg_float(0, 1), default=None, metavar="A",
                   help="read the model's outputs divided by its unit priors to the power A (0: not; default: the "
                   "model's own; needs priors, see `lstm-asr priors`)")
    g.add_argument("--one-word", action="store_true",
                   help="each stretch of speech is exactly one word of the list (--words, or the model's own): the most "
                   "likely, by the exact CTC sum over its alignments; never empty (a voice command, an isolated word)")
    if nbest:
        g.add_argument("--nbest", type=V.arg_int(1, V.MAX_NBEST), default=None, metavar="K", help="also give the K best transcripts (--json)")


def _apply_decoding(rec, args) -> None:
    """The model's default decoder, or greedy with --greedy or --beam 1, with the given flags on top."""
    from .options import from_flags
    rec.set_decoding(from_flags(rec.default_options, greedy=args.greedy, beam_size=args.beam, lm=args.lm,
                                alpha=args.alpha, beta=args.beta, words=args.words, words_file=args.words_file,
                                lexicon=args.lexicon, hotwords=args.hotword, nbest=getattr(args, "nbest", None),
                                one_word=args.one_word, prior_scale=args.prior_scale))


def _backend_arg(p):
    p.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"], default="torch",
                   help="what runs the acoustic model: torch (default), onnx (onnxruntime on the CPU: the model "
                   "directory's model.onnx, or an export cached on first use) or onnx-int8 (dynamic int8 weights); "
                   "needs the 'export' extra")


def _load_with_backend(args):
    """load_model(--model, --device) with the acoustic model run by --backend."""
    from .export import load_model
    backend = getattr(args, "backend", "torch")
    return load_model(args.model, "torch" if backend == "torch" else "onnx", int8=backend == "onnx-int8",
                      device=getattr(args, "device", None))


def cmd_export(args) -> int:
    from . import load_model
    from .export import export_onnx
    rec = load_model(args.model)
    path = export_onnx(rec.model, args.out, int8=args.int8)
    print(f"{path}: {args.format}{' int8' if args.int8 else ''}, {os.path.getsize(path) / 1e6:.1f} MB", file=sys.stderr)
    return 0


def cmd_priors(args) -> int:
    from tqdm import tqdm
    from . import load_model
    from .data import read_manifest
    from .priors import estimate_log_priors, write_priors
    if not os.path.isdir(args.model):
        print(f"error: {args.model}: give a model directory to write into (a bundled model is read-only)", file=sys.stderr)
        return 2
    rec = load_model(args.model)
    utts = read_manifest(args.manifest, require_text=False).utterances
    n = min(args.clips, len(utts))
    with tqdm(total=n, desc="priors", unit="clip", disable=not _progress(n, args)) as bar:
        log_priors = estimate_log_priors(rec, utts, clips=args.clips, seed=args.seed,
                                         progress=lambda k: bar.update(k - bar.n))
    path = write_priors(args.model, log_priors, args.scale)
    blank = math.exp(log_priors[rec.vocab.blank])
    print(f"{path}: unit priors from {n} clips of {args.manifest} (blank {blank:.3f})"
          + (f", prior scale {args.scale}" if args.scale is not None else ""), file=sys.stderr)
    return 0


def cmd_data_import(args) -> int:
    """`lstm-asr data import KIND DIR --out MANIFEST`: usage errors (not such a corpus, an option
    the layout does not take) exit 2, a bad corpus line 1 ('error: FILE:LINE: reason')."""
    from .corpora import UsageError, import_corpus
    try:
        res = import_corpus(args.kind, args.dir, args.out, split=args.split, cut=args.cut, on_error=args.on_bad_line,
                            progress=not args.no_progress and sys.stderr.isatty(),
                            log=lambda m: print(m if m.startswith("warning:") else f"error: {m}", file=sys.stderr, flush=True))
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{res.out}: {res.rows} utterances, {res.seconds / 3600:.2f} hours"
          + (f", {res.skipped} bad lines skipped" if res.skipped else ""), file=sys.stderr)
    return 0


def cmd_transcribe(args) -> int:
    """Each file goes through the library's one pipeline (``Recognizer.transcribe``); the only
    difference for a file longer than --long-over is how it is shown: a progress bar in seconds,
    and with --json one line per speech segment as soon as it is recognised."""
    from tqdm import tqdm

    from .audio import duration_of
    from .errors import AudioError, ConfigError
    from .output import FORMATS, json_line, write_outputs
    from .sources import stdin_file
    formats = list(FORMATS) if args.output_format == "all" else [args.output_format]
    if args.paths.count("-") > 1:
        raise ConfigError("'-' (standard input) can be given once")
    rec = _load_with_backend(args)
    _apply_decoding(rec, args)
    failed = 0
    for path in tqdm(args.paths, desc="transcribing", unit="file", disable=not _progress(len(args.paths), args),
                     leave=False):
        try:
            with stdin_file(path) as source:
                total = duration_of(source)
                long = total > args.long_over
                bar = tqdm(total=round(total), desc=path, unit="s", leave=False,
                           disable=not (long and _progress(2, args)))
                shown = []

                def show(seg):
                    if long and args.json:
                        bar.clear()
                        print(json_line(path, seg, segment=True), flush=True)
                        shown.append(seg)
                t = rec.transcribe(source, max_seconds=args.max_segment, on_segment=show,
                                   progress=lambda s: bar.update(round(s) - bar.n))
                bar.close()
        except AudioError as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            failed += 1
            continue
        if not shown:  # one line per file (a long file with --json: one per segment, or this if none)
            print(json_line(path, t) if args.json else
                  f"{path}\t{t.text}" if args.with_names else t.text, flush=True)
        if args.output_dir:
            write_outputs(t.segments, path, args.output_dir, formats)
    return 1 if failed else 0


def cmd_evaluate(args) -> int:
    """Every manifest line through the same pipeline as ``transcribe`` (batched across files);
    with --noise, once per --snr condition (:mod:`lstm_asr.evaluate`)."""
    from .data import read_manifest, write_manifest
    from .evaluate import DEFAULT_SNRS, evaluate, evaluate_noisy, format_report, format_table, hyps_path, parse_snrs
    from .output import dumps
    if args.snr is not None and args.noise is None:
        print("error: --snr needs --noise DIR (the noise recordings to mix in)", file=sys.stderr)
        return 2
    rec = _load_with_backend(args)
    _apply_decoding(rec, args)
    man = read_manifest(args.manifest, on_error=args.on_bad_line, check_audio=False)
    for msg in man.skipped:
        print(f"error: {msg}", file=sys.stderr)
    on_error = lambda e: print(f"error: {e}", file=sys.stderr)  # noqa: E731
    kw = dict(max_seconds=args.max_segment, worst=args.worst, progress=_progress(len(man), args), on_error=on_error)
    noisy = args.noise is not None
    if noisy:
        if not args.json:
            print(f"noise {args.noise}, seed {args.seed}, {len(man)} utterances", flush=True)
        results = evaluate_noisy(rec, man, args.noise, args.snr or parse_snrs(DEFAULT_SNRS), seed=args.seed, **kw)
    else:
        results = [evaluate(rec, man, **kw)]
    rows = []
    for res in results:  # one per condition, as it is done
        if res is None:
            print("error: no utterance could be read", file=sys.stderr)
            return 1
        hyps = res.pop("utterances")
        if args.save_hyps:
            write_manifest(hyps_path(args.save_hyps, res["snr"]) if noisy else args.save_hyps, hyps)
        if args.json:
            print(dumps(res), flush=True)
        rows.append(res)
    if not args.json:
        print(format_table(rows) if noisy else format_report(rows[0]))
    return 1 if any(r["failed"] for r in rows) else 0


def _arg_noise_dir(s: str) -> str:
    """``type=`` for ``--noise DIR``: a folder holding audio (a usage error otherwise)."""
    from .errors import ConfigError
    from .evaluate import noise_files
    try:
        noise_files(s)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return s


def _arg_snrs(s: str) -> list:
    """``type=`` for ``--snr clean,20,10``."""
    from .evaluate import parse_snrs
    try:
        return parse_snrs(s)
    except V.Invalid as e:
        raise argparse.ArgumentTypeError(e.reason) from None


def cmd_compare(args) -> int:
    from .compare import compare, format_table, pair, read_hyps
    from pathlib import Path
    stems = [Path(args.a).stem, Path(args.b).stem]
    names = args.names or (stems if stems[0] != stems[1] else [args.a, args.b])
    a, b, by = pair(read_hyps(args.a), read_hyps(args.b), *names)
    res = compare(a, b, resamples=args.resamples, seed=args.seed)
    if args.json:
        from .output import dumps
        print(dumps({"a": names[0], "b": names[1], "by": by, **res}))
    else:
        print(format_table(res, names[0], names[1], by))
    return 0


def cmd_train(args) -> int:
    from .train import RunConfig, train
    overrides = list(args.set or [])
    for flag, key in (("out", "train.out_dir"), ("epochs", "train.epochs"), ("seed", "train.seed"),
                      ("device", "train.device"),
                      ("max_minutes", "train.max_minutes"), ("on_bad_line", "train.on_bad_line")):
        if getattr(args, flag) is not None:  # as a JSON (hence YAML) value: --out 123 stays a string
            overrides.append(f"{key}={json.dumps(getattr(args, flag))}")
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
    from .errors import ConfigError
    from .lm import build_arpa, save_arpa
    from .text import normalize_text
    lines = V.read_text(args.corpus, "corpus").splitlines()
    sentences = [t for t in (normalize_text(line) for line in lines) if t]
    if not sentences:
        raise ConfigError(f"{args.corpus}: no sentences")
    save_arpa(build_arpa(sentences, order=args.order), args.output, inputs=[args.corpus])
    print(f"{args.output}: order {args.order}, {len(sentences)} sentences", file=sys.stderr)
    return 0


def _arg_synth(check):
    """``type=`` for a synth option checked by ``check`` (ConfigError -> usage error, exit 2)."""
    def convert(s: str):
        from .errors import ConfigError
        try:
            return check(s)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix("--strings: ")) from None
    return convert


def _engine_names(s: str) -> str:
    """--engines: every name known (the engines' presence is checked when the command runs)."""
    from .synth import get_engine
    for name in filter(None, (n.strip() for n in s.split(","))):
        if name != "all":
            get_engine(name)
    return s


def _strings(s: str) -> list[tuple[str, int]]:
    from .synth import parse_strings
    return parse_strings(s)


def cmd_synth(args) -> int:
    from . import synth
    engines = synth.parse_engines(args.engines, args.language)
    if args.list_voices:
        for v in synth.list_voices(engines):
            print(json.dumps(v) if args.json else f"{v['engine']}\t{v['voice']}\t{v['licence']}")
        return 0
    from .errors import ConfigError
    texts = (args.words or "").split() + (synth.read_lines(args.text_file) if args.text_file else [])
    strings = args.strings or []
    if not texts and not strings:
        raise ConfigError("synth: give the text: --words, --text-file and/or --strings (or --list-voices)")
    if not args.out:
        raise ConfigError("synth: --out DIR is required")
    voices = synth.pick_voices(engines, args.voices, args.seed, synth.voice_list(args.exclude_voices or ""))
    if not voices:
        raise ConfigError(f"synth: no voices left of {', '.join(e.name for e in engines)}")
    jobs = synth.plan_jobs(voices, texts, strings, per_voice=args.per_voice, seed=args.seed,
                           rate_range=args.rate, pitch_range=args.pitch, max_silence_s=args.max_silence)
    failed = []
    manifest = synth.synthesize(jobs, args.out, workers=args.workers, progress=not args.no_progress,
                                log=lambda m: (failed.append(m), print(m, file=sys.stderr, flush=True)))
    print(f"{manifest}: {len(jobs) - len(failed)} clips, {len(voices)} voices of "
          f"{', '.join(sorted({e for e, _ in voices}))}" + (f", {len(failed)} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def _arg_range(lo: float, hi: float):
    """``type=`` for MIN,MAX (or one value) within lo..hi."""
    def convert(s: str) -> tuple[float, float]:
        try:
            a, b = (list(map(float, s.split(","))) * 2)[:2] if s.count(",") <= 1 else (None, None)
        except ValueError:
            a = b = None
        if a is None or not (lo <= a <= b <= hi):
            raise argparse.ArgumentTypeError(f"must be MIN,MAX (or one value) with {lo} <= MIN <= MAX <= {hi}, not {s!r}")
        return a, b
    return convert


SYNTH_EPILOG = """examples:
  lstm-asr synth --list-voices                      every voice of every installed engine, with its licence
  lstm-asr synth --words "yes no" --engines espeak,flite --voices 6 --per-voice 2 --out data/synth-yesno
  lstm-asr synth --strings digits:200,commands:100 --voices 40 --workers 2 --out data/synth-strings
  lstm-asr synth --text-file sentences.txt --engines all --exclude-voices held-out.txt --out data/synth-text
  lstm-asr synth --language cmn --words "零 一 二 三" --voices 20 --out data/synth-cmn    Mandarin (espeak-ng's cmn voices)

Each text is spoken by each chosen voice --per-voice times, each time at a rate and pitch drawn from
--rate and --pitch, with 0..--max-silence seconds of silence before and after (exactly 0 at each end
in 20 % of clips). --strings KIND:N draws N fresh strings per voice and repetition, each said in one
breath (digits: 3-10 digit words; commands: 2-6 of yes no up down left right on off stop go and digits).
Output: OUT/audio/<engine>/<hash>.flac (16 kHz mono) and OUT/manifest.jsonl with text, speaker,
engine, voice, rate, pitch, silences and duration. Rerunning the same command skips the clips done.
Install the engines with `make voices`."""


def cmd_stream(args) -> int:
    from .errors import AudioError, ConfigError
    from .output import dumps
    from .sources import live_source
    from .streaming import StreamingRecognizer
    if (args.input is None) == (not args.mic):
        raise ConfigError("stream: give one input: FILE, - (raw int16 PCM on standard input, see --rate) or --mic")
    rate, chunks = live_source(args.input, args.mic, args.rate, args.chunk, args.realtime)
    rec = _load_with_backend(args)
    _apply_decoding(rec, args)
    live = StreamingRecognizer(rec, rate, partial_interval=0 if args.no_partials else args.partial_interval,
                               lookahead_s=args.lookahead or None)
    tty = sys.stdout.isatty() and not args.json
    shown = [0]  # width of the partial line on a terminal

    def show(events):
        for e in events:
            if args.json:
                d = e.to_dict()
                if e.type == "partial":
                    d.pop("words")
                print(dumps(d), flush=True)
            elif e.type == "partial":
                if tty:
                    line = f"... {e.text}"
                    print("\r" + line.ljust(shown[0]), end="", flush=True)
                    shown[0] = len(line)
                else:
                    print(f"partial {e.start:.2f} {e.text}", flush=True)
            else:
                if tty and shown[0]:
                    print("\r" + " " * shown[0] + "\r", end="")
                    shown[0] = 0
                if e.text or not tty:
                    print(f"final {e.start:.2f}-{e.end:.2f} {e.text}", flush=True)

    error = None
    try:
        for chunk in chunks:
            show(live.accept(chunk))
    except KeyboardInterrupt:
        pass
    except AudioError as e:  # the input went bad: the results so far still come out, then the error
        error = e
    show(live.finish())
    if error is not None:
        raise error
    return 0


SERVE_LIMITS = (  # `serve` options: --FIELD of lstm_asr.server.settings.ServerLimits (its range and default), metavar, help
    ("workers", "N", "threads running the model"),
    ("max_seconds", "S", "longest audio of an upload or a stream"),
    ("max_streams", "N", "WebSocket streams at once"),
    ("partial_interval", "SECONDS", "seconds of new audio between partial results of a stream (0: none)"),
    ("idle_seconds", "S", "end a stream that sends no audio for this long"),
    ("max_wall_seconds", "S", "end a stream open this long, whatever it sends"),
    ("max_bad_frames", "N", "end a stream after more malformed frames than this"),
    ("max_uploads", "N", "uploads received or transcribed at once (more: 503)"),
)


def cmd_serve(args) -> int:
    from . import server
    if args.threads is None:
        import torch
        torch.set_num_threads(1)  # one per request: the workers run requests side by side
    from .server.settings import MB
    given = {name: getattr(args, name) for name, *_ in SERVE_LIMITS}
    given["max_upload_bytes"] = math.ceil(args.max_upload_mb * MB)
    given["allow_origins"] = tuple(args.allow_origin or ())
    given["lookahead_s"] = args.lookahead or None
    limits = server.limits(**given)
    print(f"lstm-asr: loading the model, then serving on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    on_ready = None
    if getattr(args, "backend", "torch") != "torch":
        from .checkpoint import resolve_model
        from .export import use_onnx
        model_dir = resolve_model(args.model)

        def on_ready(app):  # the app's recognizer runs its acoustic model through onnxruntime
            use_onnx(app.state.recognizer, model_dir=model_dir, int8=args.backend == "onnx-int8",
                     threads=args.threads or 1)
    server.serve(args.host, args.port, args.model, limits, log_level=args.log_level, on_ready=on_ready)
    return 0


def _lookahead_arg(p) -> None:
    """``--lookahead S``: how far ahead a live stream's model reads (lstm_asr.chunking)."""
    from .chunking import DEFAULT_LOOKAHEAD_S, MAX_LOOKAHEAD_S
    p.add_argument("--lookahead", type=V.arg_float(0, MAX_LOOKAHEAD_S), default=DEFAULT_LOOKAHEAD_S, metavar="S",
                   help="seconds of audio the model of a live stream may read ahead: it runs on the audio as it "
                   f"arrives and decodes each output once (default {DEFAULT_LOOKAHEAD_S:g}); 0: no limit, each "
                   "speech segment is read whole when it ends (partials re-decode it)")


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

    t = _with_model(sub.add_parser("transcribe", parents=[common], help="audio files -> text, one line per file",
                                   description="Transcribe audio files: one line per file (or one JSON object with --json)."))
    t.add_argument("paths", nargs="+", metavar="PATH", help="audio files; - reads one file from standard input")
    t.add_argument("--json", action="store_true", help='one {"audio", "text", "duration"} object per line')
    t.add_argument("--with-names", action="store_true", help="prefix each transcript with its file and a tab")
    t.add_argument("--long-over", type=V.arg_float(0), default=30.0, metavar="SECONDS",
                   help="files longer than this get a progress bar in seconds and, with --json, one line per "
                   "speech segment (its start and end) as soon as it is recognised (default 30)")
    t.add_argument("--max-segment", type=V.arg_float(1, 3600), default=20.0, metavar="SECONDS",
                   help="longest segment of a long file (default 20)")
    t.add_argument("--device", default=None, metavar="auto|cpu|cuda", help="where the model runs (default cpu)")
    t.add_argument("--output-dir", "-o", default=None, metavar="DIR",
                   help="also write one file per input into DIR (named after the input; stdin: 'stdin')")
    t.add_argument("--output-format", "-f", default="txt", choices=["txt", "json", "srt", "vtt", "all"],
                   help="format of the files in --output-dir (default txt; srt/vtt: subtitles from word times)")
    t.add_argument("--no-progress", action="store_true")
    _backend_arg(t)
    _decoding_args(t)
    t.set_defaults(func=cmd_transcribe)

    e = _with_model(sub.add_parser("evaluate", parents=[common], help="WER/CER/accuracy/RTF on a manifest",
                                   description="Transcribe every line of a JSON Lines manifest and score it against its text."))
    e.add_argument("--manifest", required=True, help="JSON Lines: {\"audio\": PATH, \"text\": REF} per line")
    e.add_argument("--json", action="store_true", help="print one JSON object: wer, cer, sent_acc, rtf, n, worst, "
                   "ci95 (95 %% intervals by speaker), speakers (each speaker's scores, hardest first)")
    e.add_argument("--worst", type=V.arg_int(0), default=5, help="how many of the worst utterances to list (default 5)")
    e.add_argument("--on-bad-line", choices=["stop", "skip"], default="skip",
                   help="a broken manifest line stops the run or is reported and skipped (default)")
    e.add_argument("--save-hyps", default=None, metavar="FILE",
                   help='write every utterance\'s {"audio", "ref", "hyp", "speaker"} to FILE (JSON Lines)')
    e.add_argument("--max-segment", type=V.arg_float(1, 3600), default=20.0, metavar="SECONDS",
                   help="longest speech segment; longer speech is cut at a quiet frame (default 20)")
    e.add_argument("--device", default=None, metavar="auto|cpu|cuda", help="where the model runs (default cpu)")
    e.add_argument("--no-progress", action="store_true")
    _backend_arg(e)
    n = e.add_argument_group("noise (robustness: the same manifest under noise at several SNRs)")
    n.add_argument("--noise", type=_arg_noise_dir, default=None, metavar="DIR",
                   help="mix noise recordings from DIR (any audio soundfile reads, searched recursively) into "
                   "every utterance; prints one row per --snr condition (--json: one object per condition, "
                   "with its snr and noise). --save-hyps FILE then writes FILE's name with .clean/.snrS added")
    n.add_argument("--snr", type=_arg_snrs, default=None, metavar="S[,S...]",
                   help="signal-to-noise ratios in dB, and 'clean' for the files as they are "
                   "(default with --noise: clean,20,10,5,0)")
    n.add_argument("--seed", type=V.arg_int(0, 2**32 - 1), default=0,
                   help="seed of the noise draws (default 0); the noise file and stretch depend on the "
                   "utterance's path and the seed only, so every model meets the same noisy audio")
    _decoding_args(e, nbest=False)
    e.set_defaults(func=cmd_evaluate)

    c = sub.add_parser("compare", parents=[common], help="two runs' scores side by side, with confidence intervals",
                       description="Compare two evaluate runs on the same utterances (files from lstm-asr evaluate "
                       "--save-hyps): both systems' WER and sentence accuracy and their difference B - A, with 95 % "
                       "intervals from a bootstrap that resamples whole speakers (a voice the model mishears is "
                       "misheard in all its recordings, so utterances are not independent).",
                       epilog="example:\n  lstm-asr evaluate -m digits-commands --manifest test.jsonl --save-hyps a.jsonl\n"
                       "  lstm-asr evaluate -m runs/gru/best --manifest test.jsonl --save-hyps b.jsonl\n"
                       "  lstm-asr compare a.jsonl b.jsonl --names lstm gru",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("a", metavar="A.jsonl", help="the first run's --save-hyps file")
    c.add_argument("b", metavar="B.jsonl", help="the second run's --save-hyps file")
    c.add_argument("--names", nargs=2, metavar=("A", "B"), help="what to call the two runs (default: the file names without .jsonl)")
    c.add_argument("--resamples", type=V.arg_int(100, 1000000), default=2000, help="bootstrap resamples (default 2000)")
    c.add_argument("--seed", type=V.arg_int(0), default=0, help="bootstrap seed (default 0)")
    c.add_argument("--json", action="store_true", help="one JSON object: wer and sent_acc, each a, b, b_minus_a "
                   "with value and ci95, and b_better (the share of resamples where B is better)")
    c.set_defaults(func=cmd_compare)

    r = sub.add_parser("train", parents=[common], help="train a model from a recipe config",
                       description="Train from a YAML config (see recipes/*/config.yaml). Writes RUN/best (the "
                       "model), RUN/last (resumable checkpoint), RUN/curves.csv and RUN/curves.png.")
    r.add_argument("--config", required=True, help="YAML config: features, model, augment, train sections")
    r.add_argument("--out", default=None, help="run directory (overrides train.out_dir)")
    r.add_argument("--epochs", type=V.arg_int(1), default=None)
    r.add_argument("--seed", type=V.arg_int(0, 2**32 - 1), default=None)
    r.add_argument("--max-minutes", type=V.arg_float(0), default=None,
                   help="stop after this much training time (0: no limit)")
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

    ad = _with_model(sub.add_parser("adapt", parents=[common], help="fine-tune a model to one voice from a few of its recordings",
                                    description="Adapt a model to one speaker: fine-tune it on a handful (10-50) of that "
                                    "person's recordings for a couple of minutes and write a new model directory. It "
                                    "keeps the source model's decoder (its word list, unit priors and prior scale). "
                                    "Measured on five voices the default recipe never heard: one recording of each digit "
                                    "took them from 80 to 90 % of digits read right, five of each to 94 % "
                                    "(docs/speakers.md).",
                                    epilog="example:\n  lstm-asr adapt --manifest me.jsonl --out models/me --minutes 2\n"
                                    "  lstm-asr transcribe --model models/me clip.wav",
                                    formatter_class=argparse.RawDescriptionHelpFormatter))
    ad.add_argument("--manifest", required=True, help='JSON Lines: {"audio": PATH, "text": WORDS} per recording')
    ad.add_argument("--out", required=True, metavar="DIR", help="the adapted model directory to write")
    ad.add_argument("--minutes", type=V.arg_float(0, lo_open=True), default=2.0, help="wall-time budget (default 2)")
    ad.add_argument("--epochs", type=V.arg_int(1), default=40, help="passes over the recordings at most (default 40)")
    ad.add_argument("--lr", type=V.arg_float(0, 10, lo_open=True), default=1e-3,
                    help="peak learning rate (default 1e-3)")
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
    b.add_argument("--order", type=V.arg_int(1, 10), default=3, help="n-gram order (default 3)")
    b.set_defaults(func=cmd_lm_build)

    sy = sub.add_parser("synth", parents=[common], help="synthetic speech: text -> many TTS engines and voices -> manifest",
                        description="Render text with many TTS engines and voices (espeak-ng, flite, pico, RHVoice, piper, "
                        "festival, ...) into 16 kHz FLAC files and a training manifest.",
                        epilog=SYNTH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sy.add_argument("--words", type=V.arg_words, metavar='"W1 W2 ..."', help="each word is one clip (per voice, per --per-voice)")
    sy.add_argument("--text-file", metavar="FILE", help="one utterance per line")
    sy.add_argument("--strings", type=_arg_synth(_strings), metavar="digits:N,commands:N",
                    help="N fluent strings per voice, each said in one breath")
    sy.add_argument("--engines", type=_arg_synth(_engine_names), default="all", metavar="a,b|all",
                    help="engines to use (default all installed: espeak, flite, pico, rhvoice, festival, piper, kokoro)")
    sy.add_argument("--language", default="en", metavar="LANG",
                    help="language of the voices, an espeak-ng code (default en; cmn: Mandarin, espeak-ng only)")
    sy.add_argument("--voices", type=V.arg_int(1), default=None, metavar="N",
                    help="N voices spread evenly over the engines (seeded; default: every voice)")
    sy.add_argument("--per-voice", type=V.arg_int(1, 1000), default=1, metavar="K", help="clips per text per voice (default 1)")
    sy.add_argument("--exclude-voices", metavar="FILE|LIST", help="voices held out: a file of engine/voice lines or a comma list")
    sy.add_argument("--rate", type=_arg_range(0.3, 3.0), default=(0.8, 1.25), metavar="MIN,MAX", help="speaking rate (default 0.8,1.25)")
    sy.add_argument("--pitch", type=_arg_range(0.5, 2.0), default=(0.85, 1.15), metavar="MIN,MAX",
                    help="pitch multiplier where the engine has one (default 0.85,1.15)")
    sy.add_argument("--max-silence", type=V.arg_float(0, 10), default=0.5, metavar="SECONDS",
                    help="silence added before and after: 0..SECONDS (default 0.5)")
    sy.add_argument("--seed", type=V.arg_int(0), default=0, help="seed of voices, texts, rates, pitches, silences (default 0)")
    sy.add_argument("--workers", type=V.arg_int(1, 256), default=max(1, min(8, os.cpu_count() or 1)), metavar="N",
                    help="processes rendering in parallel (default: CPU count, at most 8)")
    sy.add_argument("--out", "-o", metavar="DIR", help="output folder (audio/ and manifest.jsonl)")
    sy.add_argument("--list-voices", action="store_true", help="print engine, voice and licence of every voice and exit")
    sy.add_argument("--json", action="store_true", help="with --list-voices: one JSON object per voice")
    sy.add_argument("--no-progress", action="store_true", help="no progress bar")
    sy.set_defaults(func=cmd_synth)

    st = _with_model(sub.add_parser("stream", parents=[common], help="live recognition: partial and final results as audio comes",
                                    description="Recognise audio as it arrives: partial results while speech goes on, a final "
                                    "result at each pause and at the end. Input: an audio file, raw little-endian int16 mono "
                                    "PCM on standard input (-, at --rate Hz), or the microphone (--mic). The model runs "
                                    "on the audio as it arrives, reading at most --lookahead seconds ahead; partials "
                                    "decode its outputs so far (provisional for the last seconds); finals are what the "
                                    "model gives offline with the same look-ahead (--model digits-commands-streaming: "
                                    "the default model with the default look-ahead)."))
    st.add_argument("input", nargs="?", default=None, metavar="FILE|-", help="audio file, or - for raw int16 PCM on stdin")
    st.add_argument("--mic", action="store_true", help="record from the default microphone (Ctrl-C ends)")
    st.add_argument("--rate", type=V.arg_int(1000, 384000), default=16000, metavar="HZ", help="sample rate of PCM on stdin (default 16000)")
    st.add_argument("--chunk", type=V.arg_float(0, 10, lo_open=True), default=0.1, metavar="SECONDS", help="audio read at a time (default 0.1)")
    st.add_argument("--realtime", action="store_true", help="read a file no faster than it plays (a demo of live input)")
    st.add_argument("--partial-interval", type=V.arg_float(0, 60), default=0.5, metavar="SECONDS",
                    help="seconds of new audio between partial results (default 0.5)")
    st.add_argument("--no-partials", action="store_true", help="final results only")
    st.add_argument("--json", action="store_true", help='one JSON object per event: {"type", "text", "start", "end"}')
    _lookahead_arg(st)
    _backend_arg(st)
    _decoding_args(st, nbest=False)
    st.set_defaults(func=cmd_stream)

    sv = _with_model(sub.add_parser("serve", parents=[common], help="HTTP + WebSocket service with a web page (microphone, upload)",
                                    description="Serve the model: GET / (web page), GET /health, POST /v1/transcribe "
                                    "(multipart field 'file'; ?words=..&beam=N), WebSocket /v1/stream?sample_rate=R "
                                    "(int16 PCM frames, then {\"event\": \"end\"}). Needs the 'serve' extra."))
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=V.arg_int(0, 65535), default=8000, help="port (default 8000)")
    from .server.settings import MAX_UPLOAD_MB, MB, ServerLimits
    defaults = ServerLimits()
    sv.add_argument("--max-upload-mb", type=V.arg_float(0, MAX_UPLOAD_MB, lo_open=True),
                    default=defaults.max_upload_bytes / MB, metavar="MB",
                    help=f"largest upload (default {defaults.max_upload_bytes / MB:g})")
    for name, metavar, text in SERVE_LIMITS:
        default = getattr(defaults, name)
        sv.add_argument("--" + name.replace("_", "-"), type=V.arg_field(ServerLimits, name), default=default,
                        metavar=metavar, help=f"{text} (default {default})")
    sv.add_argument("--allow-origin", type=V.arg_origin, action="append", default=None, metavar="ORIGIN",
                    help="also serve web pages of this origin (scheme://host[:port]; * for any; repeatable); "
                    "by default only the server's own pages (and clients that are not browsers)")
    sv.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    _lookahead_arg(sv)
    _backend_arg(sv)
    sv.set_defaults(func=cmd_serve)
    pr = _with_model(sub.add_parser("priors", parents=[common], help="estimate a model's unit priors (for --prior-scale)",
                                    description="Run the model over clips of its training audio and write the mean "
                                    "posterior of each unit into the model directory's config.json "
                                    "(decoding.log_priors). With a prior scale a (--scale here, or --prior-scale when "
                                    "decoding) the decoders read log p(unit|x) - a log p(unit): units the model rarely "
                                    "emits, such as phones it heard only from synthetic voices, get a fairer hearing.",
                                    epilog="example:\n  lstm-asr priors -m runs/x/best --manifest data/train.jsonl --scale 0.15",
                                    formatter_class=argparse.RawDescriptionHelpFormatter))
    pr.add_argument("--manifest", required=True, help="JSON Lines of training audio (texts are not used)")
    pr.add_argument("--clips", type=V.arg_int(1), default=600, help="how many clips, drawn at random (default 600)")
    pr.add_argument("--seed", type=V.arg_int(0, 2**32 - 1), default=0, help="seed of the draw (default 0)")
    pr.add_argument("--scale", type=V.arg_float(0, 1), default=None, metavar="A",
                    help="also make A the model's default prior scale (decoding.prior_scale)")
    pr.add_argument("--no-progress", action="store_true", help="no progress bar")
    pr.set_defaults(func=cmd_priors)

    da = sub.add_parser("data", parents=[common], help="data sets: import real corpora as manifests")
    da_sub = da.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    di = da_sub.add_parser("import", parents=[common], help="LibriSpeech / Common Voice / Kaldi data dir -> manifest",
                           description="Read a corpus in its own layout and write a JSON Lines manifest of "
                           "{audio, text, speaker, duration} (paths relative to the manifest, text normalised). "
                           "See docs/corpora.md.",
                           epilog="examples:\n"
                           "  lstm-asr data import librispeech LibriSpeech/dev-clean --out data/dev-clean.jsonl\n"
                           "  lstm-asr data import commonvoice cv-corpus-17.0/en --split test --out data/cv-test.jsonl\n"
                           "  lstm-asr data import kaldi data/train --cut data/train-segments --out data/train.jsonl",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    di.add_argument("kind", choices=["librispeech", "commonvoice", "kaldi"], help="the corpus's layout")
    di.add_argument("dir", metavar="DIR", help="the corpus folder (LibriSpeech: the root, a subset or a speaker; "
                    "Common Voice: a language folder with its TSVs and clips/; Kaldi: a data dir)")
    di.add_argument("--out", "-o", required=True, metavar="MANIFEST", help="the manifest to write (JSON Lines)")
    di.add_argument("--split", default=None, metavar="NAME", help="Common Voice: the TSV to read (train, dev, test, "
                    "validated, ...; default validated, else train)")
    di.add_argument("--cut", default=None, metavar="DIR", help="Kaldi with segments: write each segment as "
                    "DIR/UTT.flac and point the manifest at it (needed for training: the manifest reader reads "
                    "whole files)")
    di.add_argument("--on-bad-line", choices=["stop", "skip"], default="stop",
                    help="a malformed line or unreadable audio stops the import (default) or is reported and skipped")
    di.add_argument("--no-progress", action="store_true", help="no progress bar")
    di.set_defaults(func=cmd_data_import)

    ex = _with_model(sub.add_parser("export", parents=[common], help="the acoustic model as ONNX (for onnxruntime)",
                                    description="Export the acoustic model (features -> CTC log-probabilities, dynamic "
                                    "batch and time) as ONNX; the front end and decoder stay in lstm-asr. Use it with "
                                    "--backend onnx (copy it into the model directory as model.onnx, or model.int8.onnx "
                                    "with --int8); with a look-ahead (stream, serve) the recurrent layers run from graphs of their own, "
                                    "exported on first use into the cache. Needs the "
                                    "'export' extra.",
                                    epilog="example:\n  lstm-asr export --format onnx --out digits.onnx\n"
                                    "  lstm-asr export -m runs/x/best --format onnx --int8 --out runs/x/best/model.int8.onnx",
                                    formatter_class=argparse.RawDescriptionHelpFormatter))
    ex.add_argument("--format", choices=["onnx"], default="onnx", help="the format (only onnx)")
    ex.add_argument("--int8", action="store_true", help="dynamic int8 quantisation of the weights (onnxruntime)")
    ex.add_argument("--out", "-o", required=True, metavar="FILE", help="the .onnx file to write")
    ex.set_defaults(func=cmd_export)
    return p


def _output_over_input(args) -> str | None:
    """The first output file that would be written over one of the command's inputs, or be written
    for two inputs, as a message."""
    from .output import FORMATS, clash, output_paths
    if args.command == "transcribe" and args.output_dir:
        formats = list(FORMATS) if args.output_format == "all" else [args.output_format]
        return clash([(o, p) for p in args.paths for o in output_paths(p, args.output_dir, formats)],
                     [p for p in args.paths if p != "-"])
    if args.command == "evaluate" and args.save_hyps:
        return clash([(args.save_hyps, args.manifest)], [args.manifest])
    if args.command == "lm" and getattr(args, "output", None):
        return clash([(args.output, args.corpus)], [args.corpus])
    return None


def _stdout_gone() -> None:
    """Standard output cannot take more (closed pipe, full disk): point it at /dev/null so that
    Python's final flush at exit does not print a second error."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from .errors import AsrError
    try:  # a file name that is not UTF-8 is printed with \x.. escapes instead of failing
        sys.stdout.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError):
        pass
    clash = _output_over_input(args)
    if clash:
        print(f"error: {clash}", file=sys.stderr)
        return 2
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
        _stdout_gone()
        return 0
    except Exception as e:  # noqa: BLE001 - a bug of ours: one line, the traceback only when asked for
        import errno
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG):
            # the system's doing (e.g. standard output on a full disk), not a bug: one line, exit 1
            _stdout_gone()
            print(f"error: {e.filename or 'cannot write the output'}: {e.strerror}", file=sys.stderr)
            return 1
        if verbose:
            import traceback
            traceback.print_exc()
        print(f"error: internal error: {type(e).__name__}: {e} (please report it; --verbose shows where)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
