"""ONNX export and the onnxruntime backend (lstm_asr.export): the exported acoustic model gives
PyTorch's log-probabilities (within 1e-4) for any batch size and lengths, the same transcripts
through the whole pipeline, and int8 mostly agrees. Shapes and units are never hard-coded: the
tests read them from whatever model ``lstm_asr.load_model()`` gives, and from tiny random models."""
import shutil
from pathlib import Path

import pytest
import torch

from conftest import DATA, SAMPLES, run_cli

pytest.importorskip("onnx", reason="ONNX export needs the 'export' extra (onnx is missing)")
pytest.importorskip("onnxruntime", reason="the onnx backend needs the 'export' extra (onnxruntime is missing)")

import lstm_asr  # noqa: E402
from lstm_asr.errors import ConfigError  # noqa: E402
from lstm_asr.export import OnnxAcousticModel, OnnxRunner, export_onnx, load_model, use_onnx  # noqa: E402
from lstm_asr.model import AcousticModel, ModelConfig  # noqa: E402

torch.set_num_threads(1)
AUDIO = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".wav", ".flac", ".ogg"))
MORE = sorted((DATA / "speech_commands").glob("*.wav")) + sorted((DATA / "fsdd").glob("*.wav"))


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    """On-the-fly exports go to a temporary cache, not the user's."""
    monkeypatch.setenv("LSTM_ASR_CACHE", str(tmp_path_factory.getbasetemp() / "onnx-cache"))


def _batches(model: AcousticModel):
    """(feats, lengths) of several batch sizes and lengths (all equal, ragged, length 1)."""
    g = torch.Generator().manual_seed(0)
    f = model.cfg.input_size
    for lengths in ([37], [200, 200], [123, 9, 64], [5, 1, 1, 17], [1]):
        t = max(lengths)
        yield torch.randn(len(lengths), t, f, generator=g), torch.tensor(lengths)


def _check_equal(model: AcousticModel, path: Path, atol: float = 1e-4):
    runner = OnnxRunner(path, threads=1)
    model.eval()
    for feats, lengths in _batches(model):
        with torch.no_grad():
            ref, ref_len = model(feats, lengths)
        out, out_len = runner(feats, lengths)
        assert out.shape == ref.shape and out_len.tolist() == ref_len.tolist()
        err = (out - ref).abs().max().item()
        assert err <= atol, f"lengths {lengths.tolist()}: max |onnx - torch| = {err:.2e}"


TINY = [
    dict(cell="lstm", bidirectional=True, subsample=2),
    dict(cell="lstm", bidirectional=False, subsample=4),
    dict(cell="gru", bidirectional=True, subsample=1, hidden_size=[8, 12]),
    dict(cell="rnn", bidirectional=False, subsample=2),
]


@pytest.mark.parametrize("kw", TINY, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_tiny_random_model_matches_torch(kw, tmp_path):
    torch.manual_seed(0)
    kw = dict(kw)
    cfg = ModelConfig(num_layers=2, hidden_size=kw.pop("hidden_size", 16), conv_channels=12, num_outputs=7,
                      input_size=10, **kw)
    model = AcousticModel(cfg).eval()
    _check_equal(model, export_onnx(model, tmp_path / "tiny.onnx"))


def test_default_model_log_probs_match_torch(tmp_path):
    rec = lstm_asr.load_model()
    _check_equal(rec.model, export_onnx(rec.model, tmp_path / "default.onnx"))


def _stream(rec, wave, sizes=(1600, 4000, 800, 12345)) -> torch.Tensor:
    """A PosteriorStream of ``rec`` fed ``wave`` in pieces of ``sizes`` (cycled), joined."""
    from lstm_asr.streaming import PosteriorStream
    stream, outs, i, k = PosteriorStream.from_recognizer(rec), [], 0, 0
    while i < len(wave):
        n = sizes[k % len(sizes)]
        outs.append(stream.accept(wave[i:i + n]))
        i, k = i + n, k + 1
    return torch.cat(outs + [stream.finish()])


@pytest.mark.parametrize("lookahead", [1.0, 4.0])
def test_a_stream_runs_its_recurrent_layers_in_onnxruntime_with_the_state_through_the_graph(lookahead):
    import numpy as np
    from lstm_asr.audio import load_audio
    wave = np.concatenate([load_audio(p) for p in AUDIO[:4]])  # longer than a window: the state is carried
    ref = _stream(lstm_asr.load_model().with_lookahead(lookahead), wave)
    rec = load_model(backend="onnx").with_lookahead(lookahead)
    layers = rec.chunked.layers
    assert layers is not None and len(layers.runners) == rec.model.cfg.num_layers
    session = layers.runners[0].session
    assert [i.name for i in session.get_inputs()] == ["x", "lengths", "h0", "c0"]
    assert [o.name for o in session.get_outputs()] == ["y", "hn", "cn"]
    out = _stream(rec, wave)
    assert out.shape == ref.shape and (out - ref).abs().max() < 1e-4
    assert rec.transcribe(wave).text == lstm_asr.load_model().with_lookahead(lookahead).transcribe(wave).text
    # a recognizer given the backend after its look-ahead, and the int8 layers
    late = use_onnx(lstm_asr.load_model().with_lookahead(lookahead))
    assert (_stream(late, wave) - ref).abs().max() < 1e-4
    int8 = load_model(backend="onnx", int8=True).with_lookahead(lookahead)
    assert (_stream(int8, wave).argmax(-1) == ref.argmax(-1)).float().mean() > 0.95


@pytest.mark.parametrize("cell", ["gru", "rnn", "lstm"])
def test_tiny_models_layer_graphs_match_torch_for_every_cell(cell, tmp_path):
    from lstm_asr.chunking import ChunkedModel
    from lstm_asr.export import OnnxLayers, export_layers
    from lstm_asr.features import FeatureConfig
    torch.manual_seed(0)
    model = AcousticModel(ModelConfig(num_layers=2, hidden_size=16, conv_channels=12, num_outputs=7,
                                      input_size=80, cell=cell, bidirectional=True)).eval()
    chunked = ChunkedModel(model, FeatureConfig(), lookahead_s=0.4)
    feats = torch.randn(3, 301, 80)
    lengths = torch.tensor([301, 180, 40])
    with torch.no_grad():
        ref, ref_len = chunked(feats, lengths)
        chunked.layers = OnnxLayers(export_layers(model, tmp_path))
        out, out_len = chunked(feats, lengths)
    assert torch.equal(out_len, ref_len)
    for row, n in enumerate(ref_len.tolist()):
        assert (out[row, :n] - ref[row, :n]).abs().max() < 1e-4


def _texts(rec, files):
    return [t.text for _, t in rec.transcribe_many([str(p) for p in files], batch_seconds=30)]


def test_fp32_transcripts_equal_and_int8_mostly_agrees():
    files = AUDIO + MORE
    ref = _texts(lstm_asr.load_model(), files)
    onnx = load_model(backend="onnx")
    assert isinstance(onnx.model, OnnxAcousticModel)
    # whole pipeline, one file at a time (transcribe) and batched across files (transcribe_many)
    assert [onnx.transcribe(str(p)).text for p in AUDIO] == ref[:len(AUDIO)]
    assert _texts(onnx, files) == ref
    int8 = _texts(load_model(backend="onnx", int8=True), files)
    agree = sum(a == b for a, b in zip(int8, ref)) / len(ref)
    print(f"int8 onnx agrees with torch fp32 on {agree:.1%} of {len(ref)} files")
    assert agree >= 0.8


def test_model_directory_onnx_file_is_used(tmp_path):
    from lstm_asr.checkpoint import resolve_model
    d = tmp_path / "model"
    shutil.copytree(resolve_model(None), d)
    rec = lstm_asr.load_model(d)
    export_onnx(rec.model, d / "model.onnx")
    onnx = load_model(d, backend="onnx")
    assert onnx.model.runner.path == d / "model.onnx"
    assert onnx.transcribe(str(AUDIO[0])).text == rec.transcribe(str(AUDIO[0])).text
    use_onnx(rec, d / "model.onnx")  # an existing recognizer, in place
    assert isinstance(rec.model, OnnxAcousticModel) and rec.model.cfg is rec.model.torch_model.cfg


def test_unknown_backend_and_gpu_are_refused():
    with pytest.raises(ConfigError):
        load_model(backend="tensorrt")
    with pytest.raises(ConfigError):
        load_model(backend="onnx", device="cuda")


def test_cli_export_and_transcribe_backend(tmp_path):
    out = tmp_path / "m.onnx"
    rc, _, err = run_cli("export", "--format", "onnx", "--out", out)
    assert rc == 0 and out.is_file(), err
    rc8, _, err = run_cli("export", "--int8", "--out", tmp_path / "m8.onnx")
    assert rc8 == 0 and (tmp_path / "m8.onnx").stat().st_size < out.stat().st_size, err
    files = [str(p) for p in AUDIO]
    rc, torch_out, err = run_cli("--threads", "1", "transcribe", "--with-names", *files)
    assert rc == 0, err
    rc, onnx_out, err = run_cli("--threads", "1", "transcribe", "--backend", "onnx", "--with-names", *files)
    assert rc == 0, err
    assert onnx_out == torch_out


def test_cli_onnx_backend_runs_the_streaming_alias_and_streams():
    """`transcribe -m digits-commands-streaming` and `stream` with --backend onnx: the finals of torch."""
    import json
    wav = [p for p in AUDIO if p.suffix == ".wav"][0]
    for args in (["transcribe", "-m", "digits-commands-streaming", wav], ["stream", "--json", "--no-partials", wav]):
        rc, torch_out, err = run_cli("--threads", "1", *args)
        assert rc == 0, err
        rc, onnx_out, err = run_cli("--threads", "1", *args, "--backend", "onnx")
        assert rc == 0, err
        assert onnx_out.strip() and onnx_out == torch_out
    finals = [json.loads(line) for line in onnx_out.splitlines()]
    assert all(e["type"] == "final" for e in finals)


def test_the_server_streams_with_the_onnx_backend_and_a_lookahead():
    """`serve --backend onnx --lookahead 2`: a stream's finals are the torch model's with that look-ahead."""
    pytest.importorskip("fastapi", reason="needs the serve extra")
    from test_server import finals_text, start_server, stop_server, stream_file
    clip = SAMPLES / "string_2.flac"  # 2.3 s: more than one 1 s chunk of a 2 s look-ahead
    proc, url = start_server("--backend", "onnx", "--lookahead", "2")
    try:
        messages, code = stream_file(url, clip, 8822)
    finally:
        stop_server(proc)
    expected = lstm_asr.load_model().with_lookahead(2.0).transcribe(str(clip)).text
    assert code == 1000 and expected and finals_text(messages) == expected
