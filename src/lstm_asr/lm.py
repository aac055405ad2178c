"""Word n-gram language models in the ARPA text format (the format KenLM's ``lmplz`` writes).

:class:`NgramLM` loads an ARPA file and scores words with standard back-off; :func:`build_arpa`
estimates an interpolated modified Kneser-Ney model from a small text corpus and returns it as
ARPA text, so a decoder's LM can be made without any external tool.

All scores are log10 probabilities, as in the ARPA format. ``<s>`` starts a sentence, ``</s>``
ends it and ``<unk>`` stands for every word the model does not list.
"""
from __future__ import annotations

import gzip
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable

from .errors import ConfigError

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
UNK_LOGP = -7.0  # log10 P of a word the model lacks when it has no <unk> entry
_SPECIAL = (BOS, EOS, UNK)


class NgramLM:
    """A back-off n-gram model: ``score(word, context)`` is log10 P(word | context).

    ``vocab`` holds the model's words proper (its unigrams less ``<s>``, ``</s>`` and ``<unk>``).
    """

    def __init__(self, order: int, logp: dict[tuple[str, ...], float], backoff: dict[tuple[str, ...], float]):
        self.order = order
        self._logp = logp
        self._backoff = backoff
        self.has_unk = (UNK,) in logp
        self.vocab = {g[0] for g in logp if len(g) == 1 and g[0] not in _SPECIAL}
        self._unigrams = {g[0] for g in logp if len(g) == 1}
        self._cache: dict[tuple[str, tuple[str, ...]], float] = {}

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "NgramLM":
        """Read an ARPA file (``.gz`` too). Errors: :class:`ConfigError` ``"PATH:LINE: reason"``."""
        path = Path(path)
        try:
            raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
        except OSError as e:
            raise ConfigError(f"{path}: cannot read language model ({e.strerror or e})") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not an ARPA text file (binary KenLM models are not supported; "
                              "use the .arpa file)") from None
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, name: str = "<arpa>") -> "NgramLM":
        """Parse ARPA ``text``; ``name`` is the file name used in error messages."""
        def fail(line: int, reason: str):
            raise ConfigError(f"{name}:{line}: {reason}")

        lines = text.splitlines()
        n = len(lines)
        i = 0
        while i < n and lines[i].strip() != "\\data\\":  # text before \data\ is a comment
            i += 1
        if i == n:
            fail(1, "not an ARPA file: no \\data\\ line")
        i += 1
        counts: dict[int, int] = {}
        while i < n:
            s = lines[i].strip()
            if not s:
                i += 1
                continue
            if not s.startswith("ngram "):
                break
            key, eq, val = s[6:].partition("=")
            try:
                k, c = int(key), int(val)
            except ValueError:
                fail(i + 1, f"bad count line {s!r} (expected 'ngram N=COUNT')")
            if not eq or k < 1 or c < 0:
                fail(i + 1, f"bad count line {s!r} (expected 'ngram N=COUNT')")
            if k in counts:
                fail(i + 1, f"count of {k}-grams given twice")
            counts[k] = c
            i += 1
        if not counts:
            fail(min(i + 1, n), "no 'ngram N=COUNT' lines after \\data\\")
        order = max(counts)
        if sorted(counts) != list(range(1, order + 1)):
            fail(i + 1 if i < n else n, f"n-gram counts must be given for orders 1..{order}")

        logp: dict[tuple[str, ...], float] = {}
        backoff: dict[tuple[str, ...], float] = {}
        k = 0  # order of the section being read
        found = 0
        header_line = 0
        ended = False
        while i < n:
            s = lines[i].strip()
            lineno = i + 1
            i += 1
            if not s:
                continue
            if s.startswith("\\"):
                if k:
                    if found != counts[k]:
                        fail(header_line, f"\\{k}-grams: header says {counts[k]} entries, found {found}")
                if s == "\\end\\":
                    if k != order:
                        fail(lineno, f"\\end\\ before the \\{k + 1}-grams: section")
                    ended = True
                    break
                expect = f"\\{k + 1}-grams:"
                if s != expect:
                    fail(lineno, f"expected '{expect}', found '{s}'")
                k += 1
                found = 0
                header_line = lineno
                continue
            if not k:
                fail(lineno, f"expected '\\1-grams:', found {s!r}")
            parts = s.split()
            if len(parts) not in (k + 1, k + 2):
                fail(lineno, f"a {k}-gram line needs a log10 probability, {k} word(s) and an optional "
                             f"back-off weight; found {len(parts)} field(s)")
            try:
                lp = float(parts[0])
                bo = float(parts[k + 1]) if len(parts) == k + 2 else None
            except ValueError:
                fail(lineno, f"not a number in {s!r}")
            if lp > 0 or math.isnan(lp):
                fail(lineno, f"log10 probability {parts[0]} is not <= 0")
            if bo is not None and not math.isfinite(bo):
                fail(lineno, f"back-off weight {parts[k + 1]} is not a finite number")
            gram = tuple(parts[1:k + 1])
            if gram in logp:
                fail(lineno, f"duplicate {k}-gram {' '.join(gram)!r}")
            logp[gram] = lp
            if bo is not None and bo != 0.0:
                backoff[gram] = bo
            found += 1
        if not ended:
            fail(n, "missing \\end\\ (truncated file?)")
        return cls(order, logp, backoff)

    # ---- scoring -------------------------------------------------------------------------
    def _map(self, word: str) -> str:
        return word if word in self._unigrams or not self.has_unk else UNK

    def score(self, word: str, context: tuple[str, ...] = ()) -> float:
        """log10 P(``word`` | ``context``); ``context`` lists the preceding words, oldest first
        (start it with ``"<s>"`` for the start of a sentence). Only the last ``order - 1`` are used.
        Unknown words are scored as ``<unk>`` (or get ``UNK_LOGP`` when the model has none)."""
        context = tuple(context[len(context) - self.order + 1:]) if self.order > 1 else ()
        key = (word, context)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        w = self._map(word)
        ctx = tuple(self._map(c) for c in context)
        total = 0.0
        for j in range(len(ctx) + 1):
            h = ctx[j:]
            lp = self._logp.get(h + (w,))
            if lp is not None:
                total += lp
                break
            total += self._backoff.get(h, 0.0)
        else:
            total += UNK_LOGP
        if len(self._cache) < 1_000_000:
            self._cache[key] = total
        return total

    def push(self, context: tuple[str, ...], word: str) -> tuple[str, ...]:
        """The context after ``word`` (kept to the ``order - 1`` words the model can use)."""
        if self.order == 1:
            return ()
        return (tuple(context) + (word,))[-(self.order - 1):]

    def sentence_score(self, words: str | Iterable[str], bos: bool = True, eos: bool = True) -> float:
        """log10 probability of a word sequence (a string is split on whitespace)."""
        if isinstance(words, str):
            words = words.split()
        ctx: tuple[str, ...] = self.push((), BOS) if bos else ()
        total = 0.0
        for w in words:
            total += self.score(w, ctx)
            ctx = self.push(ctx, w)
        if eos:
            total += self.score(EOS, ctx)
        return total

    def __repr__(self) -> str:
        return f"NgramLM(order={self.order}, words={len(self.vocab)}, ngrams={len(self._logp)})"


# ---- estimation ---------------------------------------------------------------------------
def _discounts(n: list[int]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from counts of counts n[1..4] (Chen & Goodman).
    When a count of counts is 0 or a discount leaves its sane range (0 < Dc < c), as happens on
    tiny corpora, one discount D = n1 / (n1 + 2 n2), clamped to [0.1, 0.9], is used for all."""
    n1, n2, n3, n4 = n[1], n[2], n[3], n[4]
    if min(n1, n2, n3, n4) > 0:
        y = n1 / (n1 + 2 * n2)
        d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
        if all(0 < dc < c for c, dc in enumerate(d, 1)):
            return d
    d = n1 / (n1 + 2 * n2) if n1 else 0.5
    d = min(max(d, 0.1), 0.9)
    return d, d, d


def _fmt(x: float) -> str:
    return "0" if x == 0 else format(x, ".9g")


def build_arpa(sentences: Iterable[str], order: int = 3) -> str:
    """Estimate an interpolated modified Kneser-Ney n-gram model and return it as ARPA text.

    ``sentences``: one sentence per item, words split on whitespace (empty ones are skipped).
    Lower orders use continuation counts (n-grams that start with ``<s>`` keep their raw counts),
    each order has its own three discounts, and the unigram level is interpolated with the
    uniform distribution, which is where ``<unk>`` gets its (small) probability. No pruning.
    Back-off weights are the interpolation weights, so every context's distribution sums to 1.
    """
    if order < 1:
        raise ValueError("order must be >= 1")
    raw: list[Counter] = [Counter() for _ in range(order + 1)]
    n_sent = 0
    for line in sentences:
        words = [w for w in line.split() if w not in (BOS, EOS)]
        if not words:
            continue
        n_sent += 1
        toks = [BOS, *words, EOS]
        for k in range(1, order + 1):
            ck = raw[k]
            for j in range(len(toks) - k + 1):
                ck[tuple(toks[j:j + k])] += 1
    if not n_sent:
        raise ConfigError("cannot build a language model from an empty corpus")
    while order > 1 and not raw[order]:  # sentences too short for the highest orders
        order -= 1

    # adjusted counts: raw at the highest order, continuation counts below it
    adj: list[dict] = [{} for _ in range(order + 1)]
    adj[order] = dict(raw[order])
    for k in range(order - 1, 0, -1):
        cont = Counter(g[1:] for g in raw[k + 1])
        adj[k] = {g: (c if g[0] == BOS else cont[g]) for g, c in raw[k].items()}
    adj[1].pop((BOS,), None)  # <s> is never predicted
    adj[1].setdefault((EOS,), 0)
    adj[1].setdefault((UNK,), 0)

    prob: list[dict] = [{} for _ in range(order + 1)]
    gamma: list[dict] = [{} for _ in range(order + 1)]  # gamma[k][h]: weight of the lower order after h
    for k in range(1, order + 1):
        n = [0] * 5
        for a in adj[k].values():
            if 1 <= a <= 4:
                n[a] += 1
        d1, d2, d3 = _discounts(n)
        disc = lambda a: 0.0 if a == 0 else d1 if a == 1 else d2 if a == 2 else d3  # noqa: E731
        total: dict = defaultdict(int)
        mass: dict = defaultdict(float)
        for g, a in adj[k].items():
            total[g[:-1]] += a
            mass[g[:-1]] += disc(a)
        gk = {h: mass[h] / total[h] for h in total}
        gamma[k] = gk
        pk = prob[k]
        if k == 1:
            uniform = gk[()] / len(adj[1])
            for g, a in adj[1].items():
                pk[g] = (a - disc(a)) / total[()] + uniform
        else:
            lower = prob[k - 1]
            for g, a in adj[k].items():
                h = g[:-1]
                pk[g] = (a - disc(a)) / total[h] + gk[h] * lower[g[1:]]

    out = ["\\data\\"]
    sizes = [len(prob[1]) + 1] + [len(prob[k]) for k in range(2, order + 1)]
    out += [f"ngram {k}={c}" for k, c in enumerate(sizes, 1)]
    for k in range(1, order + 1):
        out += ["", f"\\{k}-grams:"]
        entries = sorted(prob[k].items())
        if k == 1:
            entries = [((BOS,), None)] + entries
        nxt = gamma[k + 1] if k < order else {}
        for g, p in entries:
            lp = -99.0 if p is None else math.log10(p)
            fields = [_fmt(lp), " ".join(g)]
            if k < order and g[-1] != EOS:
                fields.append(_fmt(math.log10(nxt[g])) if g in nxt else "0")
            out.append("\t".join(fields))
    out += ["", "\\end\\", ""]
    return "\n".join(out)


def save_arpa(text: str, path: str | Path, inputs=()) -> None:
    """Write ARPA ``text`` (from :func:`build_arpa`) to ``path`` (gzip-compressed if it ends in .gz),
    through a temporary file renamed into place, never over one of ``inputs``
    (:func:`lstm_asr.output.write_atomic`; ConfigError when it cannot be written)."""
    from .output import write_atomic
    path = Path(path)
    data = text.encode("utf-8")
    write_atomic(path, gzip.compress(data, mtime=0) if path.suffix == ".gz" else data, inputs=inputs)
