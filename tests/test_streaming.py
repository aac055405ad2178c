"""Streaming: a model run with a look-ahead (lstm_asr.chunking), whole and chunk by chunk, and the
live recognizer of the bundled model."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import ARCTIC, SAMPLES
from lstm_asr.chunking import DEFAULT_LOOKAHEAD_S, ChunkedModel
from lstm_asr.errors import AudioError, ConfigError
from lstm_asr.features import FeatureConfig, normalize, num_frames
from lstm_asr.model import AcousticModel, ModelConfig
from lstm_asr.segment import segment_stream
from lstm_asr.streaming import PosteriorStream, StreamingRecognizer, join_finals, pcm_to_float

torch.set_num_threads(1)
CELLS = ["lstm", "gru", "rnn"]
FACTORS = [1, 2, 4]
# uni: unidirectional; lc: latency-controlled (bidirectional); lcn: the same, normalising its input
# per window (a model trained on features normalised per utterance)
KINDS = {"uni": ({}, "none"), "lc": ({"bidirectional": True}, "none"), "lcn": ({"bidirectional": True}, "utterance")}


def _model(**kw) -> AcousticModel:
    torch.manual_seed(0)
    cfg = {"num_layers": 2, "hidden_size": 16, "subsample": 2, "conv_channels": 12, "num_outputs": 7,
           "input_size": 10, "dropout": 0.2, "bidirectional": False, **kw}
    return AcousticModel(ModelConfig(**cfg)).eval()


def _chunked(m: AcousticModel, chunk: int, normalize: str = "none", **features) -> ChunkedModel:
    """``m`` run with a look-ahead of 2 * ``chunk`` output frames (chunk = right context = ``chunk``)."""
    cfg = FeatureConfig(n_mels=m.cfg.input_size, normalize=normalize, **features)
    return ChunkedModel(m, cfg, 2 * chunk * cfg.frame_shift_ms / 1000 * m.cfg.subsample)


def _cuts(total: int, how, rng) -> list[int]:
    """Chunk sizes summing to ``total``: every frame alone, a fixed odd size, or random (with 0s)."""
    sizes, left = [], total
    while left > 0:
        n = how if isinstance(how, int) else int(rng.integers(0, 12))
        sizes.append(min(n, left))
        left -= sizes[-1]
    return sizes


def _run_chunked(c: ChunkedModel, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    outs, state, t = [], None, 0
    for n in sizes:
        out, state = c.forward_chunk(x[:, t:t + n], state)
        outs.append(out)
        t += n
    out, state = c.forward_chunk(x[:, t:], state, final=True)  # the end: a held-back look-ahead runs
    outs.append(out)
    assert state.frames == x.shape[1] and state.outputs == sum(o.shape[1] for o in outs)
    return torch.cat(outs, 1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("factor", FACTORS)
@pytest.mark.parametrize("how", [1, 3, 5, 8, "random"])
@torch.inference_mode()
def test_chunked_outputs_equal_the_whole_utterance(kind, cell, factor, how):
    kw, norm = KINDS[kind]
    c = _chunked(_model(cell=cell, subsample=factor, **kw), 3, norm)
    rng = np.random.default_rng(factor)
    for frames in (1, 2, 5, 97, 160):
        x = torch.randn(2, frames, 10)  # two streams in step
        whole, olen = c(x, torch.tensor([frames, frames]))
        chunked = _run_chunked(c, x, _cuts(frames, how, rng))
        assert chunked.shape == whole.shape, (frames, how)
        torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
@torch.inference_mode()
def test_latency_controlled_model_looks_ahead_only_to_its_window(cell):
    """Output frame t of a bidirectional model run with chunks of 4 frames and 4 more of right
    context (no subsampling) reads inputs up to the end of t's chunk + 4 frames and no further;
    with a chunk longer than the utterance it is the plain model, and a padded batch gives each
    row's own output."""
    m = _model(cell=cell, subsample=1, bidirectional=True)
    c = _chunked(m, 4)
    assert (c.chunk, c.right_context) == (4, 4)
    x = torch.randn(1, 20, 10)
    whole, _ = c(x, torch.tensor([20]))
    for t in (0, 3, 4, 9, 15):
        horizon = (t // 4 + 1) * 4 + 4  # first frame it may not read
        changed = x.clone()
        changed[:, horizon:] = torch.randn(1, max(0, 20 - horizon), 10)
        again, _ = c(changed, torch.tensor([20]))
        torch.testing.assert_close(again[0, :t + 1], whole[0, :t + 1], rtol=0, atol=1e-6)
        if horizon > 1 and horizon < 20:
            earlier = x.clone()
            earlier[:, horizon - 1:] = torch.randn(1, 21 - horizon, 10)  # the last frame it reads does count
            assert not torch.allclose(c(earlier, torch.tensor([20]))[0][0, t], whole[0, t], atol=1e-4)
    torch.testing.assert_close(_chunked(m, 50)(x, torch.tensor([20]))[0], m(x, torch.tensor([20]))[0], rtol=0, atol=1e-5)
    batch = torch.randn(3, 23, 10)
    lengths = torch.tensor([23, 9, 1])
    out, olen = c(batch, lengths)
    for i in range(3):
        alone, _ = c(batch[i:i + 1, :lengths[i]], lengths[i:i + 1])
        torch.testing.assert_close(out[i, :olen[i]], alone[0], rtol=0, atol=1e-5)


@pytest.mark.parametrize("factor", FACTORS)
@torch.inference_mode()
def test_window_normalisation_is_per_utterance_normalisation_online(factor):
    """A model trained on features normalised per utterance normalises each window with the
    statistics of the frames up to its end: with one window over the whole utterance it is the
    offline model; with shorter windows the first frames no longer depend on the last ones."""
    x = torch.randn(3, 41, 10) * 3 + 2  # raw log-mel: a level and a spread to remove
    lengths = torch.tensor([41, 23, 5])
    m = _model(subsample=factor, bidirectional=True)
    a, olen = _chunked(m, 100, "utterance")(x, lengths)
    b, _ = m(normalize(x, lengths, FeatureConfig(n_mels=10, normalize="utterance")), lengths)
    mask = torch.arange(a.shape[1])[None] < olen[:, None]
    torch.testing.assert_close(a[mask], b[mask], rtol=0, atol=1e-5)
    narrow = _chunked(m, 2, "utterance")
    head, _ = narrow(x[:1, :4 * factor], torch.tensor([4 * factor]))
    whole, _ = narrow(x[:1], torch.tensor([41]))
    torch.testing.assert_close(head[0, :2], whole[0, :2], rtol=0, atol=1e-5)  # the first window: frames 0..3


def test_the_lookahead_is_one_number_and_the_rest_follows():
    """4 s at 20 ms per output frame: chunks of 100 frames with 100 more of right context, a level
    floor whose first 4 s take their mean level, features normalised per window, not before."""
    m = _model(bidirectional=True, input_size=80)
    c = ChunkedModel(m, FeatureConfig(level_floor_db=30.0), DEFAULT_LOOKAHEAD_S)
    assert (c.chunk, c.right_context, c.warmup_frames, c.seconds, c.normalise) == (100, 100, 400, 4.0, True)
    assert c.front_end().warmup_frames == 400 and c.features.normalize == "none"
    assert _chunked(_model(), 5).chunk == 0  # unidirectional: no window, the level floor's warm-up only


def test_models_that_need_the_whole_utterance_refuse_a_lookahead():
    for model, features, match in ((_model(bidirectional=True), "global", "normalize: global"),
                                   (_model(), "utterance", "unidirectional")):
        with pytest.raises(ConfigError, match=match):
            ChunkedModel(model, FeatureConfig(n_mels=10, normalize=features), 1.0)
    with pytest.raises(ConfigError, match="look-ahead must be > 0"):
        ChunkedModel(_model(), FeatureConfig(n_mels=10, normalize="none"), 0)


@torch.inference_mode()
def test_the_chunked_run_carries_state_rather_than_restarting():
    """Each chunk run afresh (no carried state) differs: the test above can fail."""
    c = _chunked(_model(subsample=4), 3)
    x = torch.randn(1, 40, 10)
    whole, _ = c(x, torch.tensor([40]))
    fresh = torch.cat([c.forward_chunk(x[:, t:t + 8])[0] for t in range(0, 40, 8)], 1)
    assert fresh.shape == whole.shape and not torch.allclose(fresh, whole, atol=1e-3)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("factor", FACTORS)
@torch.inference_mode()
def test_waveform_chunks_through_front_end_and_model_equal_the_whole(speech, kind, cell, factor):
    """PosteriorStream: waveform pieces of any size -> front end (a level floor whose warm-up holds
    frames back, then lets them go) -> chunked model; joined, the model run on the whole clip."""
    rng = np.random.default_rng(factor * 7 + len(cell))
    kw, norm = KINDS[kind]
    m = _model(cell=cell, subsample=factor, input_size=80, hidden_size=24, conv_channels=16, **kw)
    c = _chunked(m, 12, norm, level_floor_db=35.0)
    feats, flen = c.front_end()(torch.from_numpy(speech)[None], torch.tensor([len(speech)]))
    whole, olen = c(feats, flen)
    stream, outs, pos = PosteriorStream(c), [], 0
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


@pytest.mark.parametrize("floor", [None, 35.0])  # 35: the front end too holds frames back at first
@torch.inference_mode()
def test_a_fork_gives_the_held_back_outputs_as_if_the_stream_ended_and_changes_nothing(speech, floor):
    m = _model(input_size=80, hidden_size=24, conv_channels=16, subsample=2, bidirectional=True)
    c = _chunked(m, 15, "utterance", level_floor_db=floor)
    stream, outs, provisional = PosteriorStream(c), [], 0
    assert stream.fork().finish().shape == (0, m.cfg.num_outputs)  # nothing fed yet
    for pos in range(0, len(speech), 2400):
        outs.append(stream.accept(speech[pos:pos + 2400]))
        ahead = stream.fork().finish()
        provisional += len(ahead)
        # what the model would give if the stream ended here: the utterance cut here, run whole
        cut = speech[:pos + 2400]
        feats, flen = c.front_end()(torch.from_numpy(cut)[None], torch.tensor([len(cut)]))
        whole, olen = c(feats, flen)
        so_far = torch.cat(outs + [ahead])
        assert so_far.shape[0] == int(olen[0])
        torch.testing.assert_close(so_far, whole[0], rtol=0, atol=1e-4)
    assert provisional > 0
    outs.append(stream.finish())  # the forks consumed nothing: the stream still equals the whole
    feats, flen = c.front_end()(torch.from_numpy(speech)[None], torch.tensor([len(speech)]))
    torch.testing.assert_close(torch.cat(outs), c(feats, flen)[0][0], rtol=0, atol=1e-4)


# -- the live recognizer of the bundled default model -------------------------------------------

@pytest.fixture(scope="module")
def streamed(default_model):
    """The default model run with the default look-ahead: what a stream's finals equal."""
    return default_model.with_lookahead(DEFAULT_LOOKAHEAD_S)


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


def _concatenation(gap: int = 8000) -> tuple[np.ndarray, int]:
    """Three clips of different speakers and words with pauses: several segments (one with short gaps)."""
    parts = []
    for name in ("commands_1.wav", "string_1.wav", "yes_0ea0e2f4_0.wav"):
        w, sr = sf.read(SAMPLES / name, dtype="float32")
        assert sr == 16000
        parts += [w, np.zeros(gap, np.float32)]
    return np.concatenate(parts), 16000


@pytest.mark.parametrize("sizes", [[1], [7], [333, 4801, 1], [16000]], ids=["1", "7", "mixed", "1s"])
def test_joined_finals_equal_the_offline_transcript(streamed, sizes):
    inputs = [(SAMPLES / "string_1.wav", None), (ARCTIC, None), (SAMPLES / "string_2.flac", None),
              (SAMPLES / "7_jackson_2.wav", None), (None, _concatenation())]
    if sizes == [1]:
        inputs = inputs[:1] + inputs[3:4]  # one sample at a time is slow in Python: two inputs
    for path, arr in inputs:
        if path is not None:
            wave, rate = sf.read(path, dtype="float32")
            offline = streamed.transcribe(path)
        else:
            wave, rate = arr
            offline = streamed.transcribe(wave, rate)
        finals, _ = _stream(streamed, wave, rate, sizes)
        assert offline.text and join_finals(finals) == offline.text, (path, sizes)
        assert [f.text for f in finals if f.type == "final" and f.text] == [s.text for s in offline.segments if s.text]


def test_a_stream_runs_its_model_once_and_its_finals_are_the_offline_ones(default_model):
    """With a look-ahead (here 1 s, so a segment of several seconds spans many windows) each
    segment's audio runs through the model once, as it arrives: its finals come from those
    outputs (no second run when the segment closes), and they are what transcribe gives with the
    same look-ahead: texts, segments and word times."""
    wave, rate = _concatenation(gap=1600)  # 0.1 s pauses: one segment of ~8 s, then "yes"
    rec = default_model.with_lookahead(1.0)
    offline = rec.transcribe(wave, rate)
    assert max(s.end - s.start for s in offline.segments) > 5
    live = StreamingRecognizer(default_model, rate, partial_interval=0, lookahead_s=1.0)
    fed = []
    run = live.recognizer.chunked.forward_chunk
    live.recognizer.chunked.forward_chunk = lambda feats, *a, **k: fed.append(feats.shape[1]) or run(feats, *a, **k)
    live.recognizer.posteriors = None  # the offline run is never called
    events = []
    for i in range(0, len(wave), 1600):
        events += live.accept(wave[i:i + 1600])
    events += live.finish()
    segments = list(segment_stream([wave]))
    assert sum(fed) == sum(num_frames(len(s.audio), default_model.feature_config) for s in segments)
    finals = [e for e in events if e.type == "final"]
    assert [(e.text, e.start, e.end) for e in finals] == [(s.text, s.start, s.end) for s in offline.segments]
    assert [[(w["word"], w["start"], w["end"]) for w in e.words] for e in finals] == \
        [[(w["word"], w["start"], w["end"]) for w in s.words] for s in offline.segments]


def test_one_word_per_segment_streams_as_it_runs_offline(default_model):
    """The one-word choice in a live stream: partials and finals each one listed word per segment,
    the finals those of transcribe with the same options and look-ahead."""
    from lstm_asr import DecodeOptions
    wave, rate = _concatenation()
    opts = DecodeOptions(words=["yes", "no", "six", "nine"], one_word=True)
    offline = default_model.with_lookahead(1.0).transcribe(wave, rate, options=opts)
    live = StreamingRecognizer(default_model, rate, options=opts, partial_interval=0.5, lookahead_s=1.0)
    events = []
    for i in range(0, len(wave), 3200):
        events += live.accept(wave[i:i + 3200])
    events += live.finish()
    finals = [e for e in events if e.type == "final"]
    assert [(e.text, e.start, e.end) for e in finals] == [(s.text, s.start, s.end) for s in offline.segments]
    assert all(len(e.text.split()) == 1 and e.text in opts.words for e in events if e.text)
    assert any(e.type == "partial" for e in events) and len(finals) >= 3


def test_a_segment_split_at_its_longest_is_run_for_good_only_up_to_the_split(default_model, speech):
    """Speech without a pause for longer than a segment's maximum (20 s) is split at a quiet frame
    of its last 3 s; the stream runs its model for good only on audio before any such cut, so
    both pieces' finals still equal the offline ones."""
    from lstm_asr.segment import trim_silence
    wave = np.tile(trim_silence(speech, margin_s=0.0), 9)
    rec = default_model.with_lookahead(DEFAULT_LOOKAHEAD_S)
    offline = rec.transcribe(wave)
    assert len(offline.segments) >= 2 and offline.segments[0].end - offline.segments[0].start > 17
    finals, _ = _stream(default_model, wave, 16000, [3200], partial_interval=1.0)
    assert [(e.text, e.start, e.end) for e in finals if e.type == "final"] == \
        [(s.text, s.start, s.end) for s in offline.segments]


def test_without_a_lookahead_each_segment_is_read_whole(default_model):
    """lookahead_s=None: the model as trained, each segment read whole when it closes (finals equal
    the plain transcribe), each partial re-decoding the open segment."""
    wave, rate = sf.read(ARCTIC, dtype="float32")
    calls = []
    live = StreamingRecognizer(default_model, rate, lookahead_s=None)
    decode = live.recognizer.decode_segments
    live.recognizer.decode_segments = lambda segs, opts=None: calls.append(len(segs)) or decode(segs, opts)
    events = []
    for i in range(0, len(wave), 1600):
        events += live.accept(wave[i:i + 1600])
    events += live.finish()
    assert not live.recognizer.streams and join_finals(events) == default_model.transcribe(wave, rate).text
    assert len(calls) > len([e for e in events if e.type == "final"])  # the partials too


def test_int16_and_bytes_give_the_same_finals_as_float(streamed):
    wave, rate = sf.read(SAMPLES / "string_1.wav", dtype="int16")
    offline = streamed.transcribe(SAMPLES / "string_1.wav").text
    finals, _ = _stream(streamed, wave, rate, [1234])
    assert join_finals(finals) == offline
    raw = wave.astype("<i2").tobytes()
    live = StreamingRecognizer(streamed, rate)
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


def test_a_partial_is_the_stream_so_far_as_if_it_ended_there(default_model):
    """A partial decodes the model's outputs for the open segment so far: those run for good, then
    those of the rest (audio the segmenter has not settled, frames waiting for their look-ahead)
    computed as if the stream ended at that chunk."""
    rec = default_model.with_lookahead(0.4)
    wave, rate = _concatenation()
    _, timed = _stream(rec, wave, rate, [1600], lookahead_s=0.4)
    partials = [(pos, e) for pos, e in timed if e.type == "partial"]
    assert len(partials) >= 2 and all(e.text for _, e in partials)
    for pos, p in partials[:3]:  # the position of the chunk that gave it (1600 samples)
        stream = PosteriorStream.from_recognizer(rec)
        start = int(round(p.start * 16000))
        out = torch.cat([stream.accept(wave[start:pos + 1600]), stream.finish()])
        dec = rec.decoder()
        dec.accept(out)
        assert rec.decoded_text(dec) == p.text


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
    with pytest.raises(ConfigError, match="look-ahead must be > 0"):
        StreamingRecognizer(default_model, lookahead_s=-1)
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


def test_cli_stream_prints_partials_and_finals_from_a_file_and_stdin(streamed):
    import json
    path = SAMPLES / "string_1.wav"
    offline = streamed.transcribe(path).text
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
    assert joined == streamed.transcribe(SAMPLES / "string_2.flac").text
    # raw int16 PCM on standard input, at its stated rate
    wave, rate = sf.read(SAMPLES / "7_jackson_2.wav", dtype="int16")
    code, out, err = _cli("-", "--rate", str(rate), "--no-partials", stdin=wave.astype("<i2").tobytes())
    assert code == 0 and out.split(" ", 2)[2].strip() == streamed.transcribe(SAMPLES / "7_jackson_2.wav").text
    code, out, err = _cli()
    assert code == 1 and "give one input" in err


def test_cli_stream_stdin_ending_with_an_odd_byte_gives_its_results_then_an_error(streamed):
    wave, rate = sf.read(SAMPLES / "7_jackson_2.wav", dtype="int16")
    code, out, err = _cli("-", "--rate", str(rate), "--no-partials", stdin=wave.astype("<i2").tobytes() + b"\x01")
    assert out.split(" ", 2)[2].strip() == streamed.transcribe(SAMPLES / "7_jackson_2.wav").text
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


def test_cli_stream_lookahead_and_the_streaming_alias(default_model):
    """--model digits-commands-streaming is the default model with the default look-ahead (one set
    of weights, one directory); --lookahead 0 reads each segment whole."""
    import lstm_asr
    rec = lstm_asr.load_model("digits-commands-streaming")
    assert rec.lookahead_s == DEFAULT_LOOKAHEAD_S and rec.model_config == default_model.model_config
    path = SAMPLES / "string_1.wav"
    code, out, err = _cli("--model", "digits-commands-streaming", "--partial-interval", "0.2", path)
    assert code == 0, err
    lines = out.splitlines()
    finals = [line.split(" ", 2)[2] for line in lines if line.startswith("final ")]
    partials = [line for line in lines if line.startswith("partial ")]
    assert " ".join(f for f in finals if f) == rec.transcribe(path).text == "six eight five seven eight two"
    assert len(partials) >= 2
    code, out, err = _cli("--lookahead", "0", "--no-partials", path)
    assert code == 0 and out.split(" ", 2)[2].strip() == default_model.transcribe(path).text
