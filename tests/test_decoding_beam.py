"""CTC prefix beam search: LM fusion, word lists, hotwords, n-best, streaming, word timings; the one-word
choice and CTC alignment."""
import itertools
import math

import numpy as np
import pytest
import torch

from lstm_asr.decoding import (BeamSearchDecoder, GreedyDecoder, Hypothesis, WordChoiceDecoder, beam_search,
                               ctc_align, greedy_decode, word_spans)
from lstm_asr.errors import ConfigError
from lstm_asr.lexicon import Lexicon
from lstm_asr.lm import NgramLM, build_arpa
from lstm_asr.text import Vocabulary

torch.set_num_threads(1)

VOCAB = Vocabulary(["<blank>"] + list(" abcdefghijklmnopqrstuvwxyz'"))  # V = 29
V = len(VOCAB)
DIGITS = "zero one two three four five six seven eight nine".split()


def frame(probs) -> np.ndarray:
    """One frame: ``probs`` maps units ("_" = blank) to probabilities, or is one unit (p = 0.9);
    the rest of the mass is spread evenly over the other units. Returns log-probabilities."""
    if isinstance(probs, str):
        probs = {probs: 0.9}
    p = np.zeros(V)
    for u, q in probs.items():
        p[VOCAB.index["<blank>" if u == "_" else u]] = q
    rest = p == 0
    p[rest] = (1 - p.sum()) / rest.sum()
    return np.log(p)


def spell(*parts) -> np.ndarray:
    """Frames for the parts: a string is spelled one unit per frame with a blank frame after each
    unit; a dict is one ambiguous frame (followed by a blank frame)."""
    rows = []
    for part in parts:
        for u in ([part] if isinstance(part, dict) else part):
            rows += [frame(u), frame("_")]
    return np.stack(rows)


def random_posteriors(rng: np.random.Generator, T: int, peaky: bool) -> torch.Tensor:
    if not peaky:
        return torch.from_numpy(rng.normal(size=(T, V)) * 2.5).log_softmax(-1)
    rows = []
    for _ in range(T):
        best = 0 if rng.random() < 0.5 else int(rng.integers(1, V))
        p = rng.dirichlet(np.ones(V)) * 0.08
        p[best] += rng.uniform(0.7, 0.9)
        rows.append(np.log(p / p.sum()))
    return torch.from_numpy(np.stack(rows))


def path_logp(lp: torch.Tensor) -> float:
    return lp.max(dim=-1).values.sum().item()


def ctc_logp(lp: torch.Tensor, ids: list[int]) -> float:
    """log P(ids | lp) summed over all alignments, by torch's CTC loss."""
    loss = torch.nn.functional.ctc_loss(lp.unsqueeze(1), torch.tensor([ids], dtype=torch.long),
                                        torch.tensor([lp.shape[0]]), torch.tensor([len(ids)]),
                                        blank=0, reduction="sum", zero_infinity=False)
    return -loss.item()


def lm_from(lines, order=3) -> NgramLM:
    return NgramLM.parse(build_arpa(lines, order))


# ---- plain search ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(8))
def test_beam_1_equals_greedy_and_wider_beams_score_no_worse(seed):
    rng = np.random.default_rng(seed)
    lp = random_posteriors(rng, 80, peaky=True)
    greedy = GreedyDecoder()
    greedy.accept(lp)
    (h1,) = beam_search(lp, VOCAB, beam_size=1)
    space = VOCAB.index[" "]
    keep = [j for j, i in enumerate(greedy.ids)  # beam search spells no leading or doubled space
            if not (i == space and (j == 0 or greedy.ids[j - 1] == space))]
    assert h1.ids == [greedy.ids[j] for j in keep] and h1.frames == [greedy.frames[j] for j in keep]
    assert h1.text == " ".join(VOCAB.decode(greedy.ids).split())
    assert h1.lm == 0 and h1.score == h1.acoustic
    for peaky in (True, False):
        lp = random_posteriors(rng, 60, peaky)
        one = beam_search(lp, VOCAB, beam_size=1)[0]
        wide = beam_search(lp, VOCAB, beam_size=16)[0]
        assert wide.acoustic >= path_logp(lp) - 1e-9
        assert wide.acoustic >= one.acoustic - 1e-9


def test_prefix_scores_sum_over_all_alignments():
    units = Vocabulary(["<blank>", " ", "a", "b"])
    lp = torch.from_numpy(np.random.default_rng(3).normal(size=(6, 4)) * 2).log_softmax(-1)
    # brute force: every alignment, collapsed, its text's spaces normalised
    total: dict[str, float] = {}
    for path in itertools.product(range(4), repeat=6):
        ids = [k for j, k in enumerate(path) if k and (j == 0 or k != path[j - 1])]
        text = " ".join(units.decode(ids).split())
        s = sum(lp[t, k].item() for t, k in enumerate(path))
        total[text] = np.logaddexp(total.get(text, -np.inf), s)
    hyps = beam_search(lp, units, nbest=10_000, beam_size=10_000, prune_logp=-1e9)
    assert hyps[0].text == max(total, key=total.get)
    assert sorted(h.text for h in hyps) == sorted(total)  # every text once
    for h in hyps:
        assert h.acoustic == pytest.approx(total[h.text], abs=1e-9)
    best = hyps[0]  # at least what torch gives its spellings with leading/trailing spaces
    sp = units.index[" "]
    spellings = [best.ids, [sp] + best.ids, best.ids + [sp], [sp] + best.ids + [sp]]
    assert best.acoustic >= np.logaddexp.reduce([ctc_logp(lp, ids) for ids in spellings]) - 1e-4  # and doubled spaces


def reference_prefix_search(lp: torch.Tensor, beam: int) -> dict[tuple, float]:
    """Textbook CTC prefix beam search, no pruning but the beam: {ids: log P}."""
    beams = {(): (0.0, -math.inf)}  # prefix -> (log p_blank, log p_non_blank)
    for row in lp.tolist():
        nxt: dict[tuple, list] = {}
        for prefix, (pb, pnb) in beams.items():
            tot = np.logaddexp(pb, pnb)
            e = nxt.setdefault(prefix, [-math.inf, -math.inf])
            e[0] = np.logaddexp(e[0], tot + row[0])
            if prefix:
                e[1] = np.logaddexp(e[1], pnb + row[prefix[-1]])
            for c in range(1, len(row)):
                p = (pb if prefix and c == prefix[-1] else tot) + row[c]
                e = nxt.setdefault(prefix + (c,), [-math.inf, -math.inf])
                e[1] = np.logaddexp(e[1], p)
        best = sorted(nxt.items(), key=lambda kv: -np.logaddexp(*kv[1]))[:beam]
        beams = {k: tuple(v) for k, v in best}
    return {k: float(np.logaddexp(*v)) for k, v in beams.items()}


@pytest.mark.parametrize("beam", [1, 3, 16])
def test_matches_a_textbook_prefix_search(beam):
    lp = random_posteriors(np.random.default_rng(beam), 40, peaky=False)
    want = reference_prefix_search(lp, beam)
    got = beam_search(lp, VOCAB, nbest=beam, beam_size=beam, prune_logp=-math.inf)
    assert len(got) == len(want)
    for h in got:
        assert h.acoustic == pytest.approx(want[tuple(h.ids)], abs=1e-9)


def test_prefix_search_beats_greedy_where_alignments_add_up():
    # two frames, each 0.6 blank / 0.4 "a": the best single path is blank-blank (0.36), but
    # "a" is spelled by three paths: aa, a-, -a = 0.16 + 0.24 + 0.24 = 0.64
    lp = torch.tensor([[0.6, 0.4], [0.6, 0.4]]).log()
    units = Vocabulary(["<blank>", "a"])
    assert greedy_decode(lp) == []
    (h,) = beam_search(lp, units, beam_size=4)
    assert h.text == "a" and h.acoustic == pytest.approx(math.log(0.64))


# ---- language model -------------------------------------------------------------------------
LM_LINES = ["one two three", "one two three four", "one two", "two three four five",
            "me too", "i want to go too", "you too"]


def test_lm_fixes_an_acoustically_ambiguous_word():
    lp = spell("one ", "t", {"o": 0.5, "w": 0.4}, "o ", "three")
    lm = lm_from(LM_LINES)
    assert beam_search(lp, VOCAB)[0].text == "one too three"
    assert beam_search(lp, VOCAB, lm=lm, alpha=0.0)[0].text == "one too three"
    fused = beam_search(lp, VOCAB, lm=lm, alpha=0.5, beta=1.0)[0]
    assert fused.text == "one two three"
    # the LM part of the score is exactly alpha * ln(10) * log10 P(sentence) + beta * words
    want = 0.5 * math.log(10) * lm.sentence_score("one two three") + 3 * 1.0
    assert fused.lm == pytest.approx(want, abs=1e-9)
    assert fused.score == pytest.approx(fused.acoustic + fused.lm)
    # acoustics that clearly say "too" still win over the LM
    lp = spell("one ", "t", {"o": 0.97}, "o ", "three")
    assert beam_search(lp, VOCAB, lm=lm, alpha=0.5)[0].text == "one too three"


def test_lm_words_are_scored_at_spaces_while_streaming():
    lm = lm_from(LM_LINES)
    dec = BeamSearchDecoder(VOCAB, lm=lm)
    dec.accept(spell("one t"))
    assert dec.partial() == "one t"
    dec.accept(spell("wo"))
    (h,) = dec.finalize()
    assert h.text == "one two"
    assert h.lm == pytest.approx(0.5 * math.log(10) * lm.sentence_score("one two") + 2.0)


# ---- word list ------------------------------------------------------------------------------
def test_word_list_snaps_to_allowed_words():
    assert beam_search(spell("fiv"), VOCAB)[0].text == "fiv"
    assert beam_search(spell("fiv"), VOCAB, words=DIGITS)[0].text == "five"
    assert beam_search(spell("sevem"), VOCAB, words=DIGITS)[0].text == "seven"
    assert beam_search(spell("fiv sevem too"), VOCAB, words=DIGITS)[0].text == "five seven two"


@pytest.mark.parametrize("seed", range(4))
def test_word_list_output_is_always_in_the_list(seed):
    lp = random_posteriors(np.random.default_rng(seed), 50, peaky=seed % 2 == 0)
    hyps = beam_search(lp, VOCAB, nbest=8, words=DIGITS)
    assert hyps
    for h in hyps:
        assert set(h.text.split()) <= set(DIGITS), h.text
        assert h.text == " ".join(VOCAB.decode(h.ids).split()) and len(h.frames) == len(h.ids)


def test_empty_word_list_is_an_error():
    with pytest.raises(ConfigError, match="empty"):
        BeamSearchDecoder(VOCAB, words=[" "])


# ---- hotwords -------------------------------------------------------------------------------
def test_hotword_boost_makes_a_losing_word_win():
    lp = spell("the ", {"c": 0.55, "k": 0.35}, "at")
    assert beam_search(lp, VOCAB)[0].text == "the cat"
    (h,) = beam_search(lp, VOCAB, hotwords={"kat": 2.0})
    assert h.text == "the kat" and h.lm == pytest.approx(2.0)
    # a partly spelled hotword that is then abandoned keeps no bonus
    (h,) = beam_search(spell("the kit"), VOCAB, hotwords={"kat": 2.0})
    assert h.text == "the kit" and h.lm == 0.0
    with pytest.raises(ConfigError, match="single word"):
        BeamSearchDecoder(VOCAB, hotwords={"new york": 1.0})


def test_hotword_partial_bonus_keeps_it_in_a_narrow_beam():
    # "k" is unlikely at the first frame, so with beam 2 the prefix "k" is pruned at once unless
    # the partial bonus carries it until the whole word can collect its bonus
    # (without the partial bonus of 3.0 / 3 at "k", "k" = ln 0.1 would lose to "b" = ln 0.2)
    lp = spell({"c": 0.6, "b": 0.2, "k": 0.1}, "at")
    assert beam_search(lp, VOCAB, beam_size=2)[0].text == "cat"
    assert beam_search(lp, VOCAB, beam_size=2, hotwords={"kat": 3.0})[0].text == "kat"


# ---- n-best, streaming --------------------------------------------------------------------
def test_nbest_returns_distinct_texts_best_first():
    lm = lm_from(LM_LINES)
    lp = random_posteriors(np.random.default_rng(11), 40, peaky=True)
    for kw in ({}, {"lm": lm}):
        hyps = beam_search(lp, VOCAB, nbest=6, **kw)
        assert len(hyps) == 6 and all(isinstance(h, Hypothesis) for h in hyps)
        assert len({h.text for h in hyps}) == 6
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        assert beam_search(lp, VOCAB, nbest=1, **kw)[0] == hyps[0]


@pytest.mark.parametrize("with_lm", [False, True])
def test_chunked_accept_equals_whole(with_lm):
    rng = np.random.default_rng(5)
    lp = random_posteriors(rng, 90, peaky=True).float()
    kw = {"lm": lm_from(LM_LINES), "hotwords": {"two": 1.0}} if with_lm else {}
    whole = BeamSearchDecoder(VOCAB, **kw)
    whole.accept(lp)
    chunked = BeamSearchDecoder(VOCAB, **kw)
    start = 0
    for size in itertools.cycle([1, 7, 13, 0, 4]):
        chunked.accept(lp[start:start + size].numpy())  # numpy works as well as torch
        start += size
        if start >= len(lp):
            break
    assert chunked.finalize(nbest=5) == whole.finalize(nbest=5)
    assert chunked.partial() == whole.partial()
    whole.reset()
    assert whole.finalize()[0].text == ""


def test_shape_is_checked():
    with pytest.raises(ValueError, match=r"\(T, 29\)"):
        BeamSearchDecoder(VOCAB).accept(torch.zeros(3, 5))


# ---- word timings -------------------------------------------------------------------------
def test_word_spans_from_ids_and_frames():
    ids = VOCAB.encode("hi yo")
    frames = [2, 4, 6, 9, 12]
    spans = word_spans(ids, frames, VOCAB, frame_seconds=0.04)
    assert spans == [{"word": "hi", "start": 0.08, "end": 0.2, "confidence": 1.0},
                     {"word": "yo", "start": 0.36, "end": 0.52, "confidence": 1.0}]
    lp = torch.full((13, V), -10.0)
    for (t, i), p in zip([(2, ids[0]), (4, ids[1]), (9, ids[3]), (12, ids[4])], [0.9, 0.5, 0.8, 0.6]):
        lp[t, i] = math.log(p)
    spans = word_spans(ids, frames, VOCAB, 0.04, log_probs=lp)
    assert [s["confidence"] for s in spans] == [0.7, 0.7]
    with pytest.raises(ValueError, match=r"\(T, V\)"):
        word_spans(ids, frames, VOCAB, 0.04, log_probs=lp.max(dim=-1).values)
    assert word_spans([], [], VOCAB, 0.04) == []
    with pytest.raises(ValueError):
        word_spans(ids, frames[:-1], VOCAB, 0.04)


def test_word_spans_from_both_decoders():
    lp = torch.from_numpy(spell("one two"))
    greedy = GreedyDecoder()
    greedy.accept(lp[:5])
    greedy.accept(lp[5:])
    g = word_spans(greedy.ids, greedy.frames, VOCAB, 0.03, lp)
    assert [s["word"] for s in g] == ["one", "two"]
    assert g[0]["start"] == 0.0 and g[0]["end"] == 0.15 and g[1]["start"] == 0.24 and g[1]["end"] == 0.39
    assert all(s["confidence"] == 0.9 for s in g)
    (h,) = beam_search(lp, VOCAB)
    dec = BeamSearchDecoder(VOCAB)
    dec.accept(lp)
    assert word_spans(h.ids, h.frames, VOCAB, 0.03, lp) == g


def test_word_confidence_is_that_of_the_unit_emitted_not_of_the_frame_s_best():
    # a word list forces "a" where the network said "x" with 0.9: the confidence is P(a) = 0.09
    lp = torch.full((3, V), math.log(1e-4))
    lp[:, 0] = math.log(0.99)
    lp[1, VOCAB.index["x"]], lp[1, VOCAB.index["a"]], lp[1, 0] = math.log(0.9), math.log(0.09), math.log(0.01)
    lp = lp.log_softmax(-1)
    (h,) = beam_search(lp, VOCAB, beam_size=4, words=["a"])
    assert h.text == "a"
    (span,) = word_spans(h.ids, h.frames, VOCAB, 0.04, lp)
    p_a = math.exp(float(lp[1, VOCAB.index["a"]]))
    assert p_a < 0.1 and span["confidence"] == pytest.approx(p_a, abs=1e-3)


SMALL = Vocabulary(["<blank>", " ", "a", "b"])


def _brute_force_best(lp: np.ndarray) -> tuple[str, float]:
    """The most probable text (spaces normalised) summed over every CTC alignment."""
    totals: dict[str, float] = {}
    for path in itertools.product(range(lp.shape[1]), repeat=lp.shape[0]):
        units = [k for j, k in enumerate(path) if k != 0 and (j == 0 or path[j - 1] != k)]
        text = " ".join(SMALL.decode(units).split())
        totals[text] = totals.get(text, 0.0) + math.exp(sum(lp[t, k] for t, k in enumerate(path)))
    best = max(totals, key=totals.get)
    return best, totals[best]


@pytest.mark.parametrize("seed", range(40))
def test_beam_search_finds_the_most_probable_text_with_spaces_merged(seed):
    rng = np.random.default_rng(seed)
    lp = torch.log_softmax(torch.from_numpy(rng.normal(size=(5, 4)) * 1.5), -1)
    text, p = _brute_force_best(lp.numpy())
    (h,) = beam_search(lp, SMALL, beam_size=64)
    assert h.text == text
    assert math.exp(h.acoustic) == pytest.approx(p, rel=1e-6)  # the sum over all its alignments


def test_prefixes_differing_only_in_spaces_share_one_beam_slot():
    # "a b" by several spellings (" a b", "a  b", "a b ") against "ab": the spellings add up
    lp = torch.log(torch.tensor([[0.05, 0.40, 0.55, 0.00], [0.05, 0.50, 0.00, 0.45], [0.05, 0.45, 0.05, 0.45],
                                 [0.05, 0.00, 0.00, 0.95], [0.40, 0.55, 0.00, 0.05]]).clamp_min(1e-9))
    lp = torch.log_softmax(lp, -1)
    text, _ = _brute_force_best(lp.numpy())
    dec = BeamSearchDecoder(SMALL, beam_size=64)
    dec.accept(lp)
    assert not any(SMALL.decode([ord(c) for c in b.key]).startswith(" ") or "  " in SMALL.decode([ord(c) for c in b.key])
                   for b in dec._beams)
    assert dec.finalize()[0].text == text


@pytest.mark.parametrize("make", [lambda: BeamSearchDecoder(VOCAB, beam_size=4, words=["ab", "ba", "a", "b"]),
                                  lambda: GreedyDecoder(VOCAB.blank)])
def test_a_fork_goes_on_alone_and_equals_a_decoder_fed_everything(make):
    rng = np.random.default_rng(3)
    lp = torch.log_softmax(torch.from_numpy(rng.normal(size=(40, V)) * 3), dim=-1)
    whole = make()
    whole.accept(lp)
    dec = make()
    dec.accept(lp[:25])
    fork = dec.fork()
    fork.accept(lp[25:])
    if isinstance(fork, GreedyDecoder):
        assert fork.ids == whole.ids and fork.frames == whole.frames
    else:
        assert [(h.text, h.frames) for h in fork.finalize(3)] == [(h.text, h.frames) for h in whole.finalize(3)]
    before = (list(dec.ids), list(dec.frames)) if isinstance(dec, GreedyDecoder) else dec.finalize(3)
    fork.accept(lp[:5])  # the fork goes on: the original does not move
    after = (list(dec.ids), list(dec.frames)) if isinstance(dec, GreedyDecoder) else dec.finalize(3)
    assert before == after
    dec.accept(lp[25:])
    if isinstance(dec, GreedyDecoder):
        assert dec.ids == whole.ids and dec.frames == whole.frames
    else:
        assert [h.text for h in dec.finalize(3)] == [h.text for h in whole.finalize(3)]
        assert dec.finalize()[0].score == pytest.approx(whole.finalize()[0].score)
    # a fork of the finished decoder is the whole decoder
    twin = whole.fork()
    if isinstance(whole, GreedyDecoder):
        assert twin.ids == whole.ids
    else:
        assert [h.text for h in twin.finalize(3)] == [h.text for h in whole.finalize(3)]


def with_blank_runs(rng: np.random.Generator, words: list[str], run: int = 30) -> np.ndarray:
    """Each word spelled (``spell``), separated by a space frame and ``run`` frames that are blank
    with probability 0.9995, as CTC output mostly is."""
    rows = []
    for w in words:
        rows += list(spell(w)) + [frame(" "), frame("_")]
        rows += [frame({"_": 0.9995 - 0.0004 * rng.random()}) for _ in range(run)]
    return np.stack(rows)


@pytest.mark.parametrize("kw", [{}, {"words": ["one", "two", "three", "tone"]}, {"lm": "lm"}])
def test_skipping_blank_runs_keeps_texts_and_times_and_nearly_the_scores(kw):
    rng = np.random.default_rng(0)
    if "lm" in kw:
        kw = {"lm": lm_from(LM_LINES)}
    lp = with_blank_runs(rng, ["one", "two", "three", "two"])
    exact = BeamSearchDecoder(VOCAB, skip_blank=None, **kw)
    exact.accept(lp)
    fast = BeamSearchDecoder(VOCAB, **kw)
    fast.accept(lp)
    e, f = exact.finalize(3), fast.finalize(3)
    assert [(h.text, h.ids, h.frames) for h in f] == [(h.text, h.ids, h.frames) for h in e]
    assert f[0].text == "one two three two"
    skipped = 4 * 29  # each run but its first frame
    for a, b in zip(e, f):  # a skipped frame would have multiplied every text by its blank, about 0.9995
        assert 0 < b.score - a.score < skipped * 1e-3


def test_a_repeated_unit_across_a_blank_run_stays_two():
    lp = np.concatenate([spell("a"), np.stack([frame({"_": 0.9999})] * 20), spell("a")])
    assert beam_search(lp, VOCAB)[0].text == "aa"
    assert beam_search(lp, VOCAB, skip_blank=None)[0].text == "aa"


def test_chunked_accept_equals_whole_with_blank_runs():
    rng = np.random.default_rng(2)
    lp = with_blank_runs(rng, ["two", "one"], run=12)
    whole = BeamSearchDecoder(VOCAB)
    whole.accept(lp)
    chunked = BeamSearchDecoder(VOCAB)
    start = 0
    for size in itertools.cycle([1, 5, 2, 9]):  # chunks that start and end inside the runs
        chunked.accept(lp[start:start + size])
        start += size
        if start >= len(lp):
            break
    assert chunked.finalize(nbest=3) == whole.finalize(nbest=3)


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.1])
def test_skip_blank_must_be_a_probability(bad):
    with pytest.raises(ValueError, match="skip_blank"):
        BeamSearchDecoder(VOCAB, skip_blank=bad)


# ---- one word of a closed list ------------------------------------------------------------------
def test_one_word_ranks_the_list_by_the_exact_sum_over_alignments():
    rng = np.random.default_rng(5)
    words = ["cab", "bad", "dab", "add", "a"]
    lp = torch.from_numpy(rng.normal(size=(9, V)) * 2).log_softmax(-1)
    assert WordChoiceDecoder(VOCAB, words).finalize() == []  # no frames yet
    dec = WordChoiceDecoder(VOCAB, words)
    dec.accept(lp)
    hyps = dec.finalize(nbest=10)
    exact = {w: ctc_logp(lp, VOCAB.encode(w)) for w in words}
    assert [h.text for h in hyps] == sorted(words, key=exact.get, reverse=True)
    for h in hyps:
        assert h.acoustic == pytest.approx(exact[h.text], abs=1e-6) and h.lm == 0 and h.score == h.acoustic
        assert h.ids == VOCAB.encode(h.text) and len(h.frames) == len(h.ids)
    assert dec.partial() == hyps[0].text


def test_one_word_is_never_empty_where_the_beam_search_gives_nothing():
    # "cat" half heard: a word-list search ends on no word, the one-word choice still picks the likeliest
    lp = spell({"c": 0.3, "_": 0.6}, {"a": 0.3, "_": 0.6}, {"t": 0.2, "_": 0.7})
    words = ["cat", "dog", "bird"]
    assert beam_search(lp, VOCAB, words=words, beam_size=8)[0].text == ""
    dec = WordChoiceDecoder(VOCAB, words)
    dec.accept(lp)
    assert dec.finalize()[0].text == "cat"


def test_one_word_chunks_forks_hotwords_homophones_and_too_few_frames():
    lp = spell("cot")
    words = ["cot", "cat", "cut"]
    whole = WordChoiceDecoder(VOCAB, words)
    whole.accept(lp)
    chunked = WordChoiceDecoder(VOCAB, words)
    for a in range(0, len(lp), 2):
        chunked.accept(lp[a:a + 2])
    assert [(h.text, h.score) for h in chunked.finalize(3)] == [(h.text, h.score) for h in whole.finalize(3)]
    twin = chunked.fork()
    twin.accept(spell("a"))
    assert len(twin._chunks) == len(chunked._chunks) + 1
    # a bonus large enough turns the choice; the bonus is the hypothesis' non-acoustic part
    boosted = WordChoiceDecoder(VOCAB, words, hotwords={"cut": 20.0})
    boosted.accept(lp)
    best = boosted.finalize()[0]
    assert best.text == "cut" and best.lm == 20.0
    # two words spelled alike: the one listed first
    phones = Vocabulary(["<blank>", " ", "K", "AA", "T"], kind="phones")
    lex = Lexicon({"cot": [("K", "AA", "T")], "caught": [("K", "AA", "T")]}, g2p=False)
    dec = WordChoiceDecoder(phones, ["caught", "cot"], lexicon=lex)
    dec.accept(np.log(np.full((6, 5), 0.2)))
    assert [h.text for h in dec.finalize(5)] == ["caught"]
    # frames too few for every word: nothing, not an error
    short = WordChoiceDecoder(VOCAB, ["seven", "eleven"])
    short.accept(spell("s")[:2])
    assert short.finalize() == [] and short.partial() == ""
    with pytest.raises(ConfigError, match="empty"):
        WordChoiceDecoder(VOCAB, [" "])


def test_ctc_alignment_frames_are_where_each_unit_is_first_emitted():
    lp = spell("abba")  # a _ b _ b _ a _: the repeated b needs the blank between
    assert ctc_align(lp, VOCAB.encode("abba")) == [0, 2, 4, 6]
    held = np.stack([frame("_"), frame("c"), frame("c"), frame("c"), frame("_"), frame("d")])
    assert ctc_align(held, VOCAB.encode("cd")) == [1, 5]
    with pytest.raises(ValueError, match="cannot hold"):
        ctc_align(spell("a")[:1], VOCAB.encode("aa"))  # "aa" needs three frames
