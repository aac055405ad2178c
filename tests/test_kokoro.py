"""The Kokoro-82M synthetic-speech engine (lstm_asr.kokoro). Voice-id parsing, mixes and the error
messages need nothing installed; rendering needs scripts/install_kokoro.sh and onnxruntime and is
skipped with the reason when they are missing."""
import random

import numpy as np
import pytest

from lstm_asr.errors import ConfigError
from lstm_asr.kokoro import ENGLISH_VOICES, KokoroEngine, default_dir, number_words, parse_voice, random_mix

ENGINE = KokoroEngine(threads=1)
needs_kokoro = pytest.mark.skipif(
    not ENGINE.available(),
    reason=f"Kokoro not installed in {default_dir()} (or onnxruntime missing): run scripts/install_kokoro.sh")


def test_interface():
    assert KokoroEngine.name == "kokoro" and KokoroEngine.licence == "Apache-2.0"
    voices = ENGINE.voices()
    assert len(voices) == 28 == len(set(voices))
    assert {"af_heart", "am_adam", "bf_emma", "bm_george"} <= set(voices)
    assert all(v[:3] in ("af_", "am_", "bf_", "bm_") for v in voices)


def test_mix_ids_parse():
    assert parse_voice("af_heart") == [("af_heart", 1.0)]
    mix = parse_voice("mix:af_heart=0.6,am_adam=0.4")
    assert [n for n, _ in mix] == ["af_heart", "am_adam"]
    assert [w for _, w in mix] == pytest.approx([0.6, 0.4])
    assert sum(w for _, w in parse_voice("mix:bf_emma=3, bm_george=1")) == pytest.approx(1.0)  # normalised


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("rng", [np.random.default_rng(1), random.Random(1)], ids=["numpy", "random"])
def test_random_mix(rng, k):
    for _ in range(20):
        vid = random_mix(rng, k)
        parts = parse_voice(vid)
        assert vid.startswith("mix:") and len(parts) == k and len({n for n, _ in parts}) == k
        assert all(n in ENGLISH_VOICES and w >= 0.09 for n, w in parts)
        assert sum(float(x.split("=")[1]) for x in vid[4:].split(",")) == pytest.approx(1.0)


@pytest.mark.parametrize("voice", ["af_nobody", "", "mix:", "mix:af_heart", "mix:af_heart=0.5,xx_yy=0.5",
                                   "mix:af_heart=-1,am_adam=2", "mix:af_heart=nan", "mix:af_heart=1,af_heart=1",
                                   "jf_alpha"])
def test_invalid_voice_is_one_line_config_error(voice):
    with pytest.raises(ConfigError) as e:
        ENGINE.render("one", voice, 1.0, 0.0)  # checked before anything is loaded
    assert "\n" not in str(e.value) and str(e.value)


def test_not_installed_is_a_config_error(tmp_path):
    e = KokoroEngine(root=tmp_path)
    assert not e.available()
    with pytest.raises(ConfigError, match="install_kokoro.sh"):
        e.render("one", "af_heart", 1.0, 0.0)


def test_number_words():
    assert number_words(7) == "seven"
    assert number_words(2024) == "two thousand twenty four"
    assert number_words(1_000_001) == "one million one"


@needs_kokoro
def test_render_one_word():
    audio, sr = ENGINE.render("seven", "af_heart", 1.0, 0.0)
    assert sr == 24000
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.3 < len(audio) / sr < 3.0
    assert np.isfinite(audio).all() and 0.05 < np.abs(audio).max() < 2.0
    slow, _ = ENGINE.render("seven", "af_heart", 0.7, 0.0)
    assert len(slow) > len(audio)  # rate is the speed


@needs_kokoro
def test_render_mix_and_british():
    a, sr = ENGINE.render("one", "mix:af_heart=0.6,bm_george=0.4", 1.0, 0.0)
    b, _ = ENGINE.render("one", "bf_emma", 1.0, 3.0)  # pitch is ignored
    assert sr == 24000 and len(a) > 2400 and len(b) > 2400
    assert np.isfinite(a).all() and np.isfinite(b).all()
    assert ENGINE.phonemize("two", "bf_emma") == "tˈuː" and ENGINE.phonemize("two", "af_heart") == "tˈu"
