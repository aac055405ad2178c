"""The acoustic model: optional convolutional subsampling -> recurrent stack -> CTC or classifier head.

Shapes: features (B, T, F) with lengths (B,) -> CTC log-probabilities (B, T', V) with T' = ceil(T / s)
for subsampling s in {1, 2, 4}, or classifier logits (B, C). The subsampling convolutions are causal
(they look only at past frames) and every recurrent layer accepts and returns its state, so a
unidirectional CTC model runs chunk by chunk exactly: :meth:`AcousticModel.forward_chunk` carries
the convolutions' last input frames, their stride phase and the recurrent state in a
:class:`ChunkState`, and the outputs of any chunking equal those of the whole utterance.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .errors import ConfigError, check_keys

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


@dataclass
class ModelConfig:
    cell: str = "lstm"              # lstm | gru | rnn (tanh)
    num_layers: int = 3
    hidden_size: int | list = 256   # one size for every layer, or a list with one per layer
    bidirectional: bool = True
    dropout: float = 0.1            # after the front end and between recurrent layers
    subsample: int = 4              # 1, 2 or 4: frames per output step
    conv_channels: int = 256        # width of the subsampling convolutions
    head: str = "ctc"               # ctc | classifier
    pool: str = "mean"              # classifier only: mean | last
    num_outputs: int = 0            # CTC: vocabulary size incl. blank; classifier: number of classes
    input_size: int = 80            # feature bins
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ConfigError(f"model.cell must be one of {sorted(CELLS)}, not {self.cell!r}")
        if self.subsample not in (1, 2, 4):
            raise ConfigError(f"model.subsample must be 1, 2 or 4, not {self.subsample!r}")
        if self.head not in ("ctc", "classifier"):
            raise ConfigError(f"model.head must be 'ctc' or 'classifier', not {self.head!r}")
        if self.pool not in ("mean", "last"):
            raise ConfigError(f"model.pool must be 'mean' or 'last', not {self.pool!r}")
        if isinstance(self.hidden_size, list) and len(self.hidden_size) != self.num_layers:
            raise ConfigError("model.hidden_size lists one size per layer: its length must equal num_layers")

    @property
    def layer_sizes(self) -> list[int]:
        h = self.hidden_size
        return list(h) if isinstance(h, list) else [int(h)] * self.num_layers

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
            lengths = (lengths + 1) // 2
        return self.norm(x.transpose(1, 2)), lengths


    def forward_chunk(self, x: torch.Tensor, cache: list | None):
        """The next frames of a stream: (B, T, F), cache -> (B, T', C), cache, with the outputs
        equal to :meth:`forward` on the whole stream. The output j of a stride-2 convolution reads
        its inputs 2j-2, 2j-1, 2j (zeros before the start), so ``cache`` holds per convolution its
        last two input frames (B, C_in, 2) and how many inputs it has seen (the stride phase)."""
        x = x.transpose(1, 2)  # (B, F, T)
        new = []
        for k, conv in enumerate(self.convs):
            context, seen = cache[k] if cache else (x.new_zeros(x.shape[0], x.shape[1], 2), 0)
            buf = torch.cat([context, x], dim=2)  # input frames [seen - 2, seen + T)
            new.append((buf[:, :, -2:], seen + x.shape[2]))
            buf = buf[:, :, seen % 2:]  # first output: j = ceil(seen / 2), reading from frame 2j - 2
            if buf.shape[2] >= 3:
                x = torch.relu(conv(buf))
            else:
                x = x.new_zeros(x.shape[0], conv.out_channels, 0)
        return self.norm(x.transpose(1, 2)), new


class RecurrentStack(nn.Module):
    """Layers of nn.LSTM / nn.GRU / nn.RNN (one module per layer so sizes may differ).

    forward(x (B, T, I), lengths (B,), state=None) -> (y (B, T, H*dirs), state): ``state`` is a
    list with one entry per layer (LSTM: (h, c); GRU/RNN: h), each (dirs, B, H)."""

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

    def forward(self, x, lengths, state=None):
        new_state = []
        for k, layer in enumerate(self.layers):
            if k:
                x = self.dropout(x)
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, s = layer(packed, None if state is None else state[k])
            x, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            new_state.append(s)
        return x, new_state

    def forward_chunk(self, x, state=None):
        """(B, T, I) the next frames of B streams in step (no padding) -> (B, T, H), state."""
        if x.shape[1] == 0:
            return x.new_zeros(x.shape[0], 0, self.output_size), state
        new_state = []
        for k, layer in enumerate(self.layers):
            if k:
                x = self.dropout(x)
            x, s = layer(x, None if state is None else state[k])
            new_state.append(s)
        return x, new_state


@dataclass
class ChunkState:
    """What :meth:`AcousticModel.forward_chunk` carries from one chunk to the next."""
    conv: list | None = None   # per convolution: (last two input frames (B, C_in, 2), inputs seen)
    rnn: list | None = None    # per recurrent layer: LSTM (h, c), GRU/RNN h, each (1, B, H)
    frames: int = 0            # feature frames consumed
    outputs: int = 0           # output frames produced


class AcousticModel(nn.Module):
    """Features -> CTC log-probabilities (B, T', V) or class logits (B, C)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.num_outputs < 2:
            raise ConfigError("model.num_outputs must be at least 2 (set from the vocabulary)")
        self.cfg = cfg
        self.frontend = Subsampling(cfg.input_size, cfg.conv_channels, cfg.subsample)
        self.dropout = nn.Dropout(cfg.dropout)
        self.encoder = RecurrentStack(cfg, self.frontend.output_size)
        self.head = nn.Linear(self.encoder.output_size, cfg.num_outputs)

    def encode(self, feats, lengths, state=None):
        """(B, T, F), (B,) -> encoder output (B, T', H), lengths (B,), recurrent state."""
        x, lengths = self.frontend(feats, lengths)
        x, state = self.encoder(self.dropout(x), lengths, state)
        return x, lengths, state

    def forward(self, feats, lengths, state=None):
        """CTC head: (log_probs (B, T', V), out_lengths (B,), state);
        classifier head: (logits (B, C), lengths, state)."""
        x, lengths, state = self.encode(feats, lengths, state)
        if self.cfg.head == "classifier":
            mask = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]).unsqueeze(-1)
            if self.cfg.pool == "mean":
                pooled = (x * mask).sum(1) / lengths.clamp(min=1)[:, None].to(x.dtype)
            else:  # the state after the whole utterance: last frame forwards, first frame backwards
                pooled = x[torch.arange(x.shape[0]), (lengths - 1).clamp(min=0)]
                if self.cfg.bidirectional:
                    half = x.shape[-1] // 2
                    pooled = torch.cat([pooled[:, :half], x[:, 0, half:]], dim=-1)
            return self.head(self.dropout(pooled)), lengths, state
        return torch.log_softmax(self.head(self.dropout(x)), dim=-1), lengths, state

    def check_streamable(self) -> None:
        """ConfigError unless this model can run chunk by chunk (unidirectional, CTC head)."""
        if self.cfg.bidirectional:
            raise ConfigError("a bidirectional model needs the whole utterance: it cannot run chunk by chunk "
                              "(run it on whole segments, or use a unidirectional model)")
        if self.cfg.head != "ctc":
            raise ConfigError("a classifier pools over the whole utterance: it cannot run chunk by chunk")

    def forward_chunk(self, feats: torch.Tensor, state: ChunkState | None = None) -> tuple[torch.Tensor, ChunkState]:
        """Run the next T feature frames of B streams (all T real, no padding): (B, T, F) ->
        CTC log-probabilities of the output frames they complete (B, T', V) and the new state.
        Any cutting of a stream into chunks (of any sizes, even 0) gives, concatenated, the output
        of :meth:`forward` on the whole stream. Unidirectional CTC models only (ConfigError else)."""
        self.check_streamable()
        state = state or ChunkState()
        x, conv = self.frontend.forward_chunk(feats, state.conv)
        x, rnn = self.encoder.forward_chunk(self.dropout(x), state.rnn)
        out = torch.log_softmax(self.head(self.dropout(x)), dim=-1)
        return out, ChunkState(conv, rnn, state.frames + feats.shape[1], state.outputs + out.shape[1])

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
