"""Text: normalisation of transcripts and the vocabulary of output units (characters, any script).

Normalisation (Unicode NFKC, then): letters are lower-cased; punctuation and symbols become
spaces, except an apostrophe inside a word (``don't``); whitespace is collapsed. Characters of
scripts without case (Chinese, Japanese, Thai, ...) are kept as they are, and spaces between CJK
characters are dropped because those scripts do not write them.
"""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from .errors import ConfigError

BLANK = "<blank>"
SPACE = " "


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (0x3040 <= cp <= 0x30FF or 0x3400 <= cp <= 0x4DBF or 0x4E00 <= cp <= 0x9FFF
            or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x2FA1F)


def normalize_text(text: str) -> str:
    """Return the transcript in the form the models are trained on (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    out = []
    for k, ch in enumerate(text):
        cat = unicodedata.category(ch)
        if ch in "'’" and 0 < k < len(text) - 1 and text[k - 1].isalpha() and text[k + 1].isalpha():
            out.append("'")
        elif cat[0] in "PSZC":
            out.append(" ")
        else:
            out.append(ch)
    words = "".join(out).split()
    # glue neighbouring CJK words: those scripts put no spaces between words
    result = ""
    for w in words:
        if result and not (_is_cjk(result[-1]) and _is_cjk(w[0])):
            result += " "
        result += w
    return result


class Vocabulary:
    """Output units. CTC: index 0 is the blank, then one entry per character. A classifier's
    vocabulary (``has_blank=False``) lists its class labels."""

    def __init__(self, units: list[str], has_blank: bool = True):
        units = list(units)
        if has_blank and (not units or units[0] != BLANK):
            units = [BLANK] + [u for u in units if u != BLANK]
        if len(set(units)) != len(units):
            raise ConfigError("vocabulary has duplicate units")
        self.has_blank = has_blank
        self.blank = 0 if has_blank else -1
        self.units = units
        self.index = {u: i for i, u in enumerate(self.units)}

    @classmethod
    def from_texts(cls, texts) -> "Vocabulary":
        """Every character of the (already normalised) ``texts``, in code-point order."""
        chars = sorted({ch for t in texts for ch in t})
        return cls([BLANK] + chars)

    def __len__(self) -> int:
        return len(self.units)

    def encode(self, text: str) -> list[int]:
        """Normalised text -> unit ids. Raises KeyError on a character outside the vocabulary."""
        return [self.index[ch] for ch in text]

    def unknown(self, text: str) -> set[str]:
        return {ch for ch in text if ch not in self.index}

    def decode(self, ids) -> str:
        return "".join(self.units[i] for i in ids if i != self.blank)

    def to_json(self) -> dict:
        return {"blank": BLANK if self.has_blank else None, "units": self.units}

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
            return cls(units, has_blank=data.get("blank") is not None)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
