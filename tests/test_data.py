"""lstm_asr.data: manifests (parsing and error reporting), length-bucketed batches, collation and
connected-sequence synthesis from single-word recordings."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from lstm_asr.data import (AudioDataset, Utterance, bucket_batches, collate, load_waves, make_sequences,
                           manifest_shards, read_manifest, write_manifest)
from lstm_asr.errors import AsrError, AudioError, ConfigError, ManifestError

torch.set_num_threads(1)

ARCTIC = Path(__file__).parent / "data" / "arctic_a0001.wav"


# ---------------------------------------------------------------- read_manifest

@pytest.fixture
def corpus(tmp_path):
    """tmp/sets/audio/a.wav (relative target), tmp/elsewhere/b.wav (absolute target)."""
    sets = tmp_path / "sets"
    (sets / "audio").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    a, b = sets / "audio" / "a.wav", tmp_path / "elsewhere" / "b.wav"
    tone = (0.1 * np.sin(np.arange(1600) * 0.1)).astype(np.float32)
    sf.write(str(a), tone, 16000)
    sf.write(str(b), tone, 16000)
    return sets, a, b


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_manifest_paths_and_text(corpus):
    sets, a, b = corpus
    m = _write_lines(sets / "train.jsonl", [
        json.dumps({"audio": "audio/a.wav", "text": "Hello, World!", "duration": 0.1, "speaker": "s1", "lang": "en"}),
        "",
        json.dumps({"audio": str(b), "text": "广州市，房地产 中介协会。"}, ensure_ascii=False),
    ])
    man = read_manifest(m)
    assert len(man) == 2 and man.skipped == [] and man.path == m
    u, v = man.utterances
    assert u.audio == sets / "audio" / "a.wav" and u.audio.is_file()
    assert u.text == "hello world" and u.duration == 0.1 and u.speaker == "s1" and u.extra == {"lang": "en"}
    assert v.audio == b and v.audio.is_absolute()
    assert v.text == "广州市房地产中介协会" and v.duration is None and v.speaker is None


def test_read_manifest_relative_to_manifest_not_cwd(corpus, monkeypatch, tmp_path):
    sets, a, _ = corpus
    m = _write_lines(sets / "m.jsonl", [json.dumps({"audio": "audio/a.wav", "text": "x"})])
    monkeypatch.chdir(tmp_path)  # "audio/a.wav" does not exist relative to the cwd
    assert read_manifest(m).utterances[0].audio.resolve() == a.resolve()


def test_write_manifest_round_trip(corpus):
    sets, a, _ = corpus
    m = sets / "sub" / "w.jsonl"
    write_manifest(m, [{"audio": str(a), "text": "广州 don't", "speaker": "x"}])
    assert "广州" in m.read_text(encoding="utf-8")
    man = read_manifest(m)
    assert man.utterances[0].text == "广州 don't" and man.utterances[0].speaker == "x"


BAD_LINES = [
    ('{"audio": "audio/a.wav", "text": "hi"', "not valid JSON"),
    ("not json at all", "not valid JSON"),
    ('["audio/a.wav", "hi"]', "a line must be a JSON object"),
    ('"just a string"', "a line must be a JSON object"),
    ('{"text": "hi"}', "missing 'audio' path"),
    ('{"audio": "", "text": "hi"}', "missing 'audio' path"),
    ('{"audio": 3, "text": "hi"}', "missing 'audio' path"),
    ('{"audio": "audio/a.wav", "text": ""}', "empty 'text'"),
    ('{"audio": "audio/a.wav", "text": " ?! "}', "empty 'text'"),   # empty after normalisation
    ('{"audio": "audio/a.wav"}', "empty 'text'"),
    ('{"audio": "audio/a.wav", "text": 5}', "'text' must be a string"),
    ('{"audio": "audio/missing.wav", "text": "hi"}', "audio file not found"),
    ('{"audio": "audio", "text": "hi"}', "audio file not found"),  # a directory
]


@pytest.mark.parametrize("bad,reason", BAD_LINES)
def test_read_manifest_bad_line_stops(corpus, bad, reason):
    sets, _, _ = corpus
    good = json.dumps({"audio": "audio/a.wav", "text": "hi"})
    m = _write_lines(sets / "m.jsonl", [good, "", good, bad, good])  # the bad line is line 4
    with pytest.raises(ManifestError) as info:
        read_manifest(m)
    e = info.value
    assert isinstance(e, AsrError)
    assert str(e).startswith(f"{m}:4: {reason}"), str(e)
    assert e.line == 4 and e.path == str(m)


def test_read_manifest_missing_audio_names_resolved_path(corpus):
    sets, _, _ = corpus
    m = _write_lines(sets / "m.jsonl", ['{"audio": "audio/missing.wav", "text": "hi"}'])
    with pytest.raises(ManifestError, match="audio file not found") as info:
        read_manifest(m)
    assert str(sets / "audio" / "missing.wav") in str(info.value)


def test_read_manifest_skip(corpus):
    sets, a, _ = corpus
    good = json.dumps({"audio": "audio/a.wav", "text": "good"})
    lines = [good]
    for bad, _ in BAD_LINES:
        lines += [bad, ""]
    lines.append(good)
    m = _write_lines(sets / "m.jsonl", lines)
    man = read_manifest(m, on_error="skip")
    assert [u.text for u in man.utterances] == ["good", "good"]
    assert len(man.skipped) == len(BAD_LINES)
    for k, (msg, (_, reason)) in enumerate(zip(man.skipped, BAD_LINES)):
        assert msg.startswith(f"{m}:{2 + 2 * k}: {reason}"), msg


def test_read_manifest_relaxed_checks(corpus):
    sets, _, _ = corpus
    m = _write_lines(sets / "m.jsonl", ['{"audio": "audio/missing.wav", "text": ""}'])
    u = read_manifest(m, require_text=False, check_audio=False).utterances[0]
    assert u.text == "" and u.audio == sets / "audio" / "missing.wav"


@pytest.mark.parametrize("on_error", ["stop", "skip"])
def test_read_manifest_no_usable_line(corpus, on_error):
    sets, _, _ = corpus
    empty = _write_lines(sets / "empty.jsonl", ["", "   "])
    with pytest.raises(ManifestError, match="no usable lines"):
        read_manifest(empty, on_error=on_error)
    if on_error == "skip":
        bad = _write_lines(sets / "bad.jsonl", ["nope", '{"text": "x"}'])
        with pytest.raises(ManifestError) as info:
            read_manifest(bad, on_error="skip")
        assert str(info.value) == f"{bad}:0: no usable lines"


def test_read_manifest_missing_file(tmp_path):
    p = tmp_path / "nope.jsonl"
    with pytest.raises(ManifestError) as info:
        read_manifest(p)
    assert str(info.value).startswith(f"{p}:") and "no such manifest file" in str(info.value)


def test_read_manifest_unreadable(tmp_path):
    d = tmp_path / "dir.jsonl"
    d.mkdir()
    with pytest.raises(ManifestError, match="cannot read manifest"):
        read_manifest(d)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"audio": "a.wav", "text": "caf\xe9"}\n')
    with pytest.raises(ManifestError, match=r"latin\.jsonl:1: not UTF-8 text \(byte 32 of the line\)"):
        read_manifest(latin)


def test_read_manifest_bad_on_error(corpus):
    with pytest.raises(ValueError):
        read_manifest(corpus[0] / "m.jsonl", on_error="ignore")


# ---------------------------------------------------------------- corpora larger than memory

def test_manifest_shards_from_a_directory_a_pattern_or_a_file(corpus, tmp_path):
    sets, a, _ = corpus
    big = tmp_path / "big"
    big.mkdir()
    for k in (2, 0, 1):
        _write_lines(big / f"shard-{k}.jsonl", [json.dumps({"audio": str(a), "text": f"s{k}"})])
    (big / "notes.txt").write_text("not a shard")
    one = _write_lines(tmp_path / "one.jsonl", [json.dumps({"audio": str(a), "text": "one"})])
    shards = [big / f"shard-{k}.jsonl" for k in range(3)]
    assert manifest_shards([big]) == shards  # sorted, *.jsonl only
    assert manifest_shards([str(big / "shard-*.jsonl"), one]) == shards + [one]
    assert manifest_shards([str(tmp_path / "**" / "shard-[12].jsonl")]) == shards[1:]
    assert manifest_shards([tmp_path / "missing.jsonl"]) == [tmp_path / "missing.jsonl"]  # reported when read
    with pytest.raises(ConfigError, match=r"^train.dev: .*shard-9\*: no manifest file matches this pattern$"):
        manifest_shards([str(big / "shard-9*")], "train.dev")
    (tmp_path / "none").mkdir()
    with pytest.raises(ConfigError, match=r"^train.manifests: .*none: a directory with no \*.jsonl manifest shard"):
        manifest_shards([tmp_path / "none"])


def test_read_manifest_without_extra_fields_keeps_the_metadata_only(corpus):
    sets, a, _ = corpus
    m = _write_lines(sets / "m.jsonl", [json.dumps({"audio": "audio/a.wav", "text": "hi", "duration": 0.1,
                                                     "speaker": "s", "words": [{"word": "hi"}]})] * 3)
    u = read_manifest(m, extra=False).utterances[0]
    assert (u.audio, u.text, u.duration, u.speaker, dict(u.extra)) == (a, "hi", 0.1, "s", {})
    assert read_manifest(m).utterances[0].extra == {"words": [{"word": "hi"}]}
    with pytest.raises(TypeError):
        u.extra["x"] = 1  # shared and read-only
    with pytest.raises(AttributeError):
        u.other = 1  # slots: nothing but the fields


def test_audio_beyond_the_cache_budget_is_checked_then_read_on_every_use(tmp_path):
    tone = (0.3 * np.sin(np.arange(8000) * 0.05)).astype(np.float32)  # 0.5 s, no silence to trim
    paths = []
    for k in range(4):
        paths.append(tmp_path / f"{k}.wav")
        sf.write(str(paths[-1]), tone, 16000)
    (tmp_path / "bad.wav").write_bytes(b"RIFF not audio")
    utts = [Utterance(p, "a") for p in paths[:2]] + [Utterance(tmp_path / "bad.wav", "a")] + \
           [Utterance(p, "a") for p in paths[2:]]
    logs = []
    kept, waves = load_waves(utts, on_error="skip", log=logs.append, max_bytes=1.5 * tone.nbytes)
    assert [u.audio.name for u in kept] == ["0.wav", "1.wav", "2.wav", "3.wav"] and len(logs) == 1
    assert waves[0] is not None and waves[1:] == [None, None, None]  # the second would pass the budget
    assert [u.duration for u in kept] == [None, 0.5, 0.5, 0.5]  # from the headers, no audio decoded
    with pytest.raises(AudioError, match="bad.wav"):
        load_waves(utts, max_bytes=0)  # only checked, still refused
    data = AudioDataset(kept, lambda u: u.text, waves=waves, cache_bytes=1.5 * tone.nbytes)
    assert data.cached() == 1
    paths[3].unlink()  # read when used, not before
    assert len(data[2][0]) == 8000 and data.cached() == 1  # the budget is spent: read again each time
    with pytest.raises(AudioError, match="3.wav"):
        data[3]
    unbounded = AudioDataset(kept[:3], lambda u: u.text)
    unbounded[1], unbounded[2]
    assert unbounded.cached() == 2


# ---------------------------------------------------------------- bucket_batches

@pytest.fixture(scope="module")
def durations():
    rng = random.Random(7)
    d = [rng.uniform(0.5, 12.0) for _ in range(300)]
    d[17] = 100.0  # longer than a whole batch
    return d


def _check_batches(batches, durations, batch_seconds, max_batch):
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(durations)))  # every index exactly once
    for b in batches:
        assert 1 <= len(b) <= max_batch
        padded = max(durations[i] for i in b) * len(b)
        assert padded <= batch_seconds + 1e-9 or len(b) == 1, (b, padded)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_seconds,max_batch", [(60.0, 64), (60.0, 4), (5.0, 64)])
def test_bucket_batches_constraints(durations, shuffle, batch_seconds, max_batch):
    batches = bucket_batches(durations, batch_seconds, shuffle=shuffle, seed=3, max_batch=max_batch)
    _check_batches(batches, durations, batch_seconds, max_batch)
    assert [17] in batches  # the over-long item travels alone


def test_bucket_batches_unshuffled_sorted(durations):
    batches = bucket_batches(durations, 60.0, shuffle=False)
    flat = [i for b in batches for i in b]
    assert [durations[i] for i in flat] == sorted(durations)
    assert bucket_batches(durations, 60.0, shuffle=False) == batches


def test_bucket_batches_seeds(durations):
    a = bucket_batches(durations, 60.0, shuffle=True, seed=1)
    assert bucket_batches(durations, 60.0, shuffle=True, seed=1) == a
    b = bucket_batches(durations, 60.0, shuffle=True, seed=2)
    assert b != a
    assert [i for x in b for i in x] != [i for x in a for i in x]  # a different order
    assert sorted(i for x in b for i in x) == sorted(i for x in a for i in x)


def test_bucket_batches_edge_cases():
    assert bucket_batches([], 10.0, shuffle=True) == []
    assert bucket_batches([3.0], 1.0, shuffle=False) == [[0]]
    assert bucket_batches([1.0] * 10, 5.0, shuffle=False) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


# ---------------------------------------------------------------- collate

def test_collate_pads_with_zeros():
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(n).astype(np.float32) + 1.0 for n in (5, 9, 1)]
    batch, lengths, targets = collate([(w, [k]) for k, w in enumerate(waves)])
    assert batch.shape == (3, 9) and batch.dtype == torch.float32
    assert lengths.dtype == torch.long and lengths.tolist() == [5, 9, 1]
    assert targets == [[0], [1], [2]]
    for k, w in enumerate(waves):
        assert torch.equal(batch[k, : len(w)], torch.from_numpy(w))
        assert torch.all(batch[k, len(w):] == 0)


def test_collate_non_contiguous_input():
    w = np.arange(20, dtype=np.float32)[::2]
    batch, lengths, _ = collate([(w, None)])
    assert batch[0].tolist() == w.tolist() and lengths.tolist() == [10]


# ---------------------------------------------------------------- make_sequences

WORDS = {"s1": {"one": 300.0, "two": 500.0, "three": 700.0},
         "s2": {"four": 900.0, "five": 1100.0, "six": 1300.0}}


@pytest.fixture
def word_utts(tmp_path):
    """Single-word 'recordings': a 0.3 s tone (one frequency per word) padded with 0.2 s of silence."""
    utts = []
    t = np.arange(int(0.3 * 16000)) / 16000
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    for spk, words in WORDS.items():
        for word, freq in words.items():
            tone = 0.3 * np.sin(2 * np.pi * freq * t) * ramp
            wave = np.concatenate([np.zeros(3200), tone, np.zeros(3200)]).astype(np.float32)
            p = tmp_path / "words" / f"{spk}_{word}.wav"
            p.parent.mkdir(exist_ok=True)
            sf.write(str(p), wave, 16000)
            utts.append(Utterance(p, word, speaker=spk))
    return utts


def _dominant_freq(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / 16000)[np.argmax(spec)])


def test_make_sequences(tmp_path, word_utts):
    out = tmp_path / "seq"
    rows = make_sequences(word_utts, out, n=3, seed=5)
    assert len(rows) == 3
    assert sorted(p.name for p in out.iterdir()) == [r["audio"] for r in rows]
    freq_of = {w: f for words in WORDS.values() for w, f in words.items()}
    for r in rows:
        info = sf.info(str(out / r["audio"]))
        assert info.samplerate == 16000 and info.channels == 1
        wave, _ = sf.read(str(out / r["audio"]), dtype="float64")
        dur = len(wave) / 16000
        assert abs(dur - r["duration"]) <= 0.0005
        words = r["words"]
        assert 2 <= len(words) <= 7
        assert r["text"] == " ".join(w["word"] for w in words)
        assert {w["word"] for w in words} <= set(WORDS[r["speaker"]])  # one speaker per sequence
        prev_end = 0.0
        in_word = np.zeros(len(wave), bool)
        for w in words:
            assert prev_end < w["start"] < w["end"] <= dur
            prev_end = w["end"]
            a, b = round(w["start"] * 16000), round(w["end"] * 16000)
            in_word[a:b] = True
            assert abs(_dominant_freq(wave[a:b]) - freq_of[w["word"]]) < 20  # the right word is there
        e_words = np.mean(wave[in_word] ** 2)
        e_gaps = np.mean(wave[~in_word] ** 2)
        assert e_gaps > 0  # the pauses carry a faint noise floor ...
        assert e_words > 1000 * e_gaps  # ... far below the words (> 30 dB)


def test_make_sequences_deterministic(tmp_path, word_utts):
    a = make_sequences(word_utts, tmp_path / "a", n=3, seed=1, min_words=3, max_words=3, prefix="x")
    b = make_sequences(word_utts, tmp_path / "b", n=3, seed=1, min_words=3, max_words=3, prefix="x")
    assert a == b
    assert all(len(r["words"]) == 3 and r["audio"].startswith("x_") for r in a)
    assert np.array_equal(sf.read(str(tmp_path / "a" / a[0]["audio"]))[0],
                          sf.read(str(tmp_path / "b" / b[0]["audio"]))[0])


def test_make_sequences_rows_form_a_manifest(tmp_path, word_utts):
    out = tmp_path / "seq"
    rows = make_sequences(word_utts, out, n=2)
    write_manifest(out / "manifest.jsonl", rows)
    man = read_manifest(out / "manifest.jsonl")
    assert [u.text for u in man.utterances] == [r["text"] for r in rows]
    assert all(u.audio.is_file() and "words" in u.extra for u in man.utterances)
