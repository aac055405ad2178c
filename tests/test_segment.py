"""lstm_asr.segment: block-by-block reading (stream_audio) and the online speech segmenter, on real
speech: the CMU ARCTIC clip and FSDD digits (tests/data)."""
from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from lstm_asr.audio import SAMPLE_RATE, load_audio
from lstm_asr.segment import trim_silence
from lstm_asr.errors import AsrError, AudioError
from lstm_asr.audio import duration_of, stream_audio
from lstm_asr.segment import PAD_S, Segment, Segmenter, segment_file, segment_stream

DATA = Path(__file__).parent / "data"
ARCTIC = DATA / "arctic_a0001.wav"
FSDD = DATA / "fsdd"
# six digits, five speakers; "6_theo_0" starts with a weak fricative
DIGITS = ["3_jackson_0", "0_theo_1", "4_nicolas_1", "7_george_0", "9_yweweler_0", "6_theo_0"]


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    wave, sr = sf.read(ARCTIC, dtype="float32")
    assert sr == SAMPLE_RATE
    return wave


@pytest.fixture(scope="module")
def continuous(speech) -> np.ndarray:
    """About 70 s of speech without pauses: the clip without its leading/trailing silence, 20 times."""
    return np.tile(trim_silence(speech, margin_s=0.0), 20)


@pytest.fixture(scope="module")
def digits_file(tmp_path_factory):
    """8 kHz file: 6 FSDD digits (peak-normalised) separated by 0.6-1.0 s of faint noise (-60 dBFS).
    Returns (path, signal, [(start_s, end_s, text)])."""
    texts = {json.loads(line)["audio"]: json.loads(line)["text"] for line in open(FSDD / "manifest.jsonl")}
    rng = np.random.default_rng(0)
    rate, parts, spans, pos = 8000, [], [], 0
    for i, name in enumerate(DIGITS):
        pause = int((0.5 if i == 0 else rng.uniform(0.6, 1.0)) * rate)
        parts.append(np.zeros(pause, np.float32))
        pos += pause
        word, sr = sf.read(FSDD / f"{name}.wav", dtype="float32")
        assert sr == rate
        parts.append(0.5 * word / np.abs(word).max())
        spans.append((pos / rate, (pos + len(word)) / rate, texts[f"{name}.wav"]))
        pos += len(word)
    parts.append(np.zeros(int(0.7 * rate), np.float32))
    sig = np.concatenate(parts)
    sig = sig + 1e-3 * rng.standard_normal(len(sig)).astype(np.float32)
    path = tmp_path_factory.mktemp("digits") / "six.wav"
    sf.write(str(path), sig, rate, subtype="PCM_16")
    return path, sig, spans


# ---------------------------------------------------------------- stream_audio

def test_stream_audio_matches_load_audio(tmp_path, speech):
    x = soxr.resample(speech, SAMPLE_RATE, 44100, quality="HQ")
    p = tmp_path / "stereo44.flac"
    sf.write(str(p), np.stack([x, 0.5 * x], axis=1), 44100, subtype="PCM_16")
    ref = load_audio(p)
    for block in (10.0, 0.37, 0.05):  # one block, a few, many
        chunks = list(stream_audio(p, block_seconds=block))
        assert all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
        if block < 1:
            assert len(chunks) > 5
        out = np.concatenate(chunks)
        assert abs(len(out) - len(ref)) <= 2
        n = min(len(out), len(ref))
        assert np.abs(out[100:n - 100] - ref[100:n - 100]).max() < 1e-3
    assert duration_of(p) == pytest.approx(len(speech) / SAMPLE_RATE, abs=1e-3)


def test_stream_audio_16k_is_the_file_content(speech):
    np.testing.assert_array_equal(np.concatenate(list(stream_audio(ARCTIC, block_seconds=1.0))), speech)


def _stream_error(path, *words, **kw) -> AudioError:
    with pytest.raises(AudioError) as info:
        for _ in stream_audio(path, **kw):
            pass
    e = info.value
    assert isinstance(e, AsrError) and e.path == str(path) and str(e).startswith(f"{path}: "), str(e)
    for w in words:
        assert w.lower() in str(e).lower(), str(e)
    return e


def test_stream_audio_errors(tmp_path, speech):
    _stream_error(tmp_path / "nope.wav", "no such file")
    _stream_error(tmp_path, "directory")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    _stream_error(empty, "empty file")
    text = tmp_path / "notes.wav"
    text.write_text("this is a text file, not a RIFF/WAVE file\n" * 20)
    _stream_error(text, "not a readable audio file")
    zero = tmp_path / "zero.wav"
    sf.write(str(zero), np.zeros(0, np.float32), 16000, subtype="PCM_16")
    _stream_error(zero, "no samples")
    short = tmp_path / "short.wav"
    sf.write(str(short), speech[:320], 16000)
    _stream_error(short, "too short")
    full = tmp_path / "full.wav"
    sf.write(str(full), speech, 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    _stream_error(cut, "truncated")
    with pytest.raises(AudioError, match="no such file"):
        duration_of(tmp_path / "nope.wav")


@pytest.mark.parametrize("bad,word", [(np.nan, "NaN"), (np.inf, "infinite")])
def test_stream_audio_non_finite_in_a_late_block(tmp_path, speech, bad, word):
    x = speech.copy()
    x[50000] = bad  # in the 7th block of 0.5 s
    p = tmp_path / "bad.wav"
    sf.write(str(p), x, 16000, subtype="FLOAT")
    e = _stream_error(p, word, block_seconds=0.5)
    assert e.reason == "contains NaN or infinite samples"
    with pytest.raises(AudioError, match="NaN"):  # and through segment_file
        list(segment_file(p, block_seconds=0.5))


# ---------------------------------------------------------------- segmenting

def _check_segments(segs, total_s, max_seconds=20.0):
    assert all(isinstance(s, Segment) for s in segs)
    for a, b in zip(segs, segs[1:]):
        assert a.end <= b.start + 1e-9, (a.start, a.end, b.start, b.end)  # ordered, no overlap
    for s in segs:
        assert 0 <= s.start < s.end <= total_s + 1e-9
        assert s.end - s.start <= max_seconds + 1e-9
        assert s.audio.dtype == np.float32 and len(s.audio) == round((s.end - s.start) * SAMPLE_RATE)


def test_digits_one_segment_per_word(digits_file):
    path, sig, spans = digits_file
    segs = list(segment_file(path))
    _check_segments(segs, len(sig) / 8000)
    assert len(segs) == len(spans), [(s.start, s.end) for s in segs]
    for s, (a, b, text) in zip(segs, spans):
        assert s.start <= a and s.end >= b, (text, s.start, s.end, a, b)  # contains the word
        assert a - s.start <= PAD_S + 0.05 and s.end - b <= PAD_S + 0.05, (text, s.start, s.end, a, b)
    # the segment audio is the file's audio at 16 kHz
    wave = load_audio(path)
    s = segs[2]
    i = round(s.start * SAMPLE_RATE)
    np.testing.assert_allclose(s.audio, wave[i:i + len(s.audio)], atol=1e-5)


def test_digits_level_independent(digits_file, tmp_path):
    path, sig, spans = digits_file
    quiet = tmp_path / "quiet.wav"
    sf.write(str(quiet), 0.05 * sig, 8000, subtype="PCM_16")
    loud = [(s.start, s.end) for s in segment_file(path)]
    soft = [(s.start, s.end) for s in segment_file(quiet)]
    assert len(soft) == len(loud)
    np.testing.assert_allclose(soft, loud, atol=0.05)


def test_continuous_speech_is_force_split(continuous):
    total = len(continuous) / SAMPLE_RATE
    assert 65 < total < 75
    chunks = (continuous[i:i + 12345] for i in range(0, len(continuous), 12345))
    segs = list(segment_stream(chunks, max_seconds=20.0))
    _check_segments(segs, total)
    assert 4 <= len(segs) <= 8, [(s.start, s.end) for s in segs]
    assert segs[0].start <= 0.15 and segs[-1].end >= total - 0.15
    for a, b in zip(segs, segs[1:]):
        assert b.start - a.end <= 0.15
    # no speech lost: every frame within 30 dB of the loudest is inside a segment
    hop = SAMPLE_RATE // 100
    frames = continuous[: len(continuous) // hop * hop].reshape(-1, hop).astype(np.float64)
    energy = 10 * np.log10(np.mean((frames - frames.mean(1, keepdims=True)) ** 2, axis=1) + 1e-20)
    covered = np.zeros(len(energy), bool)
    for s in segs:
        covered[round(s.start * 100):round(s.end * 100)] = True
        i = round(s.start * SAMPLE_RATE)
        np.testing.assert_array_equal(s.audio, continuous[i:i + len(s.audio)])
    assert covered[energy > energy.max() - 30].all()


def _ten_minutes(speech, rng, chunk_max_s=12.0):
    """10 minutes of speech: the clip with pauses of faint noise and ~55 s runs without pauses, at
    three levels, cut into chunks of random sizes; yields fresh arrays only."""
    clip = trim_silence(speech, margin_s=0.0)
    n = 0
    while n < 600 * SAMPLE_RATE:
        reps = 15 if rng.random() < 0.15 else 1
        gain = rng.choice([1.0, 0.3, 0.05])
        pieces = [clip] * reps + [1e-3 * rng.standard_normal(int(rng.uniform(0.2, 2.0) * SAMPLE_RATE))]
        for piece in pieces:
            i = 0
            while i < len(piece):
                k = max(1, int(rng.uniform(0.001, chunk_max_s) * SAMPLE_RATE))
                yield (gain * piece[i:i + k]).astype(np.float32)
                i += k
            n += len(piece)


def test_buffer_bounded_over_ten_minutes(speech):
    seg = Segmenter(max_seconds=20.0)
    segs = []
    for chunk in _ten_minutes(speech, np.random.default_rng(1)):
        segs += seg.feed(chunk)
        assert len(seg.audio) <= 25 * SAMPLE_RATE
    segs += seg.flush()
    assert seg.peak_buffered_seconds <= 20.0 + 5
    _check_segments(segs, np.inf)
    assert len(segs) > 50
    assert max(s.end - s.start for s in segs) > 15  # the long runs were split


def test_segment_stream_memory_and_latency(speech):
    """Through segment_stream: traced allocations stay far below the 38 MB of 10 minutes of audio,
    and each segment comes out soon after its end (it is streamed, not collected)."""
    produced = [0]

    def chunks():
        for c in _ten_minutes(speech, np.random.default_rng(2), chunk_max_s=0.5):
            produced[0] += len(c)
            yield c

    tracemalloc.start()
    try:
        lag = []
        for s in segment_stream(chunks()):
            lag.append(produced[0] / SAMPLE_RATE - s.end)
            del s
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert produced[0] >= 600 * SAMPLE_RATE
    assert peak < 8e6, peak
    # a segment is closed 0.3 s (min_silence) after its speech, decided 1 s later, seen within a 0.5 s
    # chunk; a forced split cuts up to 3 s back
    assert max(lag[:-1]) < 0.5 + 1.0 + 3.0 + 0.1
    assert np.median(lag) < 0.5 + 1.0 + 0.3 - 0.15 + 0.1


def test_drops_short_noise_and_silence():
    rng = np.random.default_rng(3)
    x = 1e-3 * rng.standard_normal(5 * SAMPLE_RATE).astype(np.float32)
    x[2 * SAMPLE_RATE:2 * SAMPLE_RATE + 480] += 0.3 * rng.standard_normal(480).astype(np.float32)  # 30 ms click
    assert list(segment_stream([x])) == []
    assert list(segment_stream([np.zeros(3 * SAMPLE_RATE, np.float32)])) == []
    assert list(segment_stream([])) == []


def test_bad_parameters():
    with pytest.raises(ValueError):
        Segmenter(max_seconds=0.5)
    with pytest.raises(ValueError):
        Segmenter(pad=-1)
    with pytest.raises(ValueError):
        list(segment_stream([np.zeros((10, 2), np.float32)]))


# ---------------------------------------------------------------- trim_silence: the detector over a whole clip

def _locate(part: np.ndarray, whole: np.ndarray) -> int:
    """Start index of ``part`` inside ``whole`` (unique match of its first 64 samples)."""
    win = np.lib.stride_tricks.sliding_window_view(whole, 64)
    hits = np.flatnonzero(np.all(win == part[:64], axis=1))
    assert len(hits) == 1, hits
    start = int(hits[0])
    np.testing.assert_array_equal(whole[start:start + len(part)], part)
    return start


@pytest.fixture(scope="module")
def padded(speech):
    rng = np.random.default_rng(0)
    noise = lambda: (rng.standard_normal(16000) * 1e-3).astype(np.float32)  # noqa: E731  -60 dBFS
    silence = np.zeros(16000, np.float32)
    return np.concatenate([silence, noise(), speech, noise(), silence])


def test_trim_silence_removes_padding(speech, padded):
    out = trim_silence(padded)
    assert abs(len(out) - len(speech)) <= 0.25 * SAMPLE_RATE  # the clip's own 0.16 s lead-in goes too
    start = _locate(out, padded)
    # all of the speech proper (what trimming the bare clip keeps) is inside the cut
    core = trim_silence(speech, margin_s=0.0)
    core_start = 32000 + _locate(core, speech)
    assert start <= core_start and start + len(out) >= core_start + len(core)
    # and the cut is where trimming the unpadded clip cuts
    bare = trim_silence(speech)
    assert start == 32000 + _locate(bare, speech) and abs(len(out) - len(bare)) <= 2 * 160  # within 2 frames


def test_trim_silence_level_and_dc_independent(padded):
    out = trim_silence(padded)
    ref = (_locate(out, padded), len(out))
    quiet = padded * np.float32(0.1)
    q = trim_silence(quiet)
    assert (_locate(q, quiet), len(q)) == ref
    shifted = padded + np.float32(0.3)
    s = trim_silence(shifted)
    assert (_locate(s, shifted), len(s)) == ref


def test_trim_silence_margin(padded):
    narrow, wide = trim_silence(padded, margin_s=0.0), trim_silence(padded, margin_s=0.2)
    assert len(wide) - len(narrow) == 2 * int(0.2 * SAMPLE_RATE)


def test_trim_silence_all_zero_unchanged():
    z = np.zeros(32000, np.float32)
    out = trim_silence(z)
    assert len(out) == len(z) and np.array_equal(out, z)
    const = np.full(32000, 0.5, np.float32)  # DC only: no signal either
    assert len(trim_silence(const)) == len(const)


def test_trim_silence_too_short_unchanged():
    x = np.random.default_rng(1).standard_normal(400).astype(np.float32)  # < 3 frames of 10 ms
    np.testing.assert_array_equal(trim_silence(x), x)


def test_trim_silence_of_short_clips(speech):
    """Clips shorter than a pause (0.05 s to 1 s) are trimmed like longer ones, never refused."""
    for seconds in (0.05, 0.3, 0.9):
        x = speech[16000:16000 + int(seconds * SAMPLE_RATE)]
        out = trim_silence(x)
        assert 0 < len(out) <= len(x)
