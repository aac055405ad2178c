"""The acoustic model: convolutional subsampling -> recurrent stack -> CTC output layer.

Shapes: features (B, T, F) with lengths (B,) -> CTC log-probabilities (B, T', V) with T' = ceil(T / s)
for subsampling s in {1, 2, 4}. The subsampling convolutions are causal
(they look only at past frames), so the same weights also run chunk by chunk, or a bidirectional
model with a bounded look-ahead: :mod:`.chunking` does that, at run time.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .errors import ConfigError
from .validate import LOOKAHEAD_RETIRED, check_keys, checked, ints, reals

_HEADS = (": classifier heads were removed from the library and live in benchmarks/ (cells_common.py); a "
          "model here always has a CTC head")

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


@dataclass
class ModelConfig:
    cell: str = "lstm"              # lstm | gru | rnn (tanh)
    num_layers: int = checked(3, ints(1, 64))
    hidden_size: int | list = checked(256, ints(1, 65536))  # one size for every layer, or a list with one per layer
    bidirectional: bool = True
    dropout: float = checked(0.1, reals(0, 0.99))  # after the front end and between recurrent layers
    subsample: int = 4              # 1, 2 or 4: frames per output step
    conv_channels: int = checked(256, ints(1, 65536))  # width of the subsampling convolutions
    num_outputs: int = checked(0, ints(0))  # vocabulary size, blank included
    input_size: int = checked(80, ints(1, 1024))  # feature bins

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ConfigError(f"model.cell must be one of {sorted(CELLS)}, not {self.cell!r}")
        if self.subsample not in (1, 2, 4):
            raise ConfigError(f"model.subsample must be 1, 2 or 4, not {self.subsample!r}")
        if isinstance(self.hidden_size, list) and len(self.hidden_size) != self.num_layers:
            raise ConfigError("model.hidden_size lists one size per layer: its length must equal num_layers")

    @property
    def layer_sizes(self) -> list[int]:
        h = self.hidden_size
        return list(h) if isinstance(h, list) else [int(h)] * self.num_layers

    # options of earlier configs (validate.drop_retired): the look-ahead became a run-time option,
    # and the classifier head (with its pool) left for benchmarks/
    RETIRED: ClassVar[dict] = {
        **{key: (off, LOOKAHEAD_RETIRED) for key, off in (("chunk", 0), ("right_context", 0), ("input_norm", "none"),
                                                   ("extra", {}))},
        "head": ("ctc", _HEADS),
        "pool": (lambda value, d: True if "head" in d else None, _HEADS)}  # dropped with its head only

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**check_keys(d, cls, "model option"))

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_device(name: str | None) -> torch.device:
    """"auto" (CUDA when there is one, else the CPU), "cpu", "cuda" or "cuda:N" -> a device;
    asking for CUDA on a machine without it raises ConfigError."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r}: expected auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: no CUDA GPU is available here (use --device cpu or auto)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s)")
    return device


class Subsampling(nn.Module):
    """Causal strided 1-D convolutions over time, then LayerNorm: (B, T, F) -> (B, ceil(T/s), C).
    The LayerNorm gives the recurrent stack inputs of unit scale (without it the ReLU convolutions
    hand it values of std ~0.15, and a 3-layer LSTM then leaves CTC's blank plateau far later)."""

    def __init__(self, input_size: int, channels: int, factor: int):
        super().__init__()
        self.factor = factor
        layers, size = [], input_size
        for _ in range({1: 0, 2: 1, 4: 2}[factor]):
            layers.append(nn.Conv1d(size, channels, kernel_size=3, stride=2))
            size = channels
        self.convs = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(size)
        self.output_size = size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):
        x = x.transpose(1, 2)
        for conv in self.convs:
            x = torch.relu(conv(nn.functional.pad(x, (2, 0))))  # left pad only: causal
        return self.norm(x.transpose(1, 2)), self.output_lengths(lengths)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Input frames (B,) -> output frames (B,): ceil(T / 2) per convolution."""
        for _ in self.convs:
            lengths = (lengths + 1) // 2
        return lengths


class RecurrentStack(nn.Module):
    """Layers of nn.LSTM / nn.GRU / nn.RNN (one module per layer so sizes may differ), dropout
    between them: (B, T, I), lengths (B,) -> (B, T, H * directions), padding frames zero."""

    def __init__(self, cfg: ModelConfig, input_size: int):
        super().__init__()
        rnn = CELLS[cfg.cell]
        dirs = 2 if cfg.bidirectional else 1
        self.layers = nn.ModuleList()
        for size in cfg.layer_sizes:
            self.layers.append(rnn(input_size, size, batch_first=True, bidirectional=cfg.bidirectional))
            input_size = size * dirs
        self.dropout = nn.Dropout(cfg.dropout)
        self.output_size = input_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        for k, layer in enumerate(self.layers):
            if k:
                x = self.dropout(x)
            x, _ = run_layer(layer, x, lengths, total_length=x.shape[1])
        return x


def run_layer(layer: nn.Module, x: torch.Tensor, lengths: torch.Tensor, state=None, total_length: int | None = None):
    """One recurrent layer on padded rows x (N, W, I) of ``lengths`` (N,) from ``state`` (None:
    zeros) -> (y (N, total_length or the longest length, O), its final state); padding frames
    never enter the recurrence (packed sequences), so the backward direction starts at each row's end."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    y, s = layer(packed, state)
    return pad_packed_sequence(y, batch_first=True, total_length=total_length)[0], s


class AcousticModel(nn.Module):
    """Features -> CTC log-probabilities (B, T', V)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.num_outputs < 2:
            raise ConfigError("model.num_outputs must be at least 2 (set from the vocabulary)")
        self.cfg = cfg
        self.frontend = Subsampling(cfg.input_size, cfg.conv_channels, cfg.subsample)
        self.dropout = nn.Dropout(cfg.dropout)
        self.encoder = RecurrentStack(cfg, self.frontend.output_size)
        self.head = nn.Linear(self.encoder.output_size, cfg.num_outputs)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, F), (B,) -> (log_probs (B, T', V), out_lengths (B,))."""
        x, lengths = self.frontend(feats, lengths)
        x = self.encoder(self.dropout(x), lengths)
        return torch.log_softmax(self.head(self.dropout(x)), dim=-1), lengths

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
