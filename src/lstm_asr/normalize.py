"""Transcripts in the form the models are trained on.

Normalisation (Unicode NFKC, then): letters are lower-cased; punctuation and symbols become
spaces, except an apostrophe inside a word (``don't``); whitespace is collapsed. Characters of
scripts without case (Chinese, Japanese, Thai, ...) are kept as they are, and spaces between CJK
characters are dropped because those scripts do not write them.
"""
from __future__ import annotations

import unicodedata


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
