"""ONNX export of the acoustic model, and the onnxruntime runner that takes its place.

Only the acoustic model is exported: features (B, T, F) float32 and their lengths (B,) int64 ->
CTC log-probabilities (B, T', V) and output lengths (B,). The front
end (:mod:`.features`, torch) and the decoder stay as they are, so a model run through
onnxruntime meets exactly the features it was trained on. Batch and time are dynamic axes.

    >>> from lstm_asr.export import export_onnx, use_onnx
    >>> export_onnx(rec.model, "model.onnx")              # fp32; int8=True: dynamic int8 weights
    >>> use_onnx(rec, "model.onnx")                       # rec.transcribe(...) now runs onnxruntime

The legacy (TorchScript) exporter is used (``dynamo=False``): it writes packed sequences as real
ONNX ``LSTM``/``GRU``/``RNN`` nodes with ``sequence_lens``, and keeps the batch axis dynamic even
though the example has batch 1.

A model run with a look-ahead (:mod:`.chunking`, streaming) cuts time into windows in Python and
carries each layer's forward state from chunk to chunk. Under the onnx backend its recurrent
layers run in onnxruntime, one graph per layer (:func:`export_layers`, :class:`OnnxLayers`) with the
state as graph inputs and outputs: padded rows (N, W, I), lengths (N,), the initial state
(``h0``, and ``c0`` for an LSTM: (directions, N, H)) -> (N, W, O) and the final state (``hn``,
``cn``). The windows, the front end's convolutions and the output layer stay in torch.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import ConfigError
from .model import AcousticModel, run_layer

BACKENDS = ("torch", "onnx")
ONNX_FILE = "model.onnx"          # a model directory may hold its export under this name
OPSET = 17


def _require():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"ONNX export and the onnx backend need the 'export' extra ({e.name} is missing): "
                          "pip install 'lstm-asr[export]'") from None


def export_onnx(model: AcousticModel, path, int8: bool = False, opset: int = OPSET) -> Path:
    """Write ``model`` (an :class:`AcousticModel`, on any device; exported from the CPU, in eval
    mode, fp32) as ONNX to ``path``; ``int8``: weights of MatMul/Gemm/LSTM quantised to int8 by
    onnxruntime's ``quantize_dynamic`` (activations quantised on the fly). Returns the path."""
    _require()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    import copy
    cpu = copy.deepcopy(model).float().cpu().eval()
    cfg = cpu.cfg
    # batch 2 of different lengths: the trace then sees the sort and the padding of packed sequences
    t = 64
    feats = torch.randn(2, t, cfg.input_size)
    lengths = torch.tensor([t, t - 13], dtype=torch.int64)
    return _write(cpu, (feats, lengths), ["feats", "lengths"], ["output", "output_lengths"],
                  {"feats": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "output": {0: "batch", 1: "frames"},
                   "output_lengths": {0: "batch"}}, path, int8, opset)


class _LayerGraph(nn.Module):
    """One recurrent layer as its ONNX graph: padded x (N, W, I), lengths (N,), initial state ->
    y (N, W', O) (W' = the longest length) and the final state."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x, lengths, *state):
        y, s = run_layer(self.layer, x, lengths, tuple(state) if len(state) > 1 else state[0])
        return (y, *s) if isinstance(s, tuple) else (y, s)


def _state_names(layer: nn.Module) -> tuple[list[str], list[str]]:
    return (["h0", "c0"], ["hn", "cn"]) if isinstance(layer, nn.LSTM) else (["h0"], ["hn"])


def export_layers(model: AcousticModel, folder, int8: bool = False, opset: int = OPSET) -> list[Path]:
    """Each recurrent layer of ``model`` as its own ONNX file ``folder``/layer{k}.onnx (the state in
    and out of the graph; see the module docstring); ``int8`` as :func:`export_onnx`."""
    _require()
    import copy
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cpu = copy.deepcopy(model).float().cpu().eval()
    paths = []
    for k, layer in enumerate(cpu.encoder.layers):
        t, dirs = 16, 2 if layer.bidirectional else 1
        x = torch.randn(2, t, layer.input_size)
        lengths = torch.tensor([t, t - 5], dtype=torch.int64)
        ins, outs = _state_names(layer)
        state = tuple(torch.randn(dirs, 2, layer.hidden_size) for _ in ins)
        path = folder / f"layer{k}.onnx"
        paths.append(_write(_LayerGraph(layer), (x, lengths, *state), ["x", "lengths", *ins], ["y", *outs],
                            {"x": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "y": {0: "batch", 1: "frames"},
                             **{n: {1: "batch"} for n in ins + outs}}, path, int8, opset))
    return paths


def _write(module, example, inputs, outputs, axes, path: Path, int8: bool, opset: int) -> Path:
    """Trace ``module`` on ``example`` to ONNX at ``path`` (int8: quantised), renamed into place."""
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        with torch.no_grad(), _quiet():
            torch.onnx.export(module, example, str(fp32), dynamo=False, opset_version=opset,
                              input_names=inputs, output_names=outputs, dynamic_axes=axes)
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic
            quantized = Path(tmp) / "int8.onnx"
            with _quiet():
                quantize_dynamic(str(fp32), str(quantized), weight_type=QuantType.QInt8)
            fp32 = quantized
        os.replace(fp32, path)  # renamed into place: a cache shared by processes never holds half a file
    return path


@contextlib.contextmanager
def _quiet():
    """Hide the exporter's and quantiser's chatter (tracer warnings, C++ shape-inference warnings
    about packed sequences, the root logger's "consider pre-processing"): it is about internals
    that the tests check by their outputs. Shown when the export fails."""
    import logging
    import warnings
    root = logging.getLogger()
    level = root.level
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as log:
        os.dup2(log.fileno(), 2)
        ok = False
        try:
            root.setLevel(logging.ERROR)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
            ok = True
        finally:
            root.setLevel(level)
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if not ok:
                log.seek(0)
                sys.stderr.write(log.read().decode("utf-8", "replace")[-4000:])


class OnnxRunner:
    """An exported acoustic model in an onnxruntime session: ``runner(feats, lengths)`` with
    feats (B, T, F) and lengths (B,) (torch or numpy) -> (output, output lengths) as torch tensors."""

    def __init__(self, path, threads: int | None = None):
        _require()
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # no warnings about unused initializers
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types for bad files
            raise ConfigError(f"{path}: cannot load the ONNX model ({str(e).splitlines()[0]})") from None
        self.path = Path(path)

    def __call__(self, feats, lengths):
        out, olen = self.session.run(None, {"feats": _array(feats, np.float32), "lengths": _array(lengths, np.int64)})
        return torch.from_numpy(out), torch.from_numpy(olen)


def _array(t, dtype) -> np.ndarray:
    """A torch tensor (any device; floating point read as float32) or array-like -> a contiguous
    numpy array of ``dtype``, as an onnxruntime session takes its inputs."""
    if torch.is_tensor(t):
        t = t.detach().cpu()
        t = (t.float() if t.is_floating_point() else t).numpy()
    return np.ascontiguousarray(t, dtype)


class OnnxLayers:
    """The recurrent layers of a model with a look-ahead in onnxruntime sessions (one per layer,
    :func:`export_layers`): ``layers(k, x, lengths, state)`` as :meth:`ChunkedModel._layer` calls
    it (torch tensors in and out; state None: zeros)."""

    def __init__(self, paths: list, threads: int | None = None):
        self.runners = [OnnxRunner(p, threads) for p in paths]
        # per layer: its state inputs' names (h0[, c0]) and their shape (directions, batch, hidden)
        self.states = [([i.name for i in r.session.get_inputs()[2:]], r.session.get_inputs()[2].shape)
                       for r in self.runners]

    def __call__(self, k: int, x: torch.Tensor, lengths: torch.Tensor, state):
        names, (dirs, _, hidden) = self.states[k]
        if state is None:
            state = tuple(x.new_zeros(dirs, x.shape[0], hidden) for _ in names)
        state = state if isinstance(state, tuple) else (state,)
        feeds = {"x": _array(x, np.float32), "lengths": _array(lengths, np.int64)}
        feeds.update({name: _array(t, np.float32) for name, t in zip(names, state)})
        y, *out = self.runners[k].session.run(None, feeds)
        y = torch.from_numpy(y).to(x.device)
        if y.shape[1] < x.shape[1]:  # padded to the input's width, as the torch layer's output is
            y = nn.functional.pad(y, (0, 0, 0, x.shape[1] - y.shape[1]))
        out = tuple(torch.from_numpy(t).to(x.device) for t in out)
        return y, (out if len(out) > 1 else out[0])


class OnnxAcousticModel(nn.Module):
    """Takes an :class:`AcousticModel`'s place in a Recognizer: ``forward(feats, lengths)`` runs
    onnxruntime (the CPU); everything else (``cfg``, ``parameters``; a look-ahead's chunked runs,
    :meth:`Recognizer.with_lookahead`) is the torch model's."""

    def __init__(self, model: AcousticModel, runner: OnnxRunner, int8: bool = False, threads: int | None = None):
        super().__init__()
        self.torch_model = model
        self.runner = runner
        self.cfg = model.cfg
        self.int8, self.threads = int8, threads
        self._layers: OnnxLayers | None = None

    def recurrent_layers(self) -> OnnxLayers:
        """The recurrent layers in onnxruntime, for a look-ahead's windows (exported into
        :func:`cache_dir` on first use)."""
        if self._layers is None:
            self._layers = OnnxLayers(layer_files_for(self.torch_model, self.int8), self.threads)
        return self._layers

    def forward(self, feats, lengths):
        out, olen = self.runner(feats, lengths)
        return out.to(feats.device), olen.to(feats.device)

    def num_parameters(self) -> int:
        return self.torch_model.num_parameters()


def cache_dir() -> Path:
    """Where on-the-fly exports are kept: $LSTM_ASR_CACHE, else $XDG_CACHE_HOME/lstm-asr/onnx."""
    base = os.environ.get("LSTM_ASR_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lstm-asr"
    return Path(base) / "onnx"


def _fingerprint(model: AcousticModel, int8: bool) -> str:
    """A hash of the config and the weights: the cache key of an export."""
    h = hashlib.sha256(repr(sorted(model.cfg.to_dict().items())).encode())
    h.update(f"int8={int8} opset={OPSET} torch={torch.__version__}".encode())
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


def onnx_file_for(rec, model_dir=None, int8: bool = False) -> Path:
    """The ONNX file of a Recognizer's model: ``model_dir``/model.onnx (model.int8.onnx) when the
    model directory holds one, else an export made now into :func:`cache_dir` (reused next time)."""
    if model_dir is not None:
        own = Path(model_dir) / ("model.int8.onnx" if int8 else ONNX_FILE)
        if own.is_file():
            return own
    model = rec.model.torch_model if isinstance(rec.model, OnnxAcousticModel) else rec.model
    path = cache_dir() / f"{_fingerprint(model, int8)}{'.int8' if int8 else ''}.onnx"
    if not path.is_file():
        export_onnx(model, path, int8=int8)
    return path


def layer_files_for(model: AcousticModel, int8: bool = False) -> list[Path]:
    """The per-layer ONNX files of ``model`` (:func:`export_layers`), exported into
    :func:`cache_dir` the first time (reused next time)."""
    folder = cache_dir() / f"{_fingerprint(model, int8)}{'.int8' if int8 else ''}.layers"
    paths = [folder / f"layer{k}.onnx" for k in range(len(model.encoder.layers))]
    if not all(p.is_file() for p in paths):
        export_layers(model, folder, int8=int8)
    return paths


def use_onnx(rec, path=None, model_dir=None, int8: bool = False, threads: int | None = None):
    """Run ``rec``'s acoustic model (a :class:`~lstm_asr.Recognizer`) through onnxruntime from now
    on: the ONNX file ``path``, or the model directory's own, or one exported now to the cache;
    with a look-ahead, its recurrent layers (:class:`OnnxLayers`). The recogniser is changed in
    place and returned."""
    _require()
    model = rec.model.torch_model if isinstance(rec.model, OnnxAcousticModel) else rec.model
    if path is None:
        path = onnx_file_for(rec, model_dir, int8)
    rec.model = OnnxAcousticModel(model, OnnxRunner(path, threads), int8, threads)
    if rec.chunked is not None:
        rec.chunked.layers = rec.model.recurrent_layers()
    return rec


def load_model(name_or_dir=None, backend: str = "torch", int8: bool = False, device: str | None = None):
    """:func:`lstm_asr.load_model` with a choice of backend: "torch" or "onnx" (onnxruntime on the
    CPU; ``int8``: the dynamically quantised export)."""
    from .checkpoint import resolve_model
    from .transcribe import load_model as _load
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "onnx" and device not in (None, "cpu", "auto"):
        raise ConfigError("the onnx backend runs on the CPU (leave --device out)")
    rec = _load(name_or_dir, None if backend == "onnx" else device)
    if backend == "onnx":
        use_onnx(rec, model_dir=resolve_model(name_or_dir), int8=int8)
    return rec


def quantize_torch(model: AcousticModel) -> AcousticModel:
    """A copy of ``model`` with torch dynamic int8 quantisation of its nn.LSTM/nn.GRU/nn.Linear
    layers (CPU only; for comparison with onnxruntime's int8)."""
    import copy
    from torch.ao.quantization import quantize_dynamic
    return quantize_dynamic(copy.deepcopy(model).cpu().eval(), {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8)
