"""Phone units: the lexicon (CMU dictionary, user files, espeak-ng's guesses), the phone
vocabulary, and the beam search reading word lists through pronunciations."""
import math
import shutil

import numpy as np
import pytest

from lstm_asr.decoding import beam_search, word_spans
from lstm_asr.errors import ConfigError
from lstm_asr.lexicon import PHONES, Lexicon, default_lexicon, ipa_to_arpabet, read_lexicon_file
from lstm_asr.text import Vocabulary

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary.from_texts([], kind="phones")


def posteriors(vocab, units: list[str], frames_each: int = 3, floor: float = 1e-4) -> np.ndarray:
    """Log-probabilities that spell ``units`` (phones or " "), each for a few frames, blanks between."""
    rows = []
    for u in units:
        for _ in range(frames_each):
            p = np.full(len(vocab), floor)
            p[vocab.index[u]] = 1.0
            rows.append(p / p.sum())
        p = np.full(len(vocab), floor)
        p[vocab.blank] = 1.0
        rows.append(p / p.sum())
    return np.log(np.array(rows))


def test_cmudict_variants_without_stress():
    lex = default_lexicon()
    assert lex.pronunciations("zero") == [("Z", "IH", "R", "OW"), ("Z", "IY", "R", "OW")]
    assert all(p in PHONES for pron in lex.pronunciations("sheila") for p in pron)


def test_ipa_to_arpabet():
    assert ipa_to_arpabet("ʃˈiːlə") == ("SH", "IY", "L", "AH")
    assert ipa_to_arpabet("tʃˈɜːtʃ") == ("CH", "ER", "CH")
    assert ipa_to_arpabet("ˈ") == ()


@needs_espeak
def test_words_outside_the_dictionary_are_guessed():
    lex = Lexicon()
    assert lex.pronunciations("kubernetes")[0][:3] == ("K", "Y", "UW")
    assert Lexicon(g2p=False).pronunciations("kubernetes") == []


def test_user_lexicon_replaces_and_reports_bad_lines(tmp_path):
    f = tmp_path / "lex.txt"
    f.write_text("# mine\nKubectl K Y UW B K AH T AH L\nkubectl K Y UW B S IY T IY EH L\ntomato T AH M AA1 T OW\n")
    entries = read_lexicon_file(f)
    assert entries["kubectl"] == [tuple("K Y UW B K AH T AH L".split()), tuple("K Y UW B S IY T IY EH L".split())]
    lex = default_lexicon().with_entries(entries)
    assert lex.pronunciations("tomato") == [("T", "AH", "M", "AA", "T", "OW")]
    assert default_lexicon().pronunciations("tomato") != lex.pronunciations("tomato")
    f.write_text("good G UH D\nbad B AE QQ\n")
    with pytest.raises(ConfigError, match=r"lex.txt:2: .*unknown phone 'QQ'"):
        read_lexicon_file(f)
    with pytest.raises(ConfigError, match="cannot read"):
        read_lexicon_file(tmp_path / "missing.txt")


def test_phone_vocabulary_round_trip(vocab, tmp_path):
    ids = vocab.encode("one two")
    assert vocab.decode(ids) == "W-AH-N T-UW"
    assert vocab.reference("go left") == "G-OW L-EH-F-T"
    assert len(vocab.spellings("zero")) == 2
    vocab.save(tmp_path / "vocab.json")
    again = Vocabulary.load(tmp_path / "vocab.json")
    assert again.kind == "phones" and again.units == vocab.units
    with pytest.raises(ConfigError, match="kind"):
        Vocabulary(["<blank>", "a"], kind="syllables")


def test_beam_search_reads_words_through_pronunciations(vocab):
    lp = posteriors(vocab, ["W", "AH", "N", " ", "T", "UW"])
    assert beam_search(lp, vocab, words=["one", "two", "three"])[0].text == "one two"
    # homophones: the word listed first is the one written
    assert beam_search(lp, vocab, words=["won", "one", "too", "two"])[0].text == "won too"
    # any English word list: the same sounds read as the nearest listed words
    assert beam_search(posteriors(vocab, ["M", "AA", "R", "V", "IH", "N"]), vocab,
                       words=["marvin", "sheila"])[0].text == "marvin"


def test_beam_search_with_a_user_lexicon(vocab):
    lex = default_lexicon().with_entries({"kubectl": [tuple("K Y UW B K AH T AH L".split())]})
    lp = posteriors(vocab, "K Y UW B K AH T AH L".split())
    assert beam_search(lp, vocab, words=["kubectl", "cat"], lexicon=lex)[0].text == "kubectl"


def test_word_spans_take_the_words(vocab):
    hyp = beam_search(posteriors(vocab, ["W", "AH", "N", " ", "T", "UW"]), vocab, words=["one", "two"])[0]
    spans = word_spans(hyp.ids, hyp.frames, vocab, 0.02, words=hyp.text.split())
    assert [s["word"] for s in spans] == ["one", "two"]
    assert spans[0]["start"] < spans[0]["end"] <= spans[1]["start"]
    assert all(math.isfinite(s["confidence"]) for s in spans)


@needs_espeak
def test_only_latin_script_words_are_guessed():
    """espeak-ng reads other scripts' characters by their names ("Chinese letter"): no guess."""
    lex = Lexicon()
    assert lex.pronunciations("日本") == [] and lex.pronunciations("ж") == []
    assert lex.pronunciations("naïve")


def test_hyphenated_words_are_their_parts_in_turn():
    lex = Lexicon(g2p=False)
    assert lex.pronunciations("x-ray") == [("EH", "K", "S", "R", "EY")]  # the dictionary's own entry first
    assert lex.pronunciations("zero-one") == [z + o for z in lex.pronunciations("zero") for o in lex.pronunciations("one")]
    many = lex.pronunciations("zero-zero-zero-zero")  # 2**4 combinations of the two variants
    assert len(many) == 8 and len(set(many)) == 8 and all(len(p) == 16 for p in many)
    assert lex.pronunciations("zero-kubernetes") == []  # a part without a pronunciation
    mine = lex.with_entries({"kubernetes": [("K", "UW")]})
    assert mine.pronunciations("zero-kubernetes")[0] == ("Z", "IH", "R", "OW", "K", "UW")


@needs_espeak
def test_a_compound_guesses_only_the_parts_no_dictionary_knows():
    lex = Lexicon()
    lex.guess(["self-driving", "kubernetes-zero"])
    assert set(lex._guessed) == {"kubernetes"}  # self and driving are in the dictionary
    assert lex.pronunciations("co-operate") and lex.pronunciations("kubernetes-zero")[0][-4:] == ("Z", "IH", "R", "OW")
