"""Decoders over CTC posteriors. Greedy: the best unit per frame, repeats merged, blanks removed.

:class:`GreedyDecoder` accepts posteriors chunk by chunk (for streaming) and gives the same
result as :func:`greedy_decode` on the whole sequence.

:class:`BeamSearchDecoder` is a CTC prefix beam search (sum over alignments, identical prefixes
merged) with optional word n-gram LM fusion (:mod:`lstm_asr.lm`), a closed word list and hotword
boosting; it too accepts posteriors chunk by chunk. :func:`word_spans` turns emitted units and
their frames (from either decoder) into timed words.
"""
from __future__ import annotations

import copy
import heapq
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .errors import ConfigError
from .text import SPACE


def greedy_decode(log_probs: torch.Tensor, blank: int = 0) -> list[int]:
    """(T, V) log-probabilities of one utterance -> unit ids."""
    dec = GreedyDecoder(blank)
    dec.accept(log_probs)
    return dec.ids


class GreedyDecoder:
    """``unit_bias``: (V,) added to every frame's log-probabilities before the choice (the units'
    prior correction, :func:`prior_bias`), or None."""

    def __init__(self, blank: int = 0, unit_bias=None):
        self.blank = blank
        self.bias = None if unit_bias is None else torch.as_tensor(unit_bias, dtype=torch.float32)
        self.ids: list[int] = []
        self.frames: list[int] = []  # output frame index of each emitted unit
        self._prev = blank
        self._t = 0

    def fork(self) -> "GreedyDecoder":
        """A copy that goes on independently (e.g. to decode provisional frames for a moment)."""
        twin = copy.copy(self)
        twin.ids, twin.frames = list(self.ids), list(self.frames)
        return twin

    def accept(self, log_probs: torch.Tensor) -> list[int]:
        """Feed (T, V) more frames; return the unit ids they added."""
        best = (log_probs if self.bias is None else log_probs + self.bias.to(log_probs.device)).argmax(dim=-1).tolist()
        new = []
        for k in best:
            if k != self.blank and k != self._prev:
                new.append(k)
                self.frames.append(self._t)
            self._prev = k
            self._t += 1
        self.ids.extend(new)
        return new


# ---- CTC prefix beam search ------------------------------------------------------------------
NEG_INF = -math.inf
LN10 = math.log(10.0)
SKIP_BLANK = 0.999  # blank frames this sure after another are skipped (BeamSearchDecoder)


def _lse(a: float, b: float) -> float:
    """log(exp(a) + exp(b))."""
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _listed_words(vocab, words, lexicon) -> list[str]:
    """A word list's words (entries with spaces split), each once in order, with ``vocab`` ready to
    spell them (:meth:`Vocabulary.prepare`); ConfigError when there is none."""
    listed = list(dict.fromkeys(w for entry in words for w in entry.split()))
    if not listed:
        raise ConfigError("the word list is empty")
    vocab.prepare(listed, lexicon)
    return listed


def prior_bias(log_priors, scale: float) -> np.ndarray | None:
    """What a decoder adds to each frame's log-probabilities so that it reads
    ``log p(unit | x) - scale * log p(unit)``: the CTC posteriors divided by the units' priors to
    the power ``scale`` (as a hybrid HMM system reads its network's outputs). A unit the model
    rarely emits (a phone heard only from synthetic voices) then gets a fairer hearing. None when
    ``scale`` is 0."""
    if not scale:
        return None
    return -float(scale) * np.asarray(log_priors, dtype=np.float64)


@dataclass
class Hypothesis:
    """One decoding result. ``score = acoustic + lm``: ``acoustic`` is the CTC log-probability of
    the text (summed over the alignments the search kept, natural log); ``lm`` is everything else
    (alpha-weighted LM log-probabilities in natural-log units, word insertion bonuses, hotword
    bonuses). ``ids`` are the emitted unit ids and ``frames`` the output frame at which each was
    first emitted (on the best alignment), as :class:`GreedyDecoder` records them. ``text`` is
    the units joined, with leading/trailing spaces stripped."""
    text: str
    score: float
    acoustic: float
    lm: float
    ids: list[int] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)


class _Beam:
    """A prefix in the beam. ``key`` encodes the unit ids as a string (one character per id)."""
    __slots__ = ("key", "last", "p_b", "p_nb", "lm", "bonus", "word", "ctx", "frames", "f_logp", "score",
                 "up", "nexts")

    def __init__(self, key: str, last: int, lm: float, bonus: float, word: str, ctx: tuple,
                 up: str | None = None, nexts: frozenset | None = None):
        self.key = key
        self.up = up              # the prefix one unit shorter (None for the empty prefix)
        self.nexts = nexts        # the units the word list allows next (None: any)
        self.last = last          # last unit id, -1 for the empty prefix
        self.p_b = NEG_INF        # log P(prefix, alignment ends in blank)
        self.p_nb = NEG_INF       # log P(prefix, alignment ends in its last unit)
        self.lm = lm              # LM + bonuses of the completed words
        self.bonus = bonus        # partial hotword bonus of the word being spelled
        self.word = word          # the word being spelled: its unit ids since the last space, as a key
        self.ctx = ctx            # LM context: the last order-1 words
        self.frames = None        # emission frames as a linked list (t, parent) of the best alignment
        self.f_logp = NEG_INF     # log-probability of the contribution that set ``frames``
        self.score = NEG_INF

    def copy(self) -> "_Beam":
        twin = _Beam.__new__(_Beam)
        for name in _Beam.__slots__:
            setattr(twin, name, getattr(self, name))
        return twin


def _score(b: _Beam) -> float:
    return b.score


def _unroll(frames) -> list[int]:
    out = []
    while frames is not None:
        out.append(frames[0])
        frames = frames[1]
    out.reverse()
    return out


class BeamSearchDecoder:
    """CTC prefix beam search over (T, V) log-probabilities of a vocabulary (characters or
    phones, :class:`~lstm_asr.text.Vocabulary`) whose ``" "`` unit separates words. Frames are fed with :meth:`accept`, chunk by chunk if wanted
    (the result is the same as feeding them at once); :meth:`finalize` gives the n best.

    - ``lm``: an :class:`~lstm_asr.lm.NgramLM`. Each completed word (a space after letters, or
      the end) adds ``alpha * ln(10) * lm.score(word, previous words) + beta``; the end adds
      ``alpha * ln(10) * lm.score("</s>", ...)``. ``beta`` is only used with an LM.
    - ``words``: the allowed words; the output then contains only these (entries with spaces
      are split into words). A prefix may only spell a prefix of an allowed word, and a word may
      only end where an allowed word ends. A word is spelled by :meth:`Vocabulary.spellings`
      (for phones: every pronunciation in ``lexicon``, default the vocabulary's); two words
      spelled alike (homophones) are output as the one listed first.
    - ``hotwords``: {word: bonus} added (natural-log units) when that word is completed; while
      the word is being spelled, ``bonus * len(prefix) / len(word)`` is added (and withdrawn if
      the prefix turns away from it) so that it survives pruning.
    - ``beam_size`` prefixes are kept per frame; only units with log-probability >=
      ``prune_logp`` at a frame are tried as extensions there.
    - ``unit_bias``: (V,) added to each frame's log-probabilities (:func:`prior_bias`), or None.
    - ``skip_blank``: in a run of frames whose blank has probability >= ``skip_blank``, only the
      first is decoded (the frames keep their indices, for word times). Most frames are such
      frames, and the ones skipped only multiply every prefix by nearly the same factor, so this
      is most of the decoder's speed and changed no transcript of the test sets (measured in
      ``benchmarks/RESULTS.md``). None decodes every frame (the exact sum over alignments).
    """

    def __init__(self, vocab, beam_size: int = 16, lm=None, alpha: float = 0.5, beta: float = 1.0,
                 words: list[str] | None = None, hotwords: dict[str, float] | None = None,
                 prune_logp: float = -12.0, lexicon=None, skip_blank: float | None = SKIP_BLANK, unit_bias=None):
        if beam_size < 1:
            raise ValueError("beam_size must be >= 1")
        if len(vocab) >= 0xD800:
            raise ValueError("vocabulary too large for the beam search's prefix keys")
        self.vocab = vocab
        self.units = list(vocab.units)
        self.blank = vocab.blank
        self.space = vocab.index.get(SPACE, -2)
        self.beam_size = beam_size
        self.lm = lm
        self.alpha = alpha
        self.beta = beta
        self.prune_logp = prune_logp
        self.bias = None if unit_bias is None else np.asarray(unit_bias, dtype=np.float64)
        if skip_blank is not None and not 0.0 < skip_blank < 1.0:
            raise ValueError("skip_blank must be a probability strictly between 0 and 1, or None")
        self._skip_logp = math.log(skip_blank) if skip_blank is not None else math.inf
        self._lm_w = alpha * LN10
        self.lexicon = lexicon
        self._words: dict[str, str] | None = None  # spelling key -> word
        self._prefixes: set[str] = set()
        if words is not None:
            listed = _listed_words(vocab, words, lexicon)
            self._words = {}
            for w in listed:
                for key in self._keys(w):
                    self._words.setdefault(key, w)
            self._prefixes = {k[:i] for k in self._words for i in range(1, len(k) + 1)}
        self._hot: dict[str, float] = {}
        self._hot_partial: dict[str, float] = {}
        for w, bonus in (hotwords or {}).items():
            if not w or len(w.split()) != 1 or w != w.strip():
                raise ConfigError(f"hotword {w!r} must be a single word")
            self._hot[w] = float(bonus)
            for key in self._keys(w):
                for i in range(1, len(key) + 1):
                    part = float(bonus) * i / len(key)
                    self._hot_partial[key[:i]] = max(part, self._hot_partial.get(key[:i], NEG_INF))
        # an upper bound on what one more unit can add to a prefix's non-acoustic score
        self._gain = max([0.0, *self._hot.values()]) + (max(beta, 0.0) if lm is not None else 0.0)
        if lm is not None and alpha < 0:
            self._gain = math.inf
        # word being spelled -> the units the word list allows next (:meth:`_nexts`): each prefix's
        # last unit after the prefix before it; a space where a word ends (or has not begun)
        grow: dict[str, set] = {"": set()}
        for key in self._prefixes:
            grow.setdefault(key[:-1], set()).add(ord(key[-1]))
        if self.space >= 0:
            for key in [*(self._words or ()), ""]:
                grow.setdefault(key, set()).add(self.space)
        self._next = {key: frozenset(units) for key, units in grow.items()}
        self.reset()

    def _keys(self, word: str) -> list[str]:
        """The prefix keys (one character per unit id) of every spelling of ``word``."""
        return ["".join(map(chr, ids)) for ids in self.vocab.spellings(word, self.lexicon) if ids]

    def _word(self, key: str) -> str:
        """The word a spelling key stands for: the listed word, else its units decoded."""
        if self._words is not None and key in self._words:
            return self._words[key]
        return self.vocab.decode([ord(ch) for ch in key])

    def _text(self, key: str) -> str:
        """A whole prefix key -> its text (words separated by single spaces)."""
        return " ".join(self._word(k) for k in key.split(chr(self.space)) if k) if self.space >= 0 \
            else self._word(key)

    def reset(self) -> None:
        """Forget all frames: start a new utterance."""
        ctx = self.lm.push((), "<s>") if self.lm is not None else ()
        root = _Beam("", -1, 0.0, 0.0, "", ctx, None, self._nexts(""))
        root.p_b = 0.0
        root.score = 0.0
        self._beams = [root]
        self._t = 0
        self._quiet = False  # the last frame fed was a blank frame (skip_blank)

    def fork(self) -> "BeamSearchDecoder":
        """A copy that goes on independently (a step updates its prefixes in place, so the copy
        gets its own): e.g. to decode provisional frames for a moment."""
        twin = copy.copy(self)
        twin._beams = [b.copy() for b in self._beams]
        return twin

    # ---- search ----------------------------------------------------------------------------
    def accept(self, log_probs) -> None:
        """Feed (T, V) more frames of log-probabilities (torch tensor or numpy array)."""
        lp = _as_numpy(log_probs)
        if lp.ndim != 2 or lp.shape[1] != len(self.units):
            raise ValueError(f"expected (T, {len(self.units)}) log-probabilities, got shape {tuple(lp.shape)}")
        if not lp.shape[0]:
            return
        quiet = lp[:, self.blank] >= self._skip_logp
        after = np.concatenate([[self._quiet], quiet[:-1]])
        kept = np.flatnonzero(~(quiet & after))  # a blank frame after another is skipped
        self._quiet = bool(quiet[-1])
        lp = lp[kept] if self.bias is None else lp[kept] + self.bias  # skipping reads the posteriors themselves
        rows = lp.tolist()
        order = np.argsort(-lp, axis=1, kind="stable")
        ok = np.take_along_axis(lp, order, axis=1) >= self.prune_logp
        ok &= order != self.blank
        start = self._t
        for i, t in enumerate(kept.tolist()):
            self._t = start + t
            self._step(rows[i], order[i][ok[i]].tolist())
        self._t = start + len(quiet)

    def _step(self, row: list[float], cands: list[int]) -> None:
        """One frame. ``cands``: the units that may extend a prefix here, most likely first.

        Exact pruning: a prefix that did not exist gets its whole score from one extension, so an
        extension whose score cannot reach the current k-th best (``floor``) is never built; the
        candidates are tried most likely first, so the rest of a prefix's candidates are skipped too.

        Written for speed (this loop is most of the decoder's time): the prefixes that stay are
        updated in place (their old probabilities and frames kept in lists for the growth step),
        log(e^a + e^b) is written out inline, and a prefix carries the units its word may go on
        with (``nexts``), so a unit the word list forbids costs one set lookup.
        """
        t = self._t
        k = self.beam_size
        gain = self._gain
        space = self.space
        blank_lp = row[self.blank]
        beams = self._beams
        log1p, exp = math.log1p, math.exp
        olds = []  # (total, p_b, frames) of each prefix before this frame
        kids: dict[str, list[_Beam]] = {}
        heap = []
        # the prefixes stay: a blank, or their last unit repeated
        for b in beams:
            a, c = b.p_b, b.p_nb
            if a < c:
                a, c = c, a
            tot = a if c == NEG_INF else a + log1p(exp(c - a))
            olds.append((tot, b.p_b, b.frames))
            c = b.p_nb
            b.p_b = b.f_logp = a = tot + blank_lp
            if b.last >= 0:
                if c > NEG_INF:
                    c += row[b.last]
                    b.p_nb = c
                    if c > a:
                        b.f_logp = c
                        a, c = c, a
                kids.setdefault(b.up, []).append(b)
            else:  # the empty prefix: alignments ending in a (leading) space joined it for one frame
                b.p_nb = c = NEG_INF
            b.score = (a if c == NEG_INF else a + log1p(exp(c - a))) + b.lm + b.bonus
            heap.append(b.score)
        heap.sort()  # a min-heap of the k best scores so far (the beam never holds more than k)
        floor = heap[0] if len(heap) >= k else NEG_INF
        touched = []  # prefixes whose probabilities grew after their score was taken
        new = []
        # the prefixes grow by one unit
        for b, (tot, p_b, frames) in zip(beams, olds):
            last = b.last
            grown = kids.get(b.key)
            if grown:  # into prefixes already in the beam: always merged
                for s in grown:
                    c = s.last
                    if c == last:
                        if p_b == NEG_INF:
                            continue
                        p = p_b + row[c]
                    else:
                        p = tot + row[c]
                    a = s.p_nb
                    s.p_nb = p if a == NEG_INF else (a + log1p(exp(p - a)) if a >= p else p + log1p(exp(a - p)))
                    touched.append(s)
                    if p > s.f_logp:
                        s.f_logp, s.frames = p, (t, frames)
                skip = {s.last for s in grown}
            else:
                skip = ()
            nexts = b.nexts
            reach = b.lm + gain
            for c in cands:
                p = tot + row[c]
                if p + reach < floor:
                    break
                if c in skip or (nexts is not None and c not in nexts):
                    continue
                if c == last:
                    p = p_b + row[c]
                    if p == NEG_INF or p + reach < floor:
                        continue
                if c == space and (last == -1 or last == space):
                    # a leading or second space spells the same text: its alignments join the
                    # prefix itself (summed, no beam slot of their own)
                    b.p_nb = _lse(b.p_nb, p)
                    touched.append(b)
                    continue
                s = self._extend(b, c)
                s.p_nb = s.f_logp = p
                s.frames = (t, frames)
                s.score = score = p + s.lm + s.bonus
                new.append(s)
                if len(heap) < k:
                    heapq.heappush(heap, score)
                    if len(heap) == k:
                        floor = heap[0]
                elif score > floor:
                    floor = heapq.heappushpop(heap, score)
        for s in touched:
            a, c = s.p_b, s.p_nb
            if a < c:
                a, c = c, a
            s.score = (a if c == NEG_INF else a + log1p(exp(c - a))) + s.lm + s.bonus
        live = beams + new if new else beams
        if len(live) > k:
            self._beams = heapq.nlargest(k, live, key=_score)
        else:
            live.sort(key=_score, reverse=True)
            self._beams = live
        self._t = t + 1

    def _nexts(self, word: str) -> frozenset | None:
        """The units the word list lets a prefix spelling ``word`` go on with (a space where a word
        may end); None without a word list."""
        return None if self._words is None else self._next.get(word, frozenset())

    def _extend(self, b: _Beam, c: int) -> _Beam:
        """The prefix ``b`` + unit ``c`` (one its ``nexts`` allow) with its LM state."""
        key = b.key + chr(c)
        if c == self.space:
            w = b.word
            if not w:
                return _Beam(key, c, b.lm, 0.0, "", b.ctx, b.key, self._nexts(""))
            add, ctx = self._complete(self._word(w), b.ctx)
            return _Beam(key, c, b.lm + add, 0.0, "", ctx, b.key, self._nexts(""))
        w = b.word + chr(c)
        bonus = self._hot_partial.get(w, 0.0) if self._hot_partial else 0.0
        return _Beam(key, c, b.lm, bonus, w, b.ctx, b.key, self._nexts(w))

    def _complete(self, word: str, ctx: tuple) -> tuple[float, tuple]:
        add = 0.0
        if self.lm is not None:
            add += self._lm_w * self.lm.score(word, ctx) + self.beta
            ctx = self.lm.push(ctx, word)
        if self._hot:
            add += self._hot.get(word, 0.0)
        return add, ctx

    # ---- results ---------------------------------------------------------------------------
    def partial(self) -> str:
        """The best text so far (no end-of-sentence scoring)."""
        return self._text(self._beams[0].key)

    def finalize(self, nbest: int = 1) -> list[Hypothesis]:
        """The ``nbest`` best hypotheses (distinct texts, best first), with the last word's LM
        score and word-list check and the end-of-sentence LM score applied. With a word list,
        prefixes ending in an unfinished word are dropped; only if every prefix does is the
        unfinished word cut off instead. The decoder's state is not changed."""
        done: dict[str, Hypothesis] = {}
        cut: dict[str, Hypothesis] = {}
        for b in self._beams:
            acoustic = _lse(b.p_b, b.p_nb)
            ids = [ord(ch) for ch in b.key]
            frames = _unroll(b.frames)
            lm, ctx, pool = b.lm, b.ctx, done
            if b.word:
                if self._words is not None and b.word not in self._words:
                    n = len(ids)
                    while n and ids[n - 1] != self.space:
                        n -= 1
                    ids, frames, pool = ids[:n], frames[:n], cut
                else:
                    add, ctx = self._complete(self._word(b.word), ctx)
                    lm += add
            if self.lm is not None:
                lm += self._lm_w * self.lm.score("</s>", ctx)
            text = self._text("".join(map(chr, ids)))  # "a b " and "a b" are one text
            h = Hypothesis(text, acoustic + lm, acoustic, lm, ids, frames)
            if text in pool:  # the same text by another prefix: their probabilities add up
                old = pool[text]
                keep = h if h.score > old.score else old
                acoustic = _lse(old.acoustic, h.acoustic)
                h = Hypothesis(text, acoustic + keep.lm, acoustic, keep.lm, keep.ids, keep.frames)
            pool[text] = h
        hyps = sorted((done or cut).values(), key=lambda h: h.score, reverse=True)
        return hyps[:max(nbest, 1)]


class WordChoiceDecoder:
    """Exactly one word of a closed list per utterance (a grammar of one word, as PocketSphinx's
    ``public <s> = <w>;``): every spelling of every listed word (:meth:`Vocabulary.spellings`,
    for phones each pronunciation in ``lexicon``) is scored by its exact CTC probability, the sum
    over all its alignments, and the most likely word wins (a word's score is its best spelling's,
    plus its ``hotwords`` bonus). No search, so nothing is pruned: the answer is never empty
    unless the utterance is too short to hold any listed word. Frames are fed with :meth:`accept`,
    chunk by chunk if wanted; :meth:`finalize` ranks the words. ``unit_bias`` as
    :class:`BeamSearchDecoder`'s."""

    def __init__(self, vocab, words: list[str], hotwords: dict[str, float] | None = None, lexicon=None,
                 unit_bias=None):
        self.bias = None if unit_bias is None else np.asarray(unit_bias, dtype=np.float64)
        listed = _listed_words(vocab, words, lexicon)
        self.vocab = vocab
        self.blank = vocab.blank
        self.bonus = {w: float((hotwords or {}).get(w, 0.0)) for w in listed}
        seen: set[tuple] = set()
        self._spellings: list[tuple[str, list[int]]] = []  # homophones: the word listed first
        for w in listed:
            for ids in vocab.spellings(w, lexicon):
                if ids and tuple(ids) not in seen:
                    seen.add(tuple(ids))
                    self._spellings.append((w, ids))
        if not self._spellings:
            raise ConfigError("no word of the list can be spelled by this model")
        self.reset()

    def reset(self) -> None:
        self._chunks: list[np.ndarray] = []

    def fork(self) -> "WordChoiceDecoder":
        twin = copy.copy(self)
        twin._chunks = list(self._chunks)
        return twin

    def accept(self, log_probs) -> None:
        lp = _as_numpy(log_probs)
        if lp.ndim != 2 or lp.shape[1] != len(self.vocab):
            raise ValueError(f"expected (T, {len(self.vocab)}) log-probabilities, got shape {tuple(lp.shape)}")
        if lp.shape[0]:
            self._chunks.append(lp if self.bias is None else lp + self.bias)

    def partial(self) -> str:
        """The most likely word for the frames so far."""
        hyps = self.finalize()
        return hyps[0].text if hyps else ""

    def finalize(self, nbest: int = 1) -> list[Hypothesis]:
        """The ``nbest`` most likely words, best first (each with the unit ids and emission frames
        of its best spelling's best alignment); [] when no word fits in the frames."""
        if not self._chunks:
            return []
        lp = np.concatenate(self._chunks)
        n, longest = len(self._spellings), max(len(ids) for _, ids in self._spellings)
        targets = torch.zeros(n, longest, dtype=torch.long)
        for k, (_, ids) in enumerate(self._spellings):
            targets[k, :len(ids)] = torch.tensor(ids)
        x = torch.from_numpy(lp)[:, None, :].expand(-1, n, -1)
        nll = torch.nn.functional.ctc_loss(
            x, targets, torch.full((n,), lp.shape[0], dtype=torch.long),
            torch.tensor([len(ids) for _, ids in self._spellings]), blank=self.blank, reduction="none")
        best: dict[str, tuple[float, list[int]]] = {}
        for (w, ids), v in zip(self._spellings, (-nll).tolist()):
            if math.isfinite(v) and (w not in best or v > best[w][0]):
                best[w] = (v, ids)
        ranked = sorted(best, key=lambda w: best[w][0] + self.bonus[w], reverse=True)[:max(nbest, 1)]
        return [Hypothesis(w, best[w][0] + self.bonus[w], best[w][0], self.bonus[w], best[w][1],
                           ctc_align(lp, best[w][1], self.blank)) for w in ranked]


def ctc_align(log_probs, ids: list[int], blank: int = 0) -> list[int]:
    """The frame at which each unit of ``ids`` is first emitted on the most likely CTC alignment
    (Viterbi) of (T, V) ``log_probs``; ValueError when the frames are too few for the units."""
    lp = _as_numpy(log_probs)
    ext = [blank]
    for i in ids:
        ext += [i, blank]
    S, T = len(ext), lp.shape[0]
    ext_a = np.array(ext)
    # a unit may follow the unit two states back unless it repeats it (then a blank must come between)
    skip = np.zeros(S, dtype=bool)
    skip[3::2] = ext_a[3::2] != ext_a[1:-2:2]
    delta = np.full(S, NEG_INF)
    delta[0] = lp[0, blank]
    if S > 1:
        delta[1] = lp[0, ext[1]]
    back = np.zeros((T, S), dtype=np.int8)  # 0: stay, 1: from s-1, 2: from s-2
    for t in range(1, T):
        cands = np.stack([delta,
                          np.concatenate([[NEG_INF], delta[:-1]]),
                          np.where(skip, np.concatenate([[NEG_INF, NEG_INF], delta[:-2]]), NEG_INF)])
        back[t] = cands.argmax(0)
        delta = cands.max(0) + lp[t, ext_a]
    s = S - 1 if S == 1 or delta[S - 1] >= delta[S - 2] else S - 2
    if not math.isfinite(delta[s]):
        raise ValueError(f"{T} frames cannot hold {len(ids)} units")
    frames = [0] * len(ids)
    for t in range(T - 1, -1, -1):
        if s % 2:
            frames[s // 2] = t  # ends at the earliest frame of the unit's run
        s -= int(back[t, s])
    return frames


def beam_search(log_probs, vocab, nbest: int = 1, **kw) -> list[Hypothesis]:
    """Decode one utterance's (T, V) log-probabilities; ``kw`` go to :class:`BeamSearchDecoder`."""
    dec = BeamSearchDecoder(vocab, **kw)
    dec.accept(log_probs)
    return dec.finalize(nbest)


def word_spans(ids, frames, vocab, frame_seconds: float, log_probs=None, words=None) -> list[dict]:
    """Group emitted units into words at spaces: ``[{"word", "start", "end", "confidence"}]``.

    ``ids``/``frames``: emitted unit ids and the output frame of each (a :class:`Hypothesis`'s
    fields, or :class:`GreedyDecoder`'s ``ids`` and ``frames``). A word starts at its first
    unit's frame and ends one frame after its last unit's frame (times in seconds). Its
    confidence is the mean over its units of the probability of *that unit* at the frame where it
    was emitted (``log_probs``: the (T, V) log-probabilities), so a unit forced by a word list or
    an LM gets the low confidence the network gave it; without ``log_probs`` it is 1.0. Values
    rounded to 3 decimals. ``words``: the words of the text, one per group of units, in order
    (a phone model's words come from its word list, not from its units); default the units joined.
    """
    ids, frames = list(ids), list(frames)
    if len(ids) != len(frames):
        raise ValueError(f"{len(ids)} unit ids but {len(frames)} frames")
    lp = None
    if log_probs is not None:
        lp = _as_numpy(log_probs)
        if lp.ndim != 2:
            raise ValueError("log_probs must be (T, V)")
    units = vocab.units
    spans: list[dict] = []
    cur: list[int] = []

    def flush():
        if not cur:
            return
        conf = 1.0 if lp is None else float(np.mean([math.exp(lp[frames[j], ids[j]]) for j in cur]))
        name = words[len(spans)] if words is not None and len(spans) < len(words) else vocab.decode([ids[j] for j in cur])
        spans.append({"word": name,
                      "start": round(frames[cur[0]] * frame_seconds, 3),
                      "end": round((frames[cur[-1]] + 1) * frame_seconds, 3),
                      "confidence": round(conf, 3)})
        cur.clear()

    for j, i in enumerate(ids):
        if i == vocab.blank:
            continue
        if units[i] == SPACE:
            flush()
        else:
            cur.append(j)
    flush()
    return spans
