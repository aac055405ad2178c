"""The one validation layer: every value from outside (a command-line option, a config field, an
API argument) is checked here, once, at the edge; the stages behind it trust what they are given.

Each checker returns the value in its proper type or raises :class:`Invalid`, whose message names
the value and says what was expected: ``"beam_size must be an integer in 1..1024, not 0"``.
Callers turn that into their own kind of error:

- :func:`arg_int`, :func:`arg_float`, ... make argparse ``type=`` functions: a bad option value is
  a usage error (exit 2) whose one line names the option;
- :func:`check_keys` and :func:`check_fields` check a config section (YAML, ``config.json``,
  ``--set``) against its dataclass: the name and type of every field (from its annotation) and the
  rule its definition states beside it (:func:`checked`: ``lr: float = checked(2e-3, reals(0, 10))``);
- :func:`sample_rate` checks the API's ``sample_rate`` argument.

Why it is a little over 450 lines: it is the one place every outside value is checked (the
range checkers, the argparse types, the config and word-list readers); splitting it would make
two places.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import numbers
import typing
from types import UnionType as _UnionType

from .errors import ConfigError

MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 384_000
MAX_THREADS = 256       # torch/OpenMP threads: more is never useful and very many crash libgomp
MAX_BEAM = 1024         # beams of the prefix search (DecodeOptions.beam_size, --beam)
MAX_NBEST = 100         # transcripts of an n-best list (DecodeOptions.nbest, --nbest)


class Invalid(ValueError):
    """A value that is not accepted: ``str(e)`` is ``"NAME must be EXPECTED, not VALUE"``."""

    def __init__(self, name: str, expected: str, value):
        self.name, self.expected, self.value = name, expected, value
        super().__init__(f"{name} {self.reason}" if name else self.reason)

    @property
    def reason(self) -> str:
        return f"must be {self.expected}, not {_show(self.value)}"


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_bool(value) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"  # numpy's bool too


def _range(lo=None, hi=None, lo_open: bool = False, hi_open: bool = False) -> str:
    if lo is not None and hi is not None and not lo_open and not hi_open:
        return f" in {lo}..{hi}"
    parts = ([f"{'>' if lo_open else '>='} {lo}"] if lo is not None else []) + \
            ([f"{'<' if hi_open else '<='} {hi}"] if hi is not None else [])
    return " " + " and ".join(parts) if parts else ""


def _outside(v, lo, hi, lo_open=False, hi_open=False) -> bool:
    return ((lo is not None and (v <= lo if lo_open else v < lo))
            or (hi is not None and (v >= hi if hi_open else v > hi)))


def integer(value, name: str = "", lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an int (a bool is not one) within ``lo..hi``."""
    expected = "an integer" + _range(lo, hi)
    if _is_bool(value) or not isinstance(value, numbers.Integral) or _outside(int(value), lo, hi):
        raise Invalid(name, expected, value)
    return int(value)


def real(value, name: str = "", lo: float | None = None, hi: float | None = None,
         lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a finite float (ints accepted, bools and NaN/inf not) within the bounds."""
    expected = "a finite number" + _range(lo, hi, lo_open, hi_open)
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise Invalid(name, expected, value)
    try:
        v = float(value)
    except OverflowError:  # an int beyond float
        raise Invalid(name, expected, value) from None
    if not math.isfinite(v) or _outside(v, lo, hi, lo_open, hi_open):
        raise Invalid(name, expected, value)
    return v


def sample_rate(value, name: str = "sample_rate") -> int:
    """A sample rate in Hz: a whole number in 1 kHz..384 kHz (16 meaning kHz, True, "16000",
    [16000], NaN are all refused)."""
    expected = f"a sample rate in Hz, a whole number in {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}"
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise Invalid(name, expected, value)
    if isinstance(value, numbers.Integral):
        v = int(value)
    else:
        f = float(value)
        if not math.isfinite(f) or f != int(f):
            raise Invalid(name, expected, value)
        v = int(f)
    if _outside(v, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE):
        if 0 < v and not _outside(v * 1000, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE):
            expected += f" (for {v} kHz write {v * 1000})"
        raise Invalid(name, expected, value)
    return v


def text(value, name: str = "", empty: bool = False) -> str:
    """A string (non-blank unless ``empty``)."""
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise Invalid(name, "a string" if empty else "a non-empty string", value)
    return value


def choice(value, name: str, options) -> str:
    if value not in options:
        raise Invalid(name, "one of " + ", ".join(map(repr, options)), value)
    return value


def read_text(path, what: str) -> str:
    """The text of a UTF-8 file from outside (a word list, a corpus); ConfigError naming the file
    otherwise: ``"PATH: cannot read WHAT (reason)"``, ``"PATH: the WHAT is not UTF-8 text (byte N)"``."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what} ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: the {what} is not UTF-8 text (byte {e.start + 1})") from None


# ---- argparse type= functions ----------------------------------------------------------------
def _arg(parse, check, kind: str):
    def convert(s: str):
        try:
            value = parse(s.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(Invalid("", kind, s).reason) from None
        try:
            return check(value)
        except Invalid as e:
            raise argparse.ArgumentTypeError(Invalid("", e.expected, s).reason) from None
    convert.__name__ = kind
    return convert


def arg_int(lo: int | None = None, hi: int | None = None):
    """``type=`` for an integer option within ``lo..hi``."""
    return _arg(int, lambda v: integer(v, "", lo, hi), "an integer" + _range(lo, hi))


def arg_float(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False):
    """``type=`` for a finite number option (``nan``/``inf`` refused) within the bounds."""
    return _arg(float, lambda v: real(v, "", lo, hi, lo_open, hi_open),
                "a finite number" + _range(lo, hi, lo_open, hi_open))


def arg_field(cls, name: str):
    """``type=`` for the option that sets the number field ``name`` of the dataclass ``cls``: its
    value follows the field's own rule (:func:`checked` with :func:`ints` or :func:`reals`), so the
    option and the field have one range."""
    rule = next(f for f in dataclasses.fields(cls) if f.name == name).metadata[_CHECK]
    hint = _hints(cls)[name]

    def check(value):
        rule(value, "", hint)
        return value
    return _arg(int if _accepts(hint, int) else float, check, rule.expected)


def arg_words(s: str) -> str:
    """``type=`` for ``--words``: at least one word."""
    if not s.split():
        raise argparse.ArgumentTypeError("must list at least one word, not an empty string")
    return s


def arg_hotword(s: str) -> tuple[str, float | None]:
    """``type=`` for ``--hotword WORD[:BONUS]`` -> (word, bonus or None)."""
    word, sep, bonus = s.partition(":")
    word = word.strip()
    if not word or len(word.split()) != 1:
        raise argparse.ArgumentTypeError(f"must be one word, optionally with :BONUS, not {s!r}")
    if not sep:
        return word, None
    try:
        return word, real(float(bonus), "", -100.0, 100.0)
    except (ValueError, Invalid):
        raise argparse.ArgumentTypeError(f"{s!r}: the bonus must be a finite number in -100.0..100.0") from None


def arg_nonempty(s: str) -> str:
    """``type=`` for a path or name that must not be empty."""
    if not s.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return s


# ---- config sections -------------------------------------------------------------------------
# A config dataclass states each field's rule beside it: ``n_mels: int = checked(80, ints(1, 1024))``.
# A rule is a function (value, name, annotation) that raises Invalid, kept in the field's metadata
# where :func:`check_fields` finds it. A field without one gets the check of its annotation only
# (its type; a float must be finite).
_CHECK = "check"


def checked(default, rule):
    """A dataclass field with ``default`` (a list or dict is copied for each instance) whose values
    must follow ``rule`` (:func:`ints`, :func:`reals`, :func:`one_of`, :data:`NONEMPTY`, ...)."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata={_CHECK: rule})
    return dataclasses.field(default=default, metadata={_CHECK: rule})


def _numbers(one, expected: str):
    """The rule ``one(value, name)`` for a number, or for each item of a list where the field's
    annotation allows a list (hidden_size per layer, speeds); ``expected`` (e.g. "an integer in
    1..64") describes one number, for :func:`arg_field`."""
    def rule(value, name: str, hint) -> None:
        if isinstance(value, list) and _accepts(hint, list):
            for k, v in enumerate(value):
                one(v, f"{name}[{k}]")
        elif _accepts(hint, list) and not (_accepts(hint, int) or _accepts(hint, float)):
            raise Invalid(name, "a list of numbers", value)
        else:
            one(value, name)
    rule.expected = expected
    return rule


def ints(lo: int | None = None, hi: int | None = None):
    """The rule of an integer within ``lo..hi``."""
    return _numbers(lambda v, n: integer(v, n, lo, hi), "an integer" + _range(lo, hi))


def reals(lo: float | None = None, hi: float | None = None, lo_open: bool = False):
    """The rule of a finite number within the bounds."""
    return _numbers(lambda v, n: real(v, n, lo, hi, lo_open), "a finite number" + _range(lo, hi, lo_open))


def one_of(*options):
    return lambda value, name, hint: choice(value, name, options)


def _paths(value, name: str, hint) -> None:
    if not isinstance(value, list) or not value:
        raise Invalid(name, "a list of one or more file paths", value)
    for k, v in enumerate(value):
        text(v, f"{name}[{k}]")


def _words(value, name: str, hint) -> None:
    if not isinstance(value, list) or not value or not all(isinstance(w, str) and w.split() for w in value):
        raise Invalid(name, "a list of one or more words", value)


def _hotwords(value, name: str, hint) -> None:
    if not isinstance(value, dict) or not value:
        raise Invalid(name, "a mapping of word: bonus", value)
    for w, b in value.items():
        text(w, f"{name} key")
        real(b, f"{name}[{w!r}]", -100.0, 100.0)


RATE = lambda value, name, hint: sample_rate(value, name)  # noqa: E731 - a sample rate in Hz
NONEMPTY = lambda value, name, hint: text(value, name)     # noqa: E731 - a non-blank string
PATHS = _paths          # a list of one or more file paths
WORDS = _words          # a list of one or more words
HOTWORDS = _hotwords    # a mapping of word: bonus in -100..100


SECTIONS = {"feature option": "features", "model option": "model", "augment option": "augment",
            "train option": "train", "decoding option": "decoding", "config section": ""}


def _section(what: str) -> str:
    """The config section a kind of option lives in ("model option" -> "model")."""
    return SECTIONS.get(what, what.split()[0])


def check_keys(d, cls, what: str) -> dict:
    """The one check of a config section read from outside: ``d`` must be a mapping whose keys are
    fields of the dataclass ``cls`` (otherwise ConfigError naming the unknown ones and ``what``,
    e.g. "model option") and whose values have the fields' types and ranges (:func:`check_fields`).
    Options of earlier configs that ``cls.RETIRED`` lists are dropped first (:func:`drop_retired`).
    Returns ``d`` (without those)."""
    if not isinstance(d, dict):
        raise ConfigError(f"{what}s must be a mapping of name: value, not {type(d).__name__}")
    d = drop_retired(d, cls, what)
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)}, key=str)
    if unknown:
        raise ConfigError(f"unknown {what}(s): {', '.join(map(str, unknown))}")
    return check_fields(d, cls, what)


# why the look-ahead options of earlier model configs were retired (FeatureConfig/ModelConfig.RETIRED)
LOOKAHEAD_RETIRED = " is no longer an option: the look-ahead is chosen at run time (lstm-asr stream --lookahead)"


def drop_retired(d: dict, cls, what: str) -> dict:
    """``d`` without the options of earlier configs: ``cls.RETIRED`` maps each to ``(off, why)``.
    Given at its ``off`` value (what it meant when it was "off", so a saved model still loads) it is
    dropped; at any other it is refused, the error naming it and ending with ``why``. ``off`` may
    instead be a function of (value, d): True drops it, False refuses it, None leaves it (an
    unknown option then)."""
    retired = getattr(cls, "RETIRED", {})
    if not retired or not isinstance(d, dict) or not retired.keys() & d.keys():
        return d
    section = _section(what)
    kept = dict(d)
    for key, (off, why) in retired.items():
        if key in d:
            verdict = off(d[key], d) if callable(off) else d[key] == off
            if verdict is False:
                raise ConfigError(f"{section}.{key}={d[key]!r}{why}")
            if verdict:
                del kept[key]
    return kept


def check_fields(d: dict, cls, what: str) -> dict:
    """Check the values of a config mapping ``d`` (keys already known to be fields of the dataclass
    ``cls``): each must have its field's annotated type and follow its rule (:func:`checked`).
    Raises :class:`~lstm_asr.errors.ConfigError` naming ``section.field``. Returns ``d``."""
    section = _section(what)
    hints = _hints(cls)
    rules = {f.name: f.metadata.get(_CHECK) for f in dataclasses.fields(cls)}
    for key, value in d.items():
        name = f"{section}.{key}" if section else str(key)
        hint = hints.get(key)
        try:
            if value is None and _allows_none(hint):
                continue
            if rules.get(key) is not None:
                rules[key](value, name, hint)
            elif not _conforms(value, hint):
                raise Invalid(name, _describe(hint), value)
            elif isinstance(value, float) and not math.isfinite(value):
                raise Invalid(name, "a finite number", value)
        except Invalid as e:
            raise ConfigError(str(e)) from None
    return d


def _hints(cls) -> dict:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - an annotation that cannot be evaluated: check ranges only
        return {f.name: typing.Any for f in dataclasses.fields(cls)}


def _allows_none(hint) -> bool:
    return hint is type(None) or (typing.get_origin(hint) in (typing.Union, _UnionType)
                                  and type(None) in typing.get_args(hint))


def _accepts(hint, kind) -> bool:
    return any(a is kind or typing.get_origin(a) is kind for a in _alternatives(hint))


def _alternatives(hint) -> tuple:
    if typing.get_origin(hint) in (typing.Union, _UnionType):
        return typing.get_args(hint)
    return (hint,)


def _conforms(value, hint) -> bool:
    for h in _alternatives(hint):
        if h is typing.Any or (dataclasses.is_dataclass(h) and isinstance(h, type)):
            return True  # nested sections are checked by their own from_dict
        if h is type(None):
            if value is None:
                return True
            continue
        origin = typing.get_origin(h) or h
        if origin is bool:
            ok = _is_bool(value)
        elif origin is int:
            ok = isinstance(value, numbers.Integral) and not _is_bool(value)
        elif origin is float:
            ok = isinstance(value, numbers.Real) and not _is_bool(value)
        elif origin in (list, dict, str):
            ok = isinstance(value, origin)
        else:
            ok = True
        if ok:
            return True
    return False


def _describe(hint) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping", type(None): "null"}
    return " or ".join(names.get(typing.get_origin(h) or h, getattr(h, "__name__", str(h)))
                       for h in _alternatives(hint))


# ---- the server: values from an HTTP request or a WebSocket (always strings) ------------------
# Every query parameter, file name, path segment and Origin reaches the service as text a client
# chose; these parse it once, by whitelist (ASCII digits, not str.isdigit(), which accepts "١٦"), and
# raise Invalid like the checkers above. The server turns Invalid into a 4xx or a WebSocket error.
import re as _re  # noqa: E402

_ASCII_UINT = _re.compile(r"[0-9]{1,12}")
_CONTROL = _re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SUFFIX = _re.compile(r"\.[A-Za-z0-9]{1,8}")
_STATIC_NAME = _re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
_ORIGIN = _re.compile(r"(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?")
MAX_QUERY_WORDS_CHARS = 4096


def query_int(value: str, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """A query parameter holding a whole number written in ASCII digits (no sign, space, exponent)."""
    if not isinstance(value, str) or not _ASCII_UINT.fullmatch(value):
        raise Invalid(name, "an integer" + _range(lo, hi) + " written in ASCII digits", value)
    return integer(int(value), name, lo, hi)


def query_sample_rate(value: str | None, name: str = "sample_rate") -> int:
    """The ``sample_rate`` query parameter of a stream: required, ASCII digits, 1 kHz..384 kHz."""
    expected = f"a sample rate in Hz, a whole number in {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} in ASCII digits"
    if value is None:
        raise Invalid(name, expected + " (it is required: the rate of the PCM you send)", value)
    if not isinstance(value, str) or not _ASCII_UINT.fullmatch(value):
        raise Invalid(name, expected, value)
    return sample_rate(int(value), name)


def query_words(value: str, name: str = "words") -> list[str] | None:
    """The ``words`` query parameter: words separated by commas or spaces (None when it lists none);
    printable text of at most :data:`MAX_QUERY_WORDS_CHARS` characters."""
    if not isinstance(value, str) or len(value) > MAX_QUERY_WORDS_CHARS or _CONTROL.search(value):
        raise Invalid(name, f"printable words separated by commas or spaces, at most "
                      f"{MAX_QUERY_WORDS_CHARS} characters", value)
    return value.replace(",", " ").split() or None


def printable(value, limit: int = 80) -> str:
    """Text a client sent, made safe to show in a message or a log line: control and
    direction-override characters replaced by '?', cut to ``limit`` characters."""
    text_ = _CONTROL.sub("?", value if isinstance(value, str) else repr(value))
    return text_ if len(text_) <= limit else text_[:limit - 3] + "..."


def upload_name(value: str | None, default: str = "upload") -> str:
    """The file name a client gave an upload, made safe to show and log: its last path component,
    control and direction-override characters replaced by '?', at most 100 characters."""
    if not isinstance(value, str):
        return default
    name = printable(value.replace("\\", "/").rsplit("/", 1)[-1], 100).strip()
    return name or default


def upload_suffix(name: str) -> str:
    """The extension of an upload's name, kept (as a temporary file's suffix: libsndfile may use it)
    only when it is a dot and 1-8 ASCII letters or digits; "" otherwise."""
    dot = name.rfind(".") if isinstance(name, str) else -1
    suffix = name[dot:] if dot > 0 else ""
    return suffix if _SUFFIX.fullmatch(suffix) else ""


def static_name(value: str, name: str = "static file") -> str:
    """A file name under the web page's static folder: ASCII letters, digits, '.', '_', '-'; not
    starting with '.'; at most 64 characters (anything else cannot name one of its files)."""
    if not isinstance(value, str) or not _STATIC_NAME.fullmatch(value):
        raise Invalid(name, "a file name of the web page", value)
    return value


def origin(value: str, name: str = "origin") -> str:
    """An origin for ``--allow-origin``: ``scheme://host[:port]`` (http or https, no path), lower
    case, a default port dropped; or ``*`` (any origin)."""
    text_ = value.strip().lower().rstrip("/") if isinstance(value, str) else value
    if text_ == "*":
        return "*"
    m = _ORIGIN.fullmatch(text_) if isinstance(text_, str) else None
    if not m or (m.group(3) and not 1 <= int(m.group(3)) <= 65535):
        raise Invalid(name, "an origin scheme://host[:port] (http or https, no path) or *", value)
    scheme, host, port = m.groups()
    default = {"http": "80", "https": "443"}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def arg_origin(s: str) -> str:
    """``type=`` for ``--allow-origin``."""
    try:
        return origin(s, "")
    except Invalid as e:
        raise argparse.ArgumentTypeError(e.reason) from None
