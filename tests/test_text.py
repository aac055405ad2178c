"""lstm_asr.text: transcript normalisation (any script) and the Vocabulary of output units."""
from __future__ import annotations

import json

import pytest

from lstm_asr.errors import ConfigError
from lstm_asr.text import BLANK, Vocabulary, normalize_text


# ---------------------------------------------------------------- normalize_text

@pytest.mark.parametrize("raw,expected", [
    ("HELLO World", "hello world"),
    ("Hello, world! How are you?", "hello world how are you"),
    ("Don't", "don't"),
    ("I CAN'T, he won\u2019t.", "i can't he won't"),          # typographic apostrophe -> '
    ("'quoted' words'", "quoted words"),                       # not inside a word: removed
    ("rock 'n' roll", "rock n roll"),
    ("  lots \t of\n\n  space  ", "lots of space"),
    ("well-known (fact); 50% off & more...", "well known fact 50 off more"),
    ("\u5e7f\u5dde\u5e02\uff0c\u623f\u5730\u4ea7 \u4e2d\u4ecb\u534f\u4f1a\u3002",
     "\u5e7f\u5dde\u5e02\u623f\u5730\u4ea7\u4e2d\u4ecb\u534f\u4f1a"),     # 广州市，房地产 中介协会。
    ("Привет, МИР!", "привет мир"),
    ("ΚΑΛΗΜΕΡΑ ΚΌΣΜΕ", "καλημερα κόσμε"),
    ("ΚΌΣΜΟΣ", "κόσμος"),                                      # final sigma
    ("مرحبا بالعالم!", "مرحبا بالعالم"),
    ("नमस्ते दुनिया।", "नमस्ते दुनिया"),                              # danda is punctuation; marks kept
    ("ＨＥＬＬＯ　ｗｏｒｌｄ１２３", "hello world123"),            # NFKC: full-width letters, ideographic space
    ("\ufb01ne caf\u0065\u0301", "fine caf\u00e9"),                  # ligature, combining accent composed
    ("東京 タワー and 中文", "東京タワー and 中文"),               # CJK glued, Latin kept apart
    ("", ""),
    ("?!., ;:", ""),
])
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


def test_normalize_text_idempotent():
    for s in ["Don't stop, believin'!", "广州市，房地产 中介协会。", "ＡＢＣ def", "Привет, МИР!"]:
        once = normalize_text(s)
        assert normalize_text(once) == once


# ---------------------------------------------------------------- Vocabulary

def test_from_texts_blank_first_then_sorted_chars():
    v = Vocabulary.from_texts(["hello world", "abc"])
    assert v.units[0] == BLANK and v.blank == 0
    assert v.units[1:] == sorted(set("hello worldabc"))
    assert len(v) == 1 + len(set("hello worldabc"))


def test_constructor_inserts_blank_and_rejects_duplicates():
    v = Vocabulary(["a", "b"])
    assert v.units == [BLANK, "a", "b"]
    v = Vocabulary(["a", BLANK, "b"])  # moved to the front
    assert v.units == [BLANK, "a", "b"]
    with pytest.raises(ConfigError, match="duplicate"):
        Vocabulary([BLANK, "a", "a"])


@pytest.mark.parametrize("text", ["the quick brown fox don't", "\u5e7f\u5dde\u5e02\u623f\u5730\u4ea7\u4e2d\u4ecb\u534f\u4f1a"])
def test_encode_decode_round_trip(text):
    v = Vocabulary.from_texts([text])
    ids = v.encode(text)
    assert len(ids) == len(text) and 0 not in ids
    assert v.decode(ids) == text
    assert v.decode([0] + ids[:2] + [0, 0] + ids[2:] + [0]) == text  # blanks are dropped


def test_encode_unknown_and_unknown():
    v = Vocabulary.from_texts(["abc", "\u4e2d\u6587"])
    assert v.unknown("abcx\u4e2dy\u5b57x") == {"x", "y", "\u5b57"}
    assert v.unknown("cab") == set()
    with pytest.raises(KeyError):
        v.encode("abz")


def test_save_load_round_trip_utf8(tmp_path):
    v = Vocabulary.from_texts(["\u5e7f\u5dde\u5e02 hello", "привет don't"])
    p = tmp_path / "vocab.json"
    v.save(p)
    raw = p.read_bytes().decode("utf-8")  # must be valid UTF-8
    assert "\u5e7f" in raw and "\\u5e7f" not in raw and "п" in raw  # ensure_ascii=False
    assert json.loads(raw) == {"blank": BLANK, "units": v.units}
    w = Vocabulary.load(p)
    assert w.units == v.units and w.blank == 0
    assert w.encode("\u5e7f\u5dde hello") == v.encode("\u5e7f\u5dde hello")


def test_a_vocabulary_without_a_blank_is_refused_naming_classifiers(tmp_path):
    p = tmp_path / "vocab.json"
    p.write_text(json.dumps({"blank": None, "units": ["yes", "no"]}), encoding="utf-8")  # a classifier's
    with pytest.raises(ConfigError, match=r"vocab.json: 'blank' must be '<blank>', not None .*classifier heads "
                                          r"were removed from the library and live in benchmarks/"):
        Vocabulary.load(p)


@pytest.mark.parametrize("content", [
    b"this is not json",
    b'{"blank": "<blank>"}',                   # no units
    b'["a", "b"]',                            # not an object
    b'"units"',
    b'{"blank": "<blank>", "units": "abc"}',  # units not a list
    b'{"blank": "<blank>", "units": ["a", 1]}',
    b'{"blank": "<blank>", "units": ["\xff\xfe"]}',  # not UTF-8
    b"",
])
def test_bad_vocab_file(tmp_path, content):
    p = tmp_path / "vocab.json"
    p.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        Vocabulary.load(p)
    assert str(p) in str(info.value)


def test_missing_vocab_file(tmp_path):
    p = tmp_path / "nope" / "vocab.json"
    with pytest.raises(ConfigError) as info:
        Vocabulary.load(p)
    assert str(p) in str(info.value)


def test_vocab_file_with_duplicate_units_names_file(tmp_path):
    p = tmp_path / "vocab.json"
    p.write_text('{"blank": "<blank>", "units": ["<blank>", "a", "a"]}', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Vocabulary.load(p)
    assert str(p) in str(info.value)
