"""Tests tied to the exact weights of the bundled models: what they say on the shipped clips and
how accurate they are on the shipped unseen-speaker subsets. Retraining a bundled model means
revisiting this file (and only this file).

Accuracy floors sit just under the measured figures: one clip below on the 38-clip Speech Commands
set, two below on the 100-clip FSDD set. The computation is deterministic on one machine, but
another CPU's or BLAS build's rounding can flip a clip whose two best words are nearly tied; a
larger margin would let a real regression through."""
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import DATA, SAMPLES, run_cli

# ---- the digits model (recipes/digits) --------------------------------------------------------
EXPECTED = {
    "7_jackson_2.wav": "seven",
    "3_theo_4.wav": "three",
    "string_1.wav": "six eight five seven eight two",
    "string_2.flac": "six zero nine one",
    "string_3.ogg": "one six five one",
}


def test_demo_samples_transcribe_correctly():
    paths = [SAMPLES / name for name in EXPECTED]
    rc, out, err = run_cli("transcribe", "--model", "digits", *paths)
    assert rc == 0, err
    assert out.splitlines() == list(EXPECTED.values())


def test_json_output_one_object_per_file():
    rc, out, err = run_cli("transcribe", "--model", "digits", "--json", "samples/string_2.flac", "samples/7_jackson_2.wav")
    assert rc == 0, err
    objs = [json.loads(line) for line in out.splitlines()]
    assert [o["audio"] for o in objs] == ["samples/string_2.flac", "samples/7_jackson_2.wav"]
    assert objs[0]["text"] == "six zero nine one"
    assert objs[0]["duration"] == pytest.approx(sf.info(str(SAMPLES / "string_2.flac")).duration, abs=0.01)


def test_silence_padding_level_dc_offset_and_sample_rate_do_not_change_the_transcript(digits_model):
    wave, sr = sf.read(str(SAMPLES / "string_1.wav"), dtype="float32")
    expected = EXPECTED["string_1.wav"]
    second = np.zeros(sr, np.float32)
    variants = {
        "padded": np.concatenate([second, wave, second]),
        "quieter": wave * 0.1,                      # 20 dB quieter
        "dc": wave + 0.05,
        "noise floor padding": np.concatenate([second + 1e-4 * np.random.default_rng(0).standard_normal(sr),
                                               wave]).astype(np.float32),
    }
    for name, v in variants.items():
        assert digits_model.transcribe(v, sample_rate=sr).text == expected, name
    import soxr
    for rate in (8000, 22050, 48000):
        assert digits_model.transcribe(soxr.resample(wave, sr, rate), sample_rate=rate).text == expected, rate


def test_python_api_accepts_paths_and_arrays(digits_model):
    t = digits_model.transcribe(str(SAMPLES / "7_jackson_2.wav"))
    assert t.text == "seven" and str(t) == "seven"
    wave, sr = sf.read(str(SAMPLES / "7_jackson_2.wav"), dtype="int16")
    assert digits_model.transcribe(wave, sample_rate=sr).text == "seven"
    assert t.duration == pytest.approx(len(wave) / sr, abs=1e-3)


def test_evaluate_json_on_the_shipped_fsdd_test_clips():
    import time
    t0 = time.perf_counter()
    rc, out, err = run_cli("evaluate", "--model", "digits", "--manifest", DATA / "fsdd" / "manifest.jsonl", "--json")
    wall = time.perf_counter() - t0
    assert rc == 0, err
    res = json.loads(out)
    assert {"wer", "cer", "sent_acc", "rtf", "n", "worst"} <= set(res)
    assert res["n"] == 100
    assert res["sent_acc"] >= 0.91  # measured 0.93 (issue target 0.98 on the full test split: not reached)
    assert res["wer"] == pytest.approx(1 - res["sent_acc"], abs=1e-9)  # one word per clip
    total = sum(sf.info(str(p)).duration for p in (DATA / "fsdd").glob("*.wav"))
    assert res["audio_seconds"] == pytest.approx(total, rel=1e-3)  # RTF's denominator: the audio scored
    assert 0 < res["rtf"] * res["audio_seconds"] < wall  # its numerator: decoding time, within the run's


# ---- the default model (recipes/digits-commands) -------------------------------------------------
def _accuracy(model, manifest) -> float:
    res = json.loads(run_cli("evaluate", "--model", model, "--manifest", manifest, "--json")[1])
    return res["sent_acc"]


def test_default_model_on_the_shipped_unseen_speech_commands_speakers():
    # 38 clips of 20 words from the recipe's test speakers (never trained on); the phone model
    # shipped 2026-12-04 (its fifth pass, runs/pass5) measured 35 of 38 (92.1 %), as the third and fourth did
    assert _accuracy("digits-commands", DATA / "speech_commands" / "manifest.jsonl") >= 34 / 38


def test_default_model_on_the_shipped_fsdd_test_clips():
    assert _accuracy("digits-commands", DATA / "fsdd" / "manifest.jsonl") >= 0.93  # measured 95 % (2026-12-04, pass 5)


def test_default_model_reads_words_it_was_never_given_as_a_list(default_model):
    """A phone model: any English word list, through the lexicon (here words that are no
    character model's spelling of the clip)."""
    from lstm_asr.transcribe import DecodeOptions
    assert default_model.vocab.kind == "phones"
    t = default_model.transcribe(SAMPLES / "yes_0ea0e2f4_0.wav", options=DecodeOptions(words=["yes", "yesterday", "less"]))
    assert t.text == "yes"
    t = default_model.transcribe(SAMPLES / "commands_1.wav", options=DecodeOptions(words=["go", "left", "stop", "gopher"]))
    assert t.text == "go left stop"


# ---- digits-tts (recipes/digits-tts): trained on synthetic speech only ----------------------------
def test_digits_tts_never_trained_on_real_speech_and_reads_real_digits():
    from lstm_asr.checkpoint import resolve_model
    config = json.loads((resolve_model("digits-tts") / "config.json").read_text())
    assert all("synth/" in m for m in config["training"]["train"]["manifests"]) and not config["training"]["train"]["dev"]
    assert config["decoding"]["words"] == "zero one two three four five six seven eight nine".split()
    # the 18 digit clips among the shipped Speech Commands test clips: measured 15 (2026-12-04)
    rows = [json.loads(line) for line in (DATA / "speech_commands" / "manifest.jsonl").read_text().splitlines()]
    digits = [r for r in rows if r["text"] in config["decoding"]["words"]]
    import lstm_asr
    rec = lstm_asr.load_model("digits-tts")
    right = sum(rec.transcribe(DATA / "speech_commands" / r["audio"]).text == r["text"] for r in digits)
    assert len(digits) == 18 and right >= 14


def test_default_model_says_the_samples():
    rc, out, err = run_cli("transcribe", SAMPLES / "yes_0ea0e2f4_0.wav", SAMPLES / "string_1.wav",
                           SAMPLES / "3_theo_4.wav")
    assert rc == 0, err
    assert out.splitlines() == ["yes", "six eight five seven eight two", "three"]


def test_words_narrow_the_default_decoder(default_model):
    from lstm_asr import DecodeOptions
    assert len(default_model.default_options.words) == 20
    for clip in ("yes_0ea0e2f4_0.wav", "commands_1.wav", "string_1.wav"):
        t = default_model.transcribe(SAMPLES / clip, options=DecodeOptions(words=["yes", "no"]))
        assert set(t.text.split()) <= {"yes", "no"}
    rc, out, _ = run_cli("transcribe", "--words", "yes no", SAMPLES / "yes_0ea0e2f4_0.wav")
    assert rc == 0 and out.strip() == "yes"


@pytest.mark.parametrize("model", ["digits-commands", "digits-commands-streaming"])
def test_digital_silence_or_a_quiet_microphone_hardly_matters(model):
    """The shipped unseen-speaker clips with 0.5 s of exact zeros each side (as from an editor or a
    microphone's first buffers), and 20 dB quieter (a microphone set low): the front end's floors
    (features.noise_floor: 1 LSB, features.level_floor_db: a floor that follows the input's level)
    keep them about as readable as the clips themselves. Measured with the model shipped on
    2026-12-04 (pass 5), clips / padded / quiet right of 38: 35 / 35 / 35, streamed the same (pass 3:
    35 / 34 / 35) (the earlier
    character model on 2026-12-02: 34 / 33 / 35; with the 1-LSB floor alone 31 / 29 / 33, and 20
    padded without any floor)."""
    import lstm_asr
    from lstm_asr.audio import load_audio
    from lstm_asr.data import read_manifest
    rec = lstm_asr.load_model(model)
    assert rec.feature_config.noise_floor == 1.0 and rec.feature_config.level_floor_db == 30.0
    utts = read_manifest(DATA / "speech_commands" / "manifest.jsonl").utterances
    zeros = np.zeros(8000, np.float32)
    right = {"clip": 0, "padded": 0, "quiet": 0}
    for u in utts:
        wave = load_audio(u.audio)
        right["clip"] += rec.transcribe(wave).text == u.text
        right["padded"] += rec.transcribe(np.concatenate([zeros, wave, zeros])).text == u.text
        quiet = (np.round(wave * 3276.8) / 32768).astype(np.float32)  # -20 dB, still 16-bit samples
        right["quiet"] += rec.transcribe(quiet).text == u.text
    assert right["clip"] >= 34 and right["padded"] >= right["clip"] - 2 and right["quiet"] >= right["clip"] - 1, right


def test_default_model_reads_the_sample_joined_with_digital_silence():
    # samples/commands_1.wav joins three clips with pauses of exact zeros: "up left six six" before
    # the noise floor, right since
    rc, out, err = run_cli("transcribe", SAMPLES / "commands_1.wav")
    assert rc == 0 and out.strip() == "go left stop", err


# ---- the default model streamed: `--model digits-commands-streaming` (the default look-ahead) -------
STREAMING = "digits-commands-streaming"


def test_the_streaming_name_is_the_default_model_with_the_default_lookahead():
    """digits-commands-streaming is no second copy of the weights: it loads the default model's
    directory, run with the default look-ahead (4 s: chunks of 100 output frames + 100 of right
    context, per-window normalisation, a 4 s level-floor warm-up); on clips no longer than its
    first window (all the samples) its outputs are the default model's."""
    import lstm_asr
    from lstm_asr.audio import load_audio
    from lstm_asr.checkpoint import bundled_models, resolve_model
    from lstm_asr.chunking import DEFAULT_LOOKAHEAD_S
    assert resolve_model(STREAMING) == resolve_model("digits-commands") and STREAMING in bundled_models()
    default, streamed = lstm_asr.load_model("digits-commands"), lstm_asr.load_model(STREAMING)
    assert streamed.streams and not default.streams and streamed.lookahead_s == DEFAULT_LOOKAHEAD_S
    c = streamed.chunked
    assert (c.chunk, c.right_context, c.warmup_frames, c.normalise) == (100, 100, 400, True)
    assert streamed.config == default.config
    for clip in sorted(SAMPLES.glob("*.wav")) + [SAMPLES / "string_2.flac", SAMPLES / "string_3.ogg"]:
        wave = load_audio(clip)
        (pa, la), (pb, lb) = default.posteriors([wave]), streamed.posteriors([wave])
        assert la.tolist() == lb.tolist()
        torch.testing.assert_close(pb, pa, rtol=0, atol=1e-4, msg=clip.name)


def test_the_default_model_streamed_on_the_shipped_unseen_speakers():
    # the same 38 unseen-speaker clips and 100 FSDD test clips as the default model's tests above
    sc = _accuracy(STREAMING, DATA / "speech_commands" / "manifest.jsonl")
    fsdd = _accuracy(STREAMING, DATA / "fsdd" / "manifest.jsonl")
    # measured 35 of 38 and 95 %, the default model's (all clips are shorter than 4 s)
    assert sc >= 34 / 38 and fsdd >= 0.93


def test_the_default_model_streams_exactly_on_real_speech():
    """Its outputs fed 0.1 s at a time (PosteriorStream) equal its outputs on the whole clip, and it
    reads the samples as the default model does."""
    import lstm_asr
    from lstm_asr.audio import load_audio
    from lstm_asr.streaming import PosteriorStream
    rec = lstm_asr.load_model(STREAMING)
    wave = load_audio(SAMPLES / "string_1.wav")
    whole, olen = rec.posteriors([wave])
    stream = PosteriorStream.from_recognizer(rec)
    parts = [stream.accept(wave[i:i + 1600]) for i in range(0, len(wave), 1600)] + [stream.finish()]
    torch.testing.assert_close(torch.cat(parts), whole[0, :olen[0]], rtol=0, atol=1e-4)
    rc, out, err = run_cli("transcribe", "--model", STREAMING, SAMPLES / "string_1.wav", SAMPLES / "yes_0ea0e2f4_0.wav")
    assert rc == 0, err
    assert out.splitlines() == ["six eight five seven eight two", "yes"]


def test_speech_from_the_first_sample_reads_as_well_as_padded_speech(default_model):
    """Each shipped Speech Commands clip cut to its speech (it starts at the first sample and ends
    at the last) against the same speech with 0.5 s of digital silence on each side: measured
    35 and 35 of 38 right with the model shipped 2026-12-04 (pass 5; pass 4: 36 and 35; pass 3: 37
    and 33; the clips as recorded: 35)."""
    from lstm_asr.audio import load_audio
    from lstm_asr.data import trim_silence
    rows = [json.loads(line) for line in (DATA / "speech_commands" / "manifest.jsonl").read_text().splitlines()]
    cut = padded = 0
    for r in rows:
        speech = trim_silence(load_audio(DATA / "speech_commands" / r["audio"]), margin_s=0.0)
        silence = np.zeros(8000, np.float32)
        cut += default_model.transcribe(speech, 16000).text == r["text"]
        padded += default_model.transcribe(np.concatenate([silence, speech, silence]), 16000).text == r["text"]
    assert cut >= padded - 1 and cut >= 34, (cut, padded)
