"""Streaming: the exact chunked model and front end, and the live recognizer of the bundled model."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import ARCTIC, SAMPLES
from lstm_asr.errors import AudioError, ConfigError
from lstm_asr.features import FeatureConfig, FilterBank, StreamingFeatures, normalize
from lstm_asr.model import AcousticModel, ModelConfig
from lstm_asr.streaming import PosteriorStream, StreamingRecognizer, join_finals, pcm_to_float

torch.set_num_threads(1)
CELLS = ["lstm", "gru", "rnn"]
FACTORS = [1, 2, 4]
# lc: latency-controlled; lcn: the same, normalising its input per window (model.input_norm)
KINDS = {"uni": {}, "lc": {"bidirectional": True, "chunk": 3, "right_context": 2},
         "lcn": {"bidirectional": True, "chunk": 3, "right_context": 2, "input_norm": "window"}}


def _model(**kw) -> AcousticModel:
    torch.manual_seed(0)
    cfg = {"num_layers": 2, "hidden_size": 16, "subsample": 2, "conv_channels": 12, "num_outputs": 7,
           "input_size": 10, "dropout": 0.2, "bidirectional": False, **kw}
    return AcousticModel(ModelConfig(**cfg)).eval()


def _cuts(total: int, how, rng) -> list[int]:
    """Chunk sizes summing to ``total``: every frame alone, a fixed odd size, or random (with 0s)."""
    sizes, left = [], total
    while left > 0:
        n = how if isinstance(how, int) else int(rng.integers(0, 12))
        sizes.append(min(n, left))
        left -= sizes[-1]
    return sizes


def _run_chunked(m: AcousticModel, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    outs, state, t = [], None, 0
    for n in sizes:
        out, state = m.forward_chunk(x[:, t:t + n], state)
        outs.append(out)
        t += n
    out, state = m.forward_chunk(x[:, t:], state, final=True)  # the end: a held-back look-ahead runs
    outs.append(out)
    assert state.frames == x.shape[1] and state.outputs == sum(o.shape[1] for o in outs)
    return torch.cat(outs, 1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("factor", FACTORS)
@pytest.mark.parametrize("how", [1, 3, 5, 8, "random"])
@torch.inference_mode()
def test_chunked_outputs_equal_the_whole_utterance(kind, cell, factor, how):
    m = _model(cell=cell, subsample=factor, **KINDS[kind])
    rng = np.random.default_rng(factor)
    for frames in (1, 2, 5, 97, 160):
        x = torch.randn(2, frames, 10)  # two streams in step
        whole, olen, _ = m(x, torch.tensor([frames, frames]))
        chunked = _run_chunked(m, x, _cuts(frames, how, rng))
        assert chunked.shape == whole.shape, (frames, how)
        torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
@torch.inference_mode()
def test_latency_controlled_model_looks_ahead_only_to_its_window(cell):
    """Output frame t of a latency-controlled model (chunk 4, right_context 3, no subsampling)
    reads inputs up to the end of t's chunk + 3 frames and no further; with a chunk longer than the
    utterance it is the plain bidirectional model, and a padded batch gives each row's own output."""
    m = _model(cell=cell, subsample=1, bidirectional=True, chunk=4, right_context=3)
    x = torch.randn(1, 20, 10)
    whole, _, _ = m(x, torch.tensor([20]))
    for t in (0, 3, 4, 9, 15):
        horizon = (t // 4 + 1) * 4 + 3  # first frame it may not read
        changed = x.clone()
        changed[:, horizon:] = torch.randn(1, max(0, 20 - horizon), 10)
        again, _, _ = m(changed, torch.tensor([20]))
        torch.testing.assert_close(again[0, :t + 1], whole[0, :t + 1], rtol=0, atol=1e-6)
        if horizon > 1 and horizon < 20:
            earlier = x.clone()
            earlier[:, horizon - 1:] = torch.randn(1, 21 - horizon, 10)  # the last frame it reads does count
            assert not torch.allclose(m(earlier, torch.tensor([20]))[0][0, t], whole[0, t], atol=1e-4)
    plain = _model(cell=cell, subsample=1, bidirectional=True)
    wide = _model(cell=cell, subsample=1, bidirectional=True, chunk=50)
    torch.testing.assert_close(wide(x, torch.tensor([20]))[0], plain(x, torch.tensor([20]))[0], rtol=0, atol=1e-5)
    batch = torch.randn(3, 23, 10)
    lengths = torch.tensor([23, 9, 1])
    out, olen, _ = m(batch, lengths)
    for i in range(3):
        alone, _, _ = m(batch[i:i + 1, :lengths[i]], lengths[i:i + 1])
        torch.testing.assert_close(out[i, :olen[i]], alone[0], rtol=0, atol=1e-5)


@pytest.mark.parametrize("factor", FACTORS)
@torch.inference_mode()
def test_window_normalisation_is_per_utterance_normalisation_online(factor):
    """input_norm: window normalises each window with the statistics of the frames up to its end:
    with one window over the whole utterance it is the offline model on features normalised per
    utterance; with shorter windows the first frames no longer depend on the last ones."""
    from lstm_asr.transcribe import Recognizer  # noqa: F401 (the config check below)
    x = torch.randn(3, 41, 10) * 3 + 2  # raw log-mel: a level and a spread to remove
    lengths = torch.tensor([41, 23, 5])
    wide = _model(subsample=factor, bidirectional=True, chunk=100, input_norm="window")
    plain = _model(subsample=factor, bidirectional=True)
    a, olen, _ = wide(x, lengths)
    b, _, _ = plain(normalize(x, lengths, FeatureConfig(n_mels=10, normalize="utterance")), lengths)
    mask = torch.arange(a.shape[1])[None] < olen[:, None]
    torch.testing.assert_close(a[mask], b[mask], rtol=0, atol=1e-5)
    narrow = _model(subsample=factor, bidirectional=True, chunk=2, right_context=1, input_norm="window")
    head, _, _ = narrow(x[:1, :4 * factor], torch.tensor([4 * factor]))
    whole, _, _ = narrow(x[:1], torch.tensor([41]))
    torch.testing.assert_close(head[0, :2], whole[0, :2], rtol=0, atol=1e-5)  # the first window: frames 0..3


def test_the_training_phase_moves_chunk_edges_and_never_reaches_inference():
    m = _model(subsample=2, bidirectional=True, chunk=4, right_context=2, input_norm="window", dropout=0.0)
    x, lengths = torch.randn(2, 40, 10), torch.tensor([40, 30])
    with torch.no_grad():
        plain = m(x, lengths)[0]
        m.train()
        m.encoder.phase = 3  # chunks [0, 1), [1, 5), [5, 9), ...: other windows, other outputs
        moved = m(x, lengths)[0]
        m.eval()  # the phase is for training only
        again = m(x, lengths)[0]
    assert not torch.allclose(moved, plain, atol=1e-3)
    torch.testing.assert_close(again, plain, rtol=0, atol=0)


def test_latency_controlled_options_are_checked():
    with pytest.raises(ConfigError, match="unidirectional"):
        ModelConfig(bidirectional=False, chunk=4)
    with pytest.raises(ConfigError, match="needs model.chunk"):
        ModelConfig(right_context=4)
    for bad in (-1, 2.5, True, "4"):
        with pytest.raises(ConfigError, match="model.chunk must be a whole number"):
            ModelConfig(chunk=bad)
    with pytest.raises(ConfigError, match="input_norm: window needs a latency-controlled model"):
        ModelConfig(input_norm="window")
    with pytest.raises(ConfigError, match="model.input_norm must be"):
        ModelConfig(chunk=4, input_norm="utterance")


@torch.inference_mode()
def test_the_chunked_run_carries_state_rather_than_restarting():
    """Each chunk run afresh (no carried state) differs: the test above can fail."""
    m = _model(subsample=4)
    x = torch.randn(1, 40, 10)
    whole, _, _ = m(x, torch.tensor([40]))
    fresh = torch.cat([m.forward_chunk(x[:, t:t + 8])[0] for t in range(0, 40, 8)], 1)
    assert fresh.shape == whole.shape and not torch.allclose(fresh, whole, atol=1e-3)


def test_models_that_need_the_whole_utterance_refuse_chunks():
    x = torch.randn(1, 8, 10)
    with pytest.raises(ConfigError, match="bidirectional"):
        _model(bidirectional=True).forward_chunk(x)  # a latency-controlled one (model.chunk) can
    with pytest.raises(ConfigError, match="classifier"):
        _model(head="classifier", num_outputs=3).forward_chunk(x)
    for norm in ("utterance", "global"):
        with pytest.raises(ConfigError, match="chunk by chunk"):
            StreamingFeatures(FeatureConfig(normalize=norm))
        with pytest.raises(ConfigError, match=norm):
            PosteriorStream(_model(input_size=80), FeatureConfig(normalize=norm))


def _causal_config(rng) -> FeatureConfig:
    return FeatureConfig(normalize="causal", global_mean=(rng.standard_normal(80) * 2).tolist(),
                         global_std=rng.uniform(0.5, 3.0, 80).tolist())


def test_causal_normalisation_ignores_gain_and_padding(speech):
    cfg = _causal_config(np.random.default_rng(0))
    wave = torch.from_numpy(speech)[None]
    n = torch.tensor([len(speech)])
    feats, flen = FilterBank(cfg)(wave, n)
    # a gain only shifts the log-mel: the level removes it (exactly so without the noise floor,
    # which a 20 dB quieter clip's pauses come near)
    exact = FilterBank(FeatureConfig(**{**cfg.to_dict(), "noise_floor": 0.0}))
    torch.testing.assert_close(exact(wave * 0.1, n)[0], exact(wave, n)[0], rtol=0, atol=2e-3)
    batch, blen = FilterBank(cfg)(torch.cat([torch.cat([wave, torch.randn(1, 5000)], 1),
                                             torch.randn(1, len(speech) + 5000)]), torch.tensor([len(speech), len(speech) + 5000]))
    torch.testing.assert_close(batch[0, :flen[0]], feats[0], rtol=0, atol=1e-5)
    assert (batch[0, flen[0]:] == 0).all()
    # causal: the first frames do not depend on what follows them
    head, hlen = FilterBank(cfg)(wave[:, :16000], torch.tensor([16000]))
    torch.testing.assert_close(head[0], feats[0, :hlen[0]], rtol=0, atol=1e-5)
    # and it is not the offline "global" normalisation, whose level is the whole utterance's
    glob = normalize(FilterBank(cfg).raw(wave, n)[0], flen, FeatureConfig(**{**cfg.to_dict(), "normalize": "global"}))
    assert not torch.allclose(glob, feats, atol=1e-2)


@pytest.mark.parametrize("normalize_mode", ["causal", "none"])
def test_streaming_features_equal_the_whole_wave(speech, normalize_mode):
    rng = np.random.default_rng(1)
    cfg = _causal_config(rng) if normalize_mode == "causal" else FeatureConfig(normalize="none")
    whole, flen = FilterBank(cfg)(torch.from_numpy(speech)[None], torch.tensor([len(speech)]))
    stream, outs, pos = StreamingFeatures(cfg), [], 0
    while pos < len(speech):
        step = int(rng.integers(0, 900))
        outs.append(stream.accept(speech[pos:pos + step]))
        pos += step
    assert stream.frames == int(flen[0])
    torch.testing.assert_close(torch.cat(outs), whole[0], rtol=0, atol=1e-4 if normalize_mode == "none" else 2e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("factor", FACTORS)
@torch.inference_mode()
def test_waveform_chunks_through_front_end_and_model_equal_the_whole(speech, kind, cell, factor):
    rng = np.random.default_rng(factor * 7 + len(cell))
    # lcn: the streaming variant's front end, a level floor with a warm-up (held back, then let go)
    cfg = _causal_config(rng) if kind != "lcn" else FeatureConfig(normalize="none", level_floor_db=35.0,
                                                                   level_floor_warmup_s=0.7)
    lc = {**KINDS[kind], "chunk": 12, "right_context": 5} if kind != "uni" else {}
    m = _model(cell=cell, subsample=factor, input_size=80, hidden_size=24, conv_channels=16, **lc)
    feats, flen = FilterBank(cfg)(torch.from_numpy(speech)[None], torch.tensor([len(speech)]))
    whole, olen, _ = m(feats, flen)
    stream, outs, pos = PosteriorStream(m, cfg), [], 0
    sizes = [1, 2, 159, 160, 161, 401] + [int(s) for s in rng.integers(1, 3000, 200)]
    for step in sizes:
        if pos >= len(speech):
            break
        outs.append(stream.accept(speech[pos:pos + step]))
        pos += step
    outs.append(stream.accept(speech[pos:]))
    outs.append(stream.finish())
    assert len(stream.finish()) == 0
    chunked = torch.cat(outs)
    assert chunked.shape[0] == int(olen[0]) == whole.shape[1]
    torch.testing.assert_close(chunked, whole[0], rtol=0, atol=1e-5)


# -- the live recognizer of the bundled default model -------------------------------------------

def _stream(rec, wave, rate, sizes, **kw):
    live = StreamingRecognizer(rec, rate, **kw)
    events, pos, k = [], 0, 0
    while pos < len(wave):
        n = sizes[k % len(sizes)]
        events += [(pos, e) for e in live.accept(wave[pos:pos + n])]
        pos += n
        k += 1
    events += [(pos, e) for e in live.finish()]
    return [e for _, e in events], events


def _concatenation() -> tuple[np.ndarray, int]:
    """Three clips of different speakers and words with pauses: several segments."""
    parts = []
    for name in ("commands_1.wav", "string_1.wav", "yes_0ea0e2f4_0.wav"):
        w, sr = sf.read(SAMPLES / name, dtype="float32")
        assert sr == 16000
        parts += [w, np.zeros(8000, np.float32)]
    return np.concatenate(parts), 16000


@pytest.mark.parametrize("sizes", [[1], [7], [333, 4801, 1], [16000]], ids=["1", "7", "mixed", "1s"])
def test_joined_finals_equal_the_offline_transcript(default_model, sizes):
    inputs = [(SAMPLES / "string_1.wav", None), (ARCTIC, None), (SAMPLES / "string_2.flac", None),
              (SAMPLES / "7_jackson_2.wav", None), (None, _concatenation())]
    if sizes == [1]:
        inputs = inputs[:1] + inputs[3:4]  # one sample at a time is slow in Python: two inputs
    for path, arr in inputs:
        if path is not None:
            wave, rate = sf.read(path, dtype="float32")
            offline = default_model.transcribe(path)
        else:
            wave, rate = arr
            offline = default_model.transcribe(wave, rate)
        finals, _ = _stream(default_model, wave, rate, sizes)
        assert offline.text and join_finals(finals) == offline.text, (path, sizes)
        assert [f.text for f in finals if f.type == "final" and f.text] == [s.text for s in offline.segments if s.text]


def test_int16_and_bytes_give_the_same_finals_as_float(default_model):
    wave, rate = sf.read(SAMPLES / "string_1.wav", dtype="int16")
    offline = default_model.transcribe(SAMPLES / "string_1.wav").text
    finals, _ = _stream(default_model, wave, rate, [1234])
    assert join_finals(finals) == offline
    raw = wave.astype("<i2").tobytes()
    live = StreamingRecognizer(default_model, rate)
    events = []
    for i in range(0, len(raw), 2000):  # even byte counts
        events += live.accept(raw[i:i + 2000])
    assert join_finals(events + live.finish()) == offline


def test_partials_come_before_the_final_while_speech_goes_on(default_model):
    wave, rate = sf.read(ARCTIC, dtype="float32")  # one segment of 3.9 s
    events, timed = _stream(default_model, wave, rate, [1600])
    kinds = [e.type for e in events]
    assert kinds.count("final") == 1 and kinds[-1] == "final"
    partials = [(pos, e) for pos, e in timed if e.type == "partial"]
    assert len(partials) >= 2 and all(e.text for _, e in partials)
    assert partials[0][0] < len(wave) // 2  # the first one while less than half of the audio was in
    assert len({e.text for _, e in partials}) == len(partials)  # only changed texts are sent
    none, _ = _stream(default_model, wave, rate, [1600], partial_interval=0)
    assert [e.type for e in none] == ["final"] and none[0].text == events[-1].text


def test_silence_gives_no_events_and_bad_chunks_are_refused(default_model):
    live = StreamingRecognizer(default_model, 8000)
    assert live.accept(np.zeros(24000, np.float32)) == [] and live.finish() == []
    assert live.seconds == pytest.approx(3.0, abs=0.01)
    with pytest.raises(RuntimeError):
        live.accept(np.zeros(10, np.float32))
    with pytest.raises(AudioError, match="even number of bytes"):
        pcm_to_float(b"\x00\x01\x02")
    with pytest.raises(AudioError, match="NaN"):
        pcm_to_float(np.array([0.0, np.nan], np.float32))
    with pytest.raises(ConfigError, match="sample rate"):
        StreamingRecognizer(default_model, 0)
    assert pcm_to_float(np.array([-32768, 16384], np.int16)).tolist() == [-1.0, 0.5]


# -- `lstm-asr stream` ---------------------------------------------------------------------------

def _cli(*args, stdin: bytes | None = None):
    import os
    import subprocess
    import sys

    from conftest import ROOT
    p = subprocess.run([sys.executable, "-m", "lstm_asr.cli", "stream", *map(str, args)], input=stdin,
                       capture_output=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_cli_stream_prints_partials_and_finals_from_a_file_and_stdin(default_model):
    import json
    path = SAMPLES / "string_1.wav"
    offline = default_model.transcribe(path).text
    code, out, err = _cli(path)
    assert code == 0, err
    lines = out.splitlines()
    finals = [line.split(" ", 2)[2] for line in lines if line.startswith("final ")]
    assert " ".join(f for f in finals if f) == offline
    assert any(line.startswith("partial ") for line in lines)
    code, out, err = _cli("--json", SAMPLES / "string_2.flac")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {e["type"] for e in events} == {"partial", "final"}
    joined = " ".join(e["text"] for e in events if e["type"] == "final" and e["text"])
    assert joined == default_model.transcribe(SAMPLES / "string_2.flac").text
    # raw int16 PCM on standard input, at its stated rate
    wave, rate = sf.read(SAMPLES / "7_jackson_2.wav", dtype="int16")
    code, out, err = _cli("-", "--rate", str(rate), "--no-partials", stdin=wave.astype("<i2").tobytes())
    assert code == 0 and out.split(" ", 2)[2].strip() == default_model.transcribe(SAMPLES / "7_jackson_2.wav").text
    code, out, err = _cli()
    assert code == 1 and "give one input" in err


def test_cli_stream_stdin_ending_with_an_odd_byte_gives_its_results_then_an_error(default_model):
    wave, rate = sf.read(SAMPLES / "7_jackson_2.wav", dtype="int16")
    code, out, err = _cli("-", "--rate", str(rate), "--no-partials", stdin=wave.astype("<i2").tobytes() + b"\x01")
    assert out.split(" ", 2)[2].strip() == default_model.transcribe(SAMPLES / "7_jackson_2.wav").text
    assert code == 1 and err.startswith("error: standard input: raw int16 PCM ended with an odd byte")
    assert len(err.strip().splitlines()) == 1


def test_cli_stream_mic_without_a_capture_device_is_one_line_error():
    try:
        import sounddevice as sd
        sd.query_devices(kind="input")
        pytest.skip("this machine has a capture device")
    except Exception:  # noqa: BLE001 - no PortAudio or no input device: the case tested
        pass
    code, out, err = _cli("--mic")
    assert code == 1 and err.startswith("error: --mic:") and len(err.strip().splitlines()) == 1


# -- a model that streams: partials from its outputs as the audio arrives ---------------------------

@pytest.fixture(scope="module")
def lc_model(default_model):
    """The default model's weights run latency-controlled (chunk 10, right_context 5), normalising
    per window: a model that streams (the shipped streaming variant is fine-tuned so)."""
    import copy

    from lstm_asr.transcribe import Recognizer
    cfg = copy.deepcopy(default_model.config)
    cfg["model"].update(chunk=10, right_context=5, input_norm="window")
    with pytest.raises(ConfigError, match="features.normalize must be none"):
        Recognizer(cfg, default_model.vocab, default_model.model.state_dict())
    cfg["features"]["normalize"] = "none"
    return Recognizer(cfg, default_model.vocab, default_model.model.state_dict())


def test_a_model_that_streams_gives_partials_from_its_running_outputs(lc_model, default_model):
    assert lc_model.streams and not default_model.streams
    wave, rate = _concatenation()
    offline = lc_model.transcribe(wave, rate)
    calls = []
    decode = lc_model.decode_segments
    lc_model.decode_segments = lambda segs, opts=None: calls.append(len(segs)) or decode(segs, opts)
    try:
        events, timed = _stream(lc_model, wave, rate, [1600])
    finally:
        del lc_model.decode_segments
    finals = [e for e in events if e.type == "final"]
    assert offline.text and join_finals(events) == offline.text
    assert sum(calls) == len(finals)  # decode_segments ran for the finals only: partials came from the stream
    partials = [(pos, e) for pos, e in timed if e.type == "partial"]
    assert len(partials) >= 2 and all(e.text for _, e in partials)
    # a partial is the decoder on the outputs the model has given for the open segment so far,
    # then the provisional ones of the frames still waiting for their look-ahead
    first_pos, first = partials[0]  # the position of the chunk that gave it (1600 samples)
    stream = PosteriorStream.from_recognizer(lc_model)
    start = int(round(first.start * 16000))
    out = torch.cat([stream.accept(wave[start:first_pos + 1600]), stream.peek()])
    assert 0 < out.shape[0] and lc_model.decode_output(out, first.start).text == first.text


@pytest.mark.parametrize("warmup", [0.0, 1.0])  # 1.0: the front end too holds frames back at first
@torch.inference_mode()
def test_peek_gives_the_held_back_outputs_as_if_the_stream_ended_and_changes_nothing(speech, warmup):
    cfg = FeatureConfig(normalize="none", level_floor_db=35.0 if warmup else None, level_floor_warmup_s=warmup)
    m = _model(input_size=80, hidden_size=24, conv_channels=16, subsample=2, chunk=10, right_context=15, bidirectional=True,
               input_norm="window")
    stream, outs, peeked = PosteriorStream(m, cfg), [], 0
    assert stream.peek().shape == (0, m.cfg.num_outputs)  # nothing fed yet
    for pos in range(0, len(speech), 2400):
        outs.append(stream.accept(speech[pos:pos + 2400]))
        ahead = stream.peek()
        peeked += len(ahead)
        # what the model would give if the stream ended here: the utterance cut here, run whole
        feats, flen = FilterBank(cfg)(torch.from_numpy(speech[:pos + 2400])[None], torch.tensor([min(len(speech), pos + 2400)]))
        cut, olen, _ = m(feats, flen)
        so_far = torch.cat(outs + [ahead])
        assert so_far.shape[0] == int(olen[0])
        torch.testing.assert_close(so_far, cut[0], rtol=0, atol=1e-4)
    assert peeked > 0
    outs.append(stream.finish())  # peeking consumed nothing: the stream still equals the whole
    feats, flen = FilterBank(cfg)(torch.from_numpy(speech)[None], torch.tensor([len(speech)]))
    torch.testing.assert_close(torch.cat(outs), m(feats, flen)[0][0], rtol=0, atol=1e-4)


def test_cli_stream_with_the_streaming_variant():
    import lstm_asr
    rec = lstm_asr.load_model("digits-commands-streaming")
    path = SAMPLES / "string_1.wav"
    code, out, err = _cli("--model", "digits-commands-streaming", "--partial-interval", "0.2", path)
    assert code == 0, err
    lines = out.splitlines()
    finals = [line.split(" ", 2)[2] for line in lines if line.startswith("final ")]
    partials = [line for line in lines if line.startswith("partial ")]
    assert " ".join(f for f in finals if f) == rec.transcribe(path).text == "six eight five seven eight two"
    assert len(partials) >= 2
