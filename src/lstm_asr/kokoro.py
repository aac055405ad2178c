"""Kokoro-82M text-to-speech (int8 ONNX, 24 kHz) as a synthetic-speech engine.

Nothing is fetched at run time: ``scripts/install_kokoro.sh`` puts the model, the 28 English voice
embeddings and the misaki pronunciation dictionaries in a data folder, by default
``~/.local/share/lstm-asr/kokoro/`` (env ``LSTM_ASR_KOKORO_DIR`` overrides)::

    model.onnx                 Kokoro-82M v1.0 int8 ONNX (kokoro-onnx export), 92 MB
    vocab.json                 phoneme -> token id (Kokoro's vocab, as shipped with the model)
    voices/af_heart.bin ...    float32 (510, 1, 256) style vectors, one row per phoneme count
    misaki/{us,gb}_{gold,silver}.json   word -> phonemes (misaki 0.9.4's lexicons)

Text -> phonemes: each word is looked up in misaki's gold then silver lexicon (American for the
``a*_`` voices, British for ``b*_``), which is what Kokoro v1.0 was trained on; a word in neither is
read by ``espeak-ng`` and mapped to misaki's phoneme set the way misaki's own espeak fallback does.
Numbers are spelt out as cardinals first. Needs ``onnxruntime`` (``pip install onnxruntime``).

Voices: the 28 English voice ids, or a convex mix ``"mix:af_heart=0.6,am_adam=0.4"`` (weights are
normalised to sum to one; the phonemes follow the accent of the heaviest voice). A mix counts as a
new speaker: :func:`random_mix` draws one.
"""
from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np

from .errors import ConfigError

SAMPLE_RATE = 24000
ENGLISH_VOICES = (
    "af_alloy", "af_aoede", "af_bella", "af_heart", "af_jessica", "af_kore", "af_nicole", "af_nova",
    "af_river", "af_sarah", "af_sky",
    "am_adam", "am_echo", "am_eric", "am_fenrir", "am_liam", "am_michael", "am_onyx", "am_puck", "am_santa",
    "bf_alice", "bf_emma", "bf_isabella", "bf_lily",
    "bm_daniel", "bm_fable", "bm_george", "bm_lewis",
)
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
_MAX_TOKENS = 510          # the model's context is 512 with the two pad tokens
_STYLE_ROWS = 510
_PUNCT = ';:,.!?—…"()“”'  # punctuation Kokoro's vocab knows; kept, attached to the word before it


def default_dir() -> Path:
    """The data folder: ``$LSTM_ASR_KOKORO_DIR`` or ``~/.local/share/lstm-asr/kokoro``."""
    env = os.environ.get("LSTM_ASR_KOKORO_DIR")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "lstm-asr" / "kokoro"


# ---------------------------------------------------------------------------------------- voices
def parse_voice(voice: str) -> list[tuple[str, float]]:
    """``"af_heart"`` -> [("af_heart", 1.0)]; ``"mix:af_heart=0.6,am_adam=0.4"`` -> the components
    with weights normalised to sum to 1. ConfigError (one line) for anything else."""
    if not isinstance(voice, str):
        raise ConfigError(f"kokoro voice must be a string, not {type(voice).__name__}")
    if voice in ENGLISH_VOICES:
        return [(voice, 1.0)]
    if not voice.startswith("mix:"):
        raise ConfigError(f"unknown kokoro voice {voice!r}: use one of {', '.join(ENGLISH_VOICES)} "
                          f"or a mix like 'mix:af_heart=0.6,am_adam=0.4'")
    parts, seen = [], set()
    for item in voice[4:].split(","):
        name, eq, w = item.strip().partition("=")
        name = name.strip()
        try:
            weight = float(w) if eq else float("nan")
        except ValueError:
            weight = float("nan")
        if name not in ENGLISH_VOICES:
            raise ConfigError(f"bad kokoro mix {voice!r}: unknown voice {name!r}")
        if not (math.isfinite(weight) and weight > 0):
            raise ConfigError(f"bad kokoro mix {voice!r}: {item.strip()!r} needs a positive weight (VOICE=W)")
        if name in seen:
            raise ConfigError(f"bad kokoro mix {voice!r}: {name} given twice")
        seen.add(name)
        parts.append((name, weight))
    total = sum(w for _, w in parts)
    return [(n, w / total) for n, w in parts]


def random_mix(rng, k: int = 2, voices=ENGLISH_VOICES) -> str:
    """A convex mix of ``k`` distinct random voices from ``voices`` with Dirichlet(1) weights (each at
    least 0.1), as a voice id ``"mix:a=0.62,b=0.38"``. ``rng``: a numpy Generator or a random.Random."""
    voices = list(voices)
    if not 2 <= k <= len(voices):
        raise ConfigError(f"random_mix: k must be 2..{len(voices)}, not {k}")
    if hasattr(rng, "dirichlet"):        # numpy Generator / RandomState
        idx = rng.choice(len(voices), size=k, replace=False)
        names = [voices[int(i)] for i in idx]
        w = np.asarray(rng.dirichlet(np.ones(k)), dtype=float)
    else:                                # random.Random
        names = rng.sample(voices, k)
        w = np.array([rng.gammavariate(1.0, 1.0) for _ in range(k)])
        w = w / w.sum()
    w = 0.1 + (1 - 0.1 * k) * w          # keep every voice audible; still sums to 1
    w = np.round(w, 2)
    w[-1] = round(1 - w[:-1].sum(), 2)
    return "mix:" + ",".join(f"{n}={x:.2f}" for n, x in zip(names, w))


# ------------------------------------------------------------------------------------- numbers
_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
        "sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = [(10 ** 12, "trillion"), (10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand")]


def number_words(n: int) -> str:
    """A cardinal in words: 2024 -> "two thousand twenty four" (digit by digit past 10^15)."""
    if n >= 10 ** 15:
        return " ".join(_ONES[int(d)] for d in str(n))
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    for value, word in _SCALES:
        if n >= value:
            rest = n % value
            return number_words(n // value) + " " + word + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError(n)


# ------------------------------------------------------------------------------------ phonemes
# misaki 0.9.4 misaki/espeak.py EspeakFallback: espeak-ng IPA (ties written '^') -> misaki phonemes
_E2M = sorted({
    'ʔˌn\u0329': 'ʔn', 'ʔn\u0329': 'ʔn', 'a^ɪ': 'I', 'a^ʊ': 'W', 'd^ʒ': 'ʤ', 'e^ɪ': 'A', 'e': 'A',
    't^ʃ': 'ʧ', 'ɔ^ɪ': 'Y', 'ə^l': 'ᵊl', 'ʲo': 'jo', 'ʲə': 'jə', 'ʲ': '', 'ɚ': 'əɹ', 'r': 'ɹ',
    'x': 'k', 'ç': 'k', 'ɐ': 'ə', 'ɬ': 'l', '\u0303': '',
}.items(), key=lambda kv: -len(kv[0]))


@functools.lru_cache(maxsize=20000)
def espeak_word(word: str, british: bool) -> str:
    """One word's phonemes from espeak-ng, mapped to misaki's set (as misaki's EspeakFallback)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ConfigError(f"kokoro: {word!r} is in no pronunciation dictionary and espeak-ng is not installed")
    out = subprocess.run([exe, "-q", "--ipa", "--tie=^", "-v", "en-gb" if british else "en-us", word],
                         capture_output=True, text=True, check=True).stdout
    ps = " ".join(out.split())
    for old, new in _E2M:
        ps = ps.replace(old, new)
    ps = re.sub(r'(\S)\u0329', r'ᵊ\1', ps).replace(chr(809), '')
    if british:
        ps = ps.replace('e^ə', 'ɛː').replace('iə', 'ɪə').replace('ə^ʊ', 'Q')
    else:
        ps = ps.replace('o^ʊ', 'O').replace('ɜːɹ', 'ɜɹ').replace('ɜː', 'ɜɹ').replace('ɪə', 'iə').replace('ː', '')
    ps = ps.replace('o', 'ɔ')  # misaki does this for espeak-ng < 1.52
    ps = ps.replace('ɾ', 'T').replace('ʔ', 't')
    return ps.replace('^', '')


_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z]+(?:['’][A-Za-z]+)*|[" + re.escape(_PUNCT) + r"]")


class _Lexicon:
    """misaki's gold + silver dictionaries for one accent, with espeak-ng for unknown words."""

    def __init__(self, folder: Path, british: bool):
        self.british = british
        tag = "gb" if british else "us"
        self.gold = json.loads((folder / f"{tag}_gold.json").read_text(encoding="utf-8"))
        self.silver = json.loads((folder / f"{tag}_silver.json").read_text(encoding="utf-8"))

    def _lookup(self, word: str) -> str | None:
        for d in (self.gold, self.silver):
            for w in (word, word.lower(), word.capitalize()):
                ps = d.get(w)
                if isinstance(ps, dict):
                    ps = ps.get("DEFAULT") or next((v for v in ps.values() if v), None)
                if ps:
                    return ps
        return None

    def word(self, word: str) -> str:
        word = word.replace("’", "'")
        ps = self._lookup(word)
        if ps is None and word.lower().endswith("'s") and len(word) > 2:   # possessive / "'s"
            base = self._lookup(word[:-2])
            if base is not None:
                last = base.rstrip("ˈˌ")[-1:]
                ps = base + ("ɪz" if last in "szʃʒʧʤ" else "s" if last in "ptkfθ" else "z")
        return ps if ps is not None else espeak_word(word, self.british)

    def __call__(self, text: str) -> str:
        out = []
        for tok in _TOKEN_RE.findall(text):
            if tok in _PUNCT:
                if out:
                    out[-1] += tok
                continue
            if tok[0].isdigit():
                digits = tok.replace(",", "")
                if "." in digits:
                    whole, _, frac = digits.partition(".")
                    words = number_words(int(whole)) + " point " + " ".join(_ONES[int(d)] for d in frac if d.isdigit())
                else:
                    words = number_words(int(digits))
                out.extend(self.word(w) for w in words.split())
            else:
                out.append(self.word(tok))
        # a phrase of function words only ("go", "up, down") carries the phrase stress on them
        phrases = re.split(r"(?<=[,.!?;:—…])", " ".join(out))
        return "".join(p if "ˈ" in p else p.replace("ˌ", "ˈ") for p in phrases)


# --------------------------------------------------------------------------------------- engine
class KokoroEngine:
    """Kokoro-82M (Apache-2.0) on onnxruntime; ``render`` returns 24 kHz float32 mono audio."""

    name = "kokoro"
    licence = "Apache-2.0"
    sample_rate = SAMPLE_RATE

    def __init__(self, root: str | os.PathLike | None = None, threads: int = 1):
        self.root = Path(root).expanduser() if root is not None else default_dir()
        self.threads = int(threads)
        self._session = None
        self._vocab = None
        self._styles: dict[str, np.ndarray] = {}
        self._lexicons: dict[bool, _Lexicon] = {}
        self._lock = threading.Lock()

    # -- what is installed
    def _missing(self) -> list[str]:
        need = ["model.onnx", "vocab.json"] + [f"voices/{v}.bin" for v in ENGLISH_VOICES] + \
               [f"misaki/{a}_{k}.json" for a in ("us", "gb") for k in ("gold", "silver")]
        return [p for p in need if not (self.root / p).is_file()]

    def available(self) -> bool:
        """True when the model, the 28 voices and the dictionaries are installed and onnxruntime imports."""
        if self._missing():
            return False
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return False
        return True

    def _require(self) -> None:
        missing = self._missing()
        if missing:
            raise ConfigError(f"kokoro is not installed in {self.root} (missing {missing[0]}): run scripts/install_kokoro.sh")

    def voices(self) -> list[str]:
        """The 28 English voice ids; ``render`` also takes mixes ``"mix:af_heart=0.6,am_adam=0.4"``."""
        return list(ENGLISH_VOICES)

    def random_mix(self, rng, k: int = 2) -> str:
        return random_mix(rng, k)

    # -- loading (lazy, once)
    def _load(self):
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            self._require()
            try:
                import onnxruntime as ort
            except ImportError:
                raise ConfigError("kokoro needs onnxruntime: pip install onnxruntime") from None
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = max(1, self.threads)
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            vocab = json.loads((self.root / "vocab.json").read_text(encoding="utf-8"))
            self._vocab = vocab.get("vocab", vocab)
            self._session = ort.InferenceSession(str(self.root / "model.onnx"), sess_options=opts,
                                                 providers=["CPUExecutionProvider"])

    def _style(self, name: str) -> np.ndarray:
        s = self._styles.get(name)
        if s is None:
            raw = np.fromfile(self.root / "voices" / f"{name}.bin", dtype=np.float32)
            if raw.size != _STYLE_ROWS * 256:
                raise ConfigError(f"{self.root / 'voices' / (name + '.bin')}: expected {_STYLE_ROWS}x256 float32, got {raw.size} values")
            s = self._styles[name] = raw.reshape(_STYLE_ROWS, 256)
        return s

    def _lexicon(self, british: bool) -> _Lexicon:
        lex = self._lexicons.get(british)
        if lex is None:
            with self._lock:
                lex = self._lexicons.get(british)
                if lex is None:
                    lex = self._lexicons[british] = _Lexicon(self.root / "misaki", british)
        return lex

    # -- synthesis
    def phonemize(self, text: str, voice: str = "af_heart") -> str:
        """Kokoro phonemes for ``text`` in the accent of ``voice`` (b*_ voices: British)."""
        parts = parse_voice(voice)
        self._require()
        lead = max(parts, key=lambda p: p[1])[0]
        return self._lexicon(lead.startswith("b"))(text)

    def _chunks(self, ps: str) -> list[list[int]]:
        """Token ids, cut into pieces of at most 510 tokens at punctuation, else at spaces."""
        ids = [self._vocab[c] for c in ps if c in self._vocab]
        chunks, start = [], 0
        space, breaks = self._vocab[" "], {self._vocab[c] for c in ",.!?;:—…" if c in self._vocab}
        while len(ids) - start > _MAX_TOKENS:
            window = ids[start:start + _MAX_TOKENS]
            cut = max((i + 1 for i, t in enumerate(window) if t in breaks), default=0)
            if cut < _MAX_TOKENS // 2:
                cut = max((i + 1 for i, t in enumerate(window) if t == space), default=_MAX_TOKENS)
            chunks.append(ids[start:start + cut])
            start += cut
        chunks.append(ids[start:])
        return [c for c in chunks if any(t != space for t in c)]

    def render(self, text: str, voice: str, rate: float = 1.0, pitch: float = 0.0) -> tuple[np.ndarray, int]:
        """Speak ``text`` in ``voice`` at speed ``rate`` (1.0 normal; 0.5..2.0 sensible). ``pitch`` is
        ignored (Kokoro has no pitch control). Returns (float32 mono samples, 24000)."""
        parts = parse_voice(voice)
        if not (isinstance(rate, (int, float)) and math.isfinite(rate) and 0.25 <= rate <= 4.0):
            raise ConfigError(f"kokoro rate must be a number in 0.25..4, not {rate!r}")
        self._load()
        ps = self.phonemize(text, voice)
        chunks = self._chunks(ps)
        if not chunks:
            raise ConfigError(f"kokoro: nothing to speak in {text!r}")
        out = []
        for ids in chunks:
            row = min(len(ids), _STYLE_ROWS - 1)  # the style row is picked by the phoneme count
            style = sum(w * self._style(n)[row] for n, w in parts).astype(np.float32).reshape(1, 256)
            audio = self._session.run(None, {
                "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([rate], dtype=np.float32),
            })[0]
            out.append(np.asarray(audio, dtype=np.float32).reshape(-1))
        return (out[0] if len(out) == 1 else np.concatenate(out)), SAMPLE_RATE
