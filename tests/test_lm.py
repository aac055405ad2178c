"""Word n-gram LMs: ARPA loading and back-off scoring, Kneser-Ney estimation (build_arpa)."""
import re

import pytest
import torch

from lstm_asr.errors import ConfigError
from lstm_asr.lm import EOS, UNK, UNK_LOGP, NgramLM, build_arpa, save_arpa

torch.set_num_threads(1)

CORPUS = [
    "one two three", "one two", "two three four", "one two three four five",
    "me too", "i want to go too", "we want two", "a b a b a", "five four three two one",
]

HAND = """\
some comment before the header

\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-1.0\t<s>\t-0.5
-0.7\t</s>
-0.9\ta\t-0.3
-1.2\tb
-2.0\t<unk>

\\2-grams:
-0.2\t<s> a
-0.4\ta b
-0.6\ta </s>

\\end\\
"""


def contexts(corpus, order):
    """Every history (up to order-1 words, <s> included) that occurs in the corpus."""
    out = {()}
    for s in corpus:
        toks = ["<s>"] + s.split()
        for i in range(len(toks)):
            for j in range(i + 1, min(len(toks), i + order - 1) + 1):
                out.add(tuple(toks[i:j]))
    return out


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_context_distribution_sums_to_one(order):
    lm = NgramLM.parse(build_arpa(CORPUS, order))
    assert lm.order == order
    targets = sorted(lm.vocab) + [EOS, UNK]
    ctxs = contexts(CORPUS, order) | {("nonsense",), ("<s>", "nonsense", "two"), ("one", "one", "one")}
    for ctx in ctxs:
        total = sum(10 ** lm.score(w, ctx) for w in targets)
        assert abs(total - 1) < 1e-6, (ctx, total)


def test_model_learns_the_corpus():
    lm = NgramLM.parse(build_arpa(CORPUS, 3))
    assert lm.vocab == {w for s in CORPUS for w in s.split()}
    assert lm.score("two", ("<s>", "one")) > lm.score("too", ("<s>", "one")) + 0.5
    assert lm.score("too", ("me",)) > lm.score("two", ("me",))
    assert lm.sentence_score("one two three") > lm.sentence_score("three one two")
    # <unk> has a small but real probability
    assert -4 < lm.score("zebra", ("one",)) < lm.score("five", ())
    assert lm.score("zebra", ("one",)) == lm.score(UNK, ("one",))


def test_sentence_score_is_the_sum_of_word_scores():
    lm = NgramLM.parse(build_arpa(CORPUS, 3))
    want = (lm.score("one", ("<s>",)) + lm.score("two", ("<s>", "one")) + lm.score("three", ("one", "two"))
            + lm.score(EOS, ("two", "three")))
    assert lm.sentence_score("one two three") == pytest.approx(want, abs=1e-12)
    assert lm.sentence_score(["one", "two", "three"], bos=False, eos=False) == pytest.approx(
        lm.score("one", ()) + lm.score("two", ("one",)) + lm.score("three", ("one", "two")), abs=1e-12)
    # a longer context than the order is cut to the last order-1 words
    assert lm.score("three", ("x", "y", "one", "two")) == lm.score("three", ("one", "two"))


def test_hand_written_arpa_backoff():
    lm = NgramLM.parse(HAND, "hand.arpa")
    assert lm.order == 2 and lm.vocab == {"a", "b"}
    assert lm.score("a", ("<s>",)) == pytest.approx(-0.2)               # listed bigram
    assert lm.score("b", ("<s>",)) == pytest.approx(-0.5 + -1.2)        # bow(<s>) + p(b)
    assert lm.score("b", ("a",)) == pytest.approx(-0.4)
    assert lm.score("a", ("b",)) == pytest.approx(-0.9)                 # b has no back-off: 0
    assert lm.score("zzz", ("a",)) == pytest.approx(-0.3 + -2.0)        # unknown -> <unk>
    assert lm.score("a", ("zzz",)) == pytest.approx(-0.9)               # unknown context -> <unk>
    assert lm.sentence_score("a b") == pytest.approx(-0.2 + -0.4 + -0.7)
    no_unk = NgramLM.parse(HAND.replace("ngram 1=5", "ngram 1=4").replace("-2.0\t<unk>\n", ""))
    assert no_unk.score("zzz", ()) == UNK_LOGP
    assert no_unk.score("zzz", ("a",)) == pytest.approx(-0.3 + UNK_LOGP)


def test_round_trip_through_a_file(tmp_path):
    text = build_arpa(CORPUS, 3)
    a = NgramLM.parse(text)
    for name in ("lm.arpa", "lm.arpa.gz"):
        save_arpa(text, tmp_path / name)
        b = NgramLM.load(tmp_path / name)
        assert b.order == 3 and b.vocab == a.vocab
        assert b._logp == a._logp and b._backoff == a._backoff
        for s in CORPUS + ["two one zebra", ""]:
            assert b.sentence_score(s) == a.sentence_score(s)
    # the counts in the header match the sections
    header = text.split("\n\n")[0].splitlines()
    assert header[0] == "\\data\\" and [h.split("=")[0] for h in header[1:]] == ["ngram 1", "ngram 2", "ngram 3"]


def test_short_sentences_lower_the_order():
    lm = NgramLM.parse(build_arpa(["hi", "yo"], order=5))
    assert lm.order == 3  # "<s> hi </s>" has no 4-grams
    assert abs(sum(10 ** lm.score(w, ("<s>",)) for w in ["hi", "yo", EOS, UNK]) - 1) < 1e-6


def test_build_arpa_rejects_an_empty_corpus():
    with pytest.raises(ConfigError, match="empty corpus"):
        build_arpa(["", "   "])


def test_agrees_with_kenlm_if_installed(tmp_path):
    kenlm = pytest.importorskip("kenlm")
    text = build_arpa(CORPUS, 3)
    save_arpa(text, tmp_path / "lm.arpa")
    ours = NgramLM.load(tmp_path / "lm.arpa")
    ref = kenlm.Model(str(tmp_path / "lm.arpa"))
    for s in CORPUS + ["two one zebra", "five five five"]:
        assert ours.sentence_score(s) == pytest.approx(ref.score(s, bos=True, eos=True), abs=1e-4)


@pytest.mark.parametrize("edit, line, reason", [
    (lambda t: t.replace("\\data\\", "\\dada\\"), 1, "no \\\\data\\\\"),
    (lambda t: t.replace("ngram 2=3", "ngram 2=x"), 5, "bad count line"),
    (lambda t: t.replace("-0.9\ta\t-0.3", "-0.9"), 10, "found 1 field"),
    (lambda t: t.replace("-1.2\tb", "-1.2\tb\tc\td"), 11, "found 4 field"),
    (lambda t: t.replace("-0.4\ta b", "oops\ta b"), 16, "not a number"),
    (lambda t: t.replace("-0.4\ta b", "0.4\ta b"), 16, "not <= 0"),
    (lambda t: t.replace("-0.6\ta </s>", "-0.6\ta b"), 17, "duplicate 2-gram 'a b'"),
    (lambda t: t.replace("ngram 2=3", "ngram 2=4"), 14, "header says 4 entries, found 3"),
    (lambda t: t.replace("\\2-grams:", "\\3-grams:"), 14, "expected '\\\\2-grams:'"),
    (lambda t: t.replace("\\end\\\n", ""), 18, "missing \\\\end\\\\"),
])
def test_malformed_arpa_names_the_line(tmp_path, edit, line, reason):
    path = tmp_path / "bad.arpa"
    path.write_text(edit(HAND))
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:{line}: .*{reason}"):
        NgramLM.load(path)


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        NgramLM.load(tmp_path / "missing.arpa")
    (tmp_path / "lm.bin").write_bytes(b"mmap lm http://kheafield.com/code format version 5\0\xff\xfe")
    with pytest.raises(ConfigError, match="binary KenLM"):
        NgramLM.load(tmp_path / "lm.bin")
