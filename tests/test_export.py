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


def test_a_model_with_a_lookahead_is_refused_by_the_onnx_backend_in_one_line(tmp_path):
    """Its windows are Python loops, which do not export: it runs in torch (its weights export)."""
    rec = lstm_asr.load_model().with_lookahead(2.0)
    with pytest.raises(ConfigError) as e:
        use_onnx(rec, tmp_path / "never.onnx")
    assert "look-ahead" in str(e.value) and "\n" not in str(e.value)


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


def test_cli_onnx_backend_refuses_the_streaming_alias_in_one_line():
    rc, _, err = run_cli("transcribe", "--backend", "onnx", "-m", "digits-commands-streaming", AUDIO[0])
    assert rc == 1 and err.startswith("error: the onnx backend") and err.count("\n") == 1
