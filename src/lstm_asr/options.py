"""Decoding options: how posteriors become text, as one dataclass passed per call (as whisper's
``DecodingOptions``). It holds every decoding default, and every caller builds it the one way,
:meth:`DecodeOptions.from_dict`: a model's config (its ``decoding`` section), the command line
(:func:`from_flags`) and the server (its query) each give a mapping of the values they set, on top
of a base (the defaults, or the model's own options).

This module needs neither torch nor a model, so the command line can use it before loading one.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from .errors import ConfigError
from .validate import HOTWORDS, MAX_BEAM, MAX_NBEST, NONEMPTY, WORDS, check_keys, checked, ints, read_text, reals


@dataclass
class DecodeOptions:
    """How posteriors become text. Nothing set is greedy decoding; a word list, an LM, hotwords or
    n-best switch prefix beam search on with ``AUTO_BEAM`` beams unless ``beam_size`` says
    otherwise. ``beam_size=1`` is greedy decoding (one path, the best unit per frame): a word list,
    LM, hotwords or n-best cannot steer a single path, so with those it is refused. Values are
    checked (types, ranges, finite numbers) when a recognizer takes them."""
    AUTO_BEAM: ClassVar[int] = 8          # beams when a search is asked for without a beam size
    HOTWORD_BONUS: ClassVar[float] = 3.0  # natural-log bonus of a hotword given without one
    beam_size: int | None = checked(None, ints(1, MAX_BEAM))  # None: 1, or AUTO_BEAM when the options below need a search
    lm: str | None = checked(None, NONEMPTY)          # ARPA n-gram word LM
    alpha: float = checked(0.5, reals())              # LM weight
    beta: float = checked(1.0, reals())               # word insertion bonus (with an LM)
    words: list[str] | None = checked(None, WORDS)    # restrict the output to these words
    hotwords: dict[str, float] | None = checked(None, HOTWORDS)  # word -> bonus (natural-log units)
    nbest: int = checked(1, ints(1, MAX_NBEST))
    lexicon: str | None = None          # phone models: a file of pronunciations (lexicon.read_lexicon_file)
    one_word: bool = False              # each speech segment is exactly one of ``words`` (decoding.WordChoiceDecoder)
    prior_scale: float = checked(0.0, reals(0.0, 1.0))  # a: the decoder reads log p(unit|x) - a log p(unit)
    log_priors: list[float] | None = checked(None, reals())  # log p(unit): the model's own (lstm-asr priors)

    @classmethod
    def from_dict(cls, d: dict, base: "DecodeOptions | None" = None, name: str | None = None) -> "DecodeOptions":
        """The one builder: ``base`` (None: the defaults) with the values of ``d`` replaced, its
        keys and values checked. ConfigError (its message after ``name: ``) for a bad one."""
        try:
            return dataclasses.replace(base or cls(), **check_keys(d, cls, "decoding option"))
        except ConfigError as e:
            raise ConfigError(f"{name}: {e}" if name else str(e)) from None

    @property
    def searches(self) -> bool:
        """Whether something beyond the acoustics shapes the output (a search is needed)."""
        return bool(self.lm or self.words or self.hotwords or self.nbest > 1 or self.lexicon)

    @property
    def beam(self) -> int:
        """The number of beams actually used."""
        if self.beam_size is not None:
            return self.beam_size
        return self.AUTO_BEAM if self.searches else 1

    @property
    def greedy(self) -> bool:
        return self.beam <= 1 and not self.searches


def from_flags(default: DecodeOptions, greedy: bool = False, beam_size: int | None = None, lm: str | None = None,
               alpha: float | None = None, beta: float | None = None, words: str | None = None,
               words_file: str | None = None, lexicon: str | None = None, hotwords=None,
               nbest: int | None = None, one_word: bool = False, prior_scale: float | None = None) -> DecodeOptions:
    """The options a command line asks for: the model's ``default`` (or greedy decoding, with
    ``greedy`` or ``beam_size=1``) with what the flags set on top; None is a flag not given.
    ``words`` (words separated by spaces) adds to the words of ``words_file``; ``hotwords`` are
    (word, bonus or None) pairs; ``lm`` and ``lexicon`` must name files. The model's unit priors
    (``log_priors``) stay with any decoder; ``prior_scale`` says how much they count."""
    given = {key: value for key, value in (("beam_size", beam_size), ("alpha", alpha), ("beta", beta),
                                           ("nbest", nbest), ("prior_scale", prior_scale)) if value is not None}
    listed = read_word_list(words_file) if words_file else []
    if listed or words:
        given["words"] = listed + (words.split() if words else [])
    if one_word:
        given["one_word"] = True
    if hotwords:
        given["hotwords"] = {word: DecodeOptions.HOTWORD_BONUS if bonus is None else bonus for word, bonus in hotwords}
    for key, path, what in (("lexicon", lexicon, "lexicon"), ("lm", lm, "LM")):
        if path:
            if not Path(path).is_file():
                raise ConfigError(f"{path}: no such {what} file")
            given[key] = path
    if default.log_priors is not None:  # the model's own, whatever the decoder
        given["log_priors"] = default.log_priors
    return DecodeOptions.from_dict(given, None if greedy or beam_size == 1 else default)


def read_word_list(path) -> list[str]:
    """The words of a text file (separated by white space); ConfigError naming the file when it
    cannot be read, is not UTF-8 or holds none."""
    words = read_text(path, "word list").split()
    if not words:
        raise ConfigError(f"{path}: the word list is empty")
    return words
