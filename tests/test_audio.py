"""lstm_asr.audio: file loading (any format / rate / channel count), validation errors,
in-memory input conversion and silence trimming."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from lstm_asr.audio import SAMPLE_RATE, load_audio, to_model_input
from lstm_asr.errors import AsrError, AudioError

# A real 16 kHz speech clip from CMU ARCTIC (redistributable; see tests/data/LICENSE.cmu_arctic).
ARCTIC = Path(__file__).parent / "data" / "arctic_a0001.wav"

HAS_MP3 = "MP3" in sf.available_formats()
FORMATS = ["wav", "flac", "ogg"] + (["mp3"] if HAS_MP3 else [])
SUBTYPE = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS", "mp3": "MPEG_LAYER_III"}
LOSSY = {"ogg", "mp3"}
RATES = [8000, 22050, 44100, 48000]


def _reference(speech: np.ndarray, rate: int) -> np.ndarray:
    """What a round trip 16 kHz -> rate -> 16 kHz can at best preserve (band-limited below 16 kHz)."""
    if rate >= SAMPLE_RATE:
        return speech
    return soxr.resample(soxr.resample(speech, SAMPLE_RATE, rate, quality="HQ"), rate, SAMPLE_RATE, quality="HQ")


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    m = min(len(a), len(b))
    return float(np.corrcoef(a[:m].astype(np.float64), b[:m].astype(np.float64))[0, 1])


def _write(path: Path, speech: np.ndarray, rate: int, gains=(1.0,), subtype=None) -> int:
    """Write ``speech`` resampled to ``rate``, channel c scaled by gains[c]; return its frame count."""
    x = soxr.resample(speech, SAMPLE_RATE, rate, quality="HQ") if rate != SAMPLE_RATE else speech
    data = np.stack([x * g for g in gains], axis=1) if len(gains) > 1 else x
    sf.write(str(path), data, rate, subtype=subtype or SUBTYPE[path.suffix[1:]])
    return len(x)


def _check_loaded(out: np.ndarray, speech: np.ndarray, frames: int, rate: int, lossy: bool) -> None:
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - frames * SAMPLE_RATE / rate) <= 1
    assert abs(len(out) - len(speech)) <= 2
    c = _corr(out, _reference(speech, rate))
    assert c > (0.98 if lossy else 0.999), c


# ---------------------------------------------------------------- formats, rates, channels

@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_load_audio_formats_and_rates(tmp_path, speech, fmt, rate):
    path = tmp_path / f"speech_{rate}.{fmt}"
    frames = _write(path, speech, rate)
    out = load_audio(path)
    _check_loaded(out, speech, frames, rate, fmt in LOSSY)


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_audio_44k_round_trip_matches_original(tmp_path, speech, fmt):
    path = tmp_path / f"speech.{fmt}"
    _write(path, speech, 44100)
    out = load_audio(str(path))  # str paths work as well as Path
    assert len(out) == pytest.approx(len(speech), abs=1)
    assert _corr(out, speech) > 0.99


@pytest.mark.parametrize("fmt,channels", [("wav", 2), ("wav", 6), ("flac", 2), ("flac", 6), ("ogg", 2), ("ogg", 6)]
                         + ([("mp3", 2)] if HAS_MP3 else []))
def test_load_audio_multichannel_mixed_to_mono(tmp_path, speech, fmt, channels):
    gains = np.linspace(1.0, 0.2, channels)
    path = tmp_path / f"speech_{channels}ch.{fmt}"
    frames = _write(path, speech, 48000, gains=gains)
    assert sf.info(str(path)).channels == channels
    out = load_audio(path)
    _check_loaded(out, speech, frames, 48000, fmt in LOSSY)
    if fmt not in LOSSY:  # mono mix is the channel mean: level = mean gain
        level = np.dot(out, speech[: len(out)]) / np.dot(speech[: len(out)], speech[: len(out)])
        assert level == pytest.approx(gains.mean(), rel=0.01)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "PCM_U8"])
def test_load_audio_sample_types(tmp_path, speech, subtype):
    path = tmp_path / "speech.wav"
    frames = _write(path, speech, 22050, subtype=subtype)
    out = load_audio(path)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - frames * SAMPLE_RATE / 22050) <= 1
    assert _corr(out, _reference(speech, 22050)) > (0.98 if subtype == "PCM_U8" else 0.999)
    assert np.abs(out).max() < 1.01


def test_load_audio_16k_wav_is_the_file_content(speech):
    out = load_audio(ARCTIC)
    np.testing.assert_array_equal(out, speech)


# ---------------------------------------------------------------- errors

def _expect_error(path, *words: str) -> AudioError:
    with pytest.raises(AudioError) as info:
        load_audio(path)
    e = info.value
    msg = str(e)
    assert isinstance(e, AsrError)
    assert msg.startswith(f"{path}: "), msg
    assert e.path == str(path)
    for w in words:
        assert w.lower() in msg.lower(), msg
    return e


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "nope.wav", "no such file")


def test_directory(tmp_path):
    _expect_error(tmp_path, "directory")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    _expect_error(p, "empty")


def test_not_audio(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is a text file, not a RIFF/WAVE file\n" * 20)
    _expect_error(p, "not a readable audio file")


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_truncated_wav(tmp_path, speech, subtype):
    full = tmp_path / "full.wav"
    sf.write(str(full), speech, 16000, subtype=subtype)
    data = full.read_bytes()
    p = tmp_path / "cut.wav"
    p.write_bytes(data[: len(data) // 2])
    _expect_error(p, "truncated")


def test_zero_samples(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(str(p), np.zeros(0, np.float32), 16000, subtype="PCM_16")
    assert p.stat().st_size > 0 and sf.info(str(p)).frames == 0  # a valid header, no frames
    _expect_error(p, "no samples")


@pytest.mark.parametrize("bad,word", [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")])
def test_non_finite_samples(tmp_path, speech, bad, word):
    x = speech.copy()
    x[1234] = bad
    p = tmp_path / "bad.wav"
    sf.write(str(p), x, 16000, subtype="FLOAT")
    _expect_error(p, word)


def test_too_short(tmp_path, speech):
    p = tmp_path / "short.wav"
    sf.write(str(p), speech[:16000 * 20 // 1000], 16000)  # 20 ms < one 25 ms frame
    _expect_error(p, "too short")
    ok = tmp_path / "ok.wav"
    sf.write(str(ok), speech[:400], 16000)  # exactly 25 ms is enough
    assert len(load_audio(ok)) == 400


def test_too_short_at_other_rate(tmp_path, speech):
    p = tmp_path / "short44.wav"
    sf.write(str(p), np.resize(speech, 44100 // 50), 44100)  # 20 ms at 44.1 kHz
    _expect_error(p, "too short")


# ---------------------------------------------------------------- to_model_input

def test_to_model_input_int16_scaled():
    x = np.array([0, 16384, -32768, 32767] * 200, dtype=np.int16)
    out = to_model_input(x, None)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:4], [0.0, 0.5, -1.0, 32767 / 32768], rtol=0, atol=1e-7)


def test_to_model_input_uint8_scaled_to_full_range():
    u8 = to_model_input(np.array([128, 255, 0] * 200, dtype=np.uint8), None)
    np.testing.assert_allclose(u8[:3], [0.0, 127 / 128, -1.0], atol=1e-7)


def test_to_model_input_int32_scaled():
    i32 = to_model_input(np.array([0, 2**30, -(2**31)] * 200, dtype=np.int32), None)
    np.testing.assert_allclose(i32[:3], [0.0, 0.5, -1.0], atol=1e-7)


def test_to_model_input_int_matches_float(speech):
    as_int = np.round(speech * 32767).astype(np.int16)
    out = to_model_input(as_int, 16000)
    np.testing.assert_allclose(out, as_int / 32768.0, atol=1e-6)


def test_to_model_input_mixes_channels(speech):
    stereo = np.stack([speech, np.zeros_like(speech)], axis=1)
    out = to_model_input(stereo, 16000)
    assert out.shape == speech.shape
    np.testing.assert_allclose(out, speech / 2, atol=1e-7)
    six = np.stack([speech * g for g in (1, 1, 1, 0, 0, 0)], axis=1).astype(np.float32)
    np.testing.assert_allclose(to_model_input(six, None), speech / 2, atol=1e-7)
    int_stereo = np.stack([np.full(800, 16384, np.int16), np.full(800, -16384, np.int16)], axis=1)
    np.testing.assert_allclose(to_model_input(int_stereo, None), 0.0, atol=1e-7)


def test_to_model_input_rate(speech):
    same = to_model_input(speech, None)
    np.testing.assert_array_equal(same, speech)  # None means already 16 kHz: untouched
    np.testing.assert_array_equal(to_model_input(speech, 16000), same)
    up = to_model_input(speech[:8000], 8000)
    assert len(up) == 16000 and up.dtype == np.float32
    down = to_model_input(speech.astype(np.float64), 32000)
    assert len(down) == pytest.approx(len(speech) / 2, abs=1) and down.dtype == np.float32


@pytest.mark.parametrize("wave,rate,word", [
    (np.zeros((10, 2, 2), np.float32), None, "shape"),
    (np.zeros(1000, np.complex64), None, "unsupported sample type"),
    (np.array(["a"] * 1000), None, "unsupported sample type"),
    (np.zeros(0, np.float32), None, "no samples"),
    (np.zeros((0, 2), np.float32), None, "no samples"),
    (np.full(1000, np.nan, np.float32), None, "NaN"),
    (np.zeros(1000, np.float32), 0, "sample_rate must be a sample rate in Hz"),
    (np.zeros(1000, np.float32), -16000, "sample_rate must be a sample rate in Hz"),
    (np.zeros(399, np.float32), None, "too short"),
    (np.zeros(1000, np.float32), 48000, "too short"),
])
def test_to_model_input_errors(wave, rate, word):
    with pytest.raises(AudioError) as info:
        to_model_input(wave, rate, name="mic")
    assert str(info.value).startswith("mic: ")
    assert word.lower() in str(info.value).lower()


def test_to_model_input_default_name():
    with pytest.raises(AudioError, match=r"^<array>: "):
        to_model_input(np.zeros(10, np.float32), None)


