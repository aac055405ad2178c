"""Text: normalisation of transcripts and the vocabulary of output units.

Units are either the characters of the transcripts (any script; ``kind: chars``) or English
phones (``kind: phones``: the 39 ARPAbet phones of :mod:`lstm_asr.lexicon`, words separated by
the space unit). A character model learns each word's spelling from recordings of it; a phone
model learns sounds that all words share, and reads any word whose pronunciation the lexicon
knows or guesses, recordings or not (docs/speakers.md compares the two).

Chinese is modelled as characters (``kind: chars``): one Hanzi is one syllable and one CTC
unit, the transcript comes out in characters with no lexicon or conversion step, and the same
code serves every script. The alternatives were weighed: pinyin syllables with tones (about 1300
units) or initials and finals as phones (about 60, as EESEN and Kaldi's AISHELL recipes do) share
sounds across characters, which matters with little audio per character, but each needs a
character-to-pinyin lexicon with its polyphones (行 xíng/háng) and, to write characters again, a
language model to choose among homophones (十 and 是 are both shi). For a word list of a few
dozen characters (the ``mandarin`` model: ten digits and ten commands) characters are the smaller
system; for open Mandarin at AISHELL-1 scale, character CTC over about 4000 units is also what
WeNet and ESPnet ship (CER 5-7 %), so the choice scales. Tones need no special unit: the log-mel
front end resolves the low harmonics that carry the pitch contour (with 80 bins, several below
1 kHz), which is what tells 是 (shì) from 十 (shí); a pitch feature (as Kaldi adds) is not used.

Normalisation of transcripts (the form the models are trained on) is :mod:`lstm_asr.normalize`.
"""
from __future__ import annotations

import json
from pathlib import Path

from .errors import ConfigError
from .lexicon import PHONES, default_lexicon
from .normalize import normalize_text  # noqa: F401  (re-exported: text in, units out)

BLANK = "<blank>"
SPACE = " "


KINDS = ("chars", "phones")


class Vocabulary:
    """Output units. CTC: index 0 is the blank, then one entry per character (or phone, with
    ``kind="phones"``).

    Text meets units in three places: :meth:`encode` (a transcript -> training targets; a phone
    vocabulary takes each word's first pronunciation), :meth:`spellings` (a word -> every unit
    sequence that says it, for word lists) and :meth:`decode` (unit ids -> text; a phone
    vocabulary writes each word's phones joined by ``-``, e.g. ``W-AH-N``)."""

    blank = 0

    def __init__(self, units: list[str], kind: str = "chars"):
        if kind not in KINDS:
            raise ConfigError(f"vocabulary kind must be one of {', '.join(KINDS)}, not {kind!r}")
        self.kind = kind
        self._lexicon = None
        units = list(units)
        if not units or units[0] != BLANK:
            units = [BLANK] + [u for u in units if u != BLANK]
        if len(set(units)) != len(units):
            raise ConfigError("vocabulary has duplicate units")
        self.units = units
        self.index = {u: i for i, u in enumerate(self.units)}

    @classmethod
    def from_texts(cls, texts, kind: str = "chars") -> "Vocabulary":
        """Chars: every character of the (already normalised) ``texts``, in code-point order.
        Phones: the space and all 39 phones, whatever the texts (a word list may need any)."""
        if kind == "phones":
            return cls([BLANK, SPACE, *PHONES], kind="phones")
        chars = sorted({ch for t in texts for ch in t})
        return cls([BLANK] + chars)

    def __len__(self) -> int:
        return len(self.units)

    @property
    def lexicon(self):
        """The pronunciations a phone vocabulary reads words with (:func:`lexicon.default_lexicon`)."""
        if self._lexicon is None:
            self._lexicon = default_lexicon()
        return self._lexicon

    def prepare(self, words, lexicon=None) -> None:
        """Before :meth:`spellings` of many words: a phone vocabulary guesses the pronunciations
        the dictionaries lack in one go (one G2P process for all); characters need nothing."""
        if self.kind == "phones":
            (lexicon or self.lexicon).guess(words)

    def spellings(self, word: str, lexicon=None) -> list[list[int]]:
        """Every unit sequence that says ``word`` (one word, normalised): its characters, or each
        of its pronunciations (``lexicon``, default :attr:`lexicon`); [] when there is none."""
        if self.kind == "chars":
            return [] if self.unknown(word) else [self.encode(word)]
        lex = lexicon or self.lexicon
        return [[self.index[p] for p in pron] for pron in lex.pronunciations(word)
                if all(p in self.index for p in pron)]

    def encode(self, text: str) -> list[int]:
        """Normalised text -> unit ids. Raises KeyError on a character (or a word without a
        pronunciation) outside the vocabulary."""
        if self.kind == "chars":
            return [self.index[ch] for ch in text]
        ids: list[int] = []
        for word in text.split():
            spelled = self.spellings(word)
            if not spelled:
                raise KeyError(word)
            if ids:
                ids.append(self.index[SPACE])
            ids.extend(spelled[0])
        return ids

    def unknown(self, text: str) -> set[str]:
        """What ``text`` holds that these units cannot say: characters, or words without a pronunciation."""
        if self.kind == "chars":
            return {ch for ch in text if ch not in self.index}
        self.prepare(text.split())
        return {w for w in text.split() if not self.spellings(w)}

    def decode(self, ids) -> str:
        if self.kind == "chars":
            return "".join(self.units[i] for i in ids if i != self.blank)
        words, cur = [], []
        for i in ids:
            if i == self.blank:
                continue
            if self.units[i] == SPACE:
                words.append("-".join(cur))
                cur = []
            else:
                cur.append(self.units[i])
        words.append("-".join(cur))
        return " ".join(w for w in words if w)

    def reference(self, text: str) -> str:
        """A transcript as this vocabulary's :meth:`decode` would write it (phones: ``W-AH-N``)."""
        return text if self.kind == "chars" else self.decode(self.encode(text))

    def to_json(self) -> dict:
        d = {"blank": BLANK, "units": self.units}
        if self.kind != "chars":
            d["kind"] = self.kind
        return d

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            units = data["units"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{path}: not a vocabulary file ({e})") from None
        if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
            raise ConfigError(f"{path}: 'units' must be a list of strings")
        try:
            if data.get("blank") != BLANK:
                raise ConfigError(f"'blank' must be {BLANK!r}, not {data.get('blank')!r} (a classifier's vocabulary? "
                                  "classifier heads were removed from the library and live in benchmarks/)")
            return cls(units, kind=data.get("kind", "chars"))
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
