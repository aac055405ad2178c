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

_STD_FLOOR = 1e-5  # as features.normalize: utterance

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
    # bidirectional only: a latency-controlled stack (Zhang et al. 2016) when chunk > 0: the backward
    # direction of output frame t reads only to the end of t's chunk of ``chunk`` output frames plus
    # ``right_context`` more, so the model streams with a look-ahead of at most chunk + right_context
    chunk: int = 0
    right_context: int = 0
    # "window" (latency-controlled only; features.normalize: none): the model normalises its log-mel
    # input itself, per window: each bin's mean and variance over the frames from the start to the
    # window's end, the online twin of features.normalize: utterance (equal to it while the first
    # window covers the whole utterance), with no look-ahead beyond the model's own
    input_norm: str = "none"
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
        for name in ("chunk", "right_context"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"model.{name} must be a whole number >= 0, not {v!r}")
        if self.chunk and not self.bidirectional:
            raise ConfigError("model.chunk limits a bidirectional model's look-ahead: a unidirectional one "
                              "has none (set model.chunk: 0)")
        if self.right_context and not self.chunk:
            raise ConfigError("model.right_context needs model.chunk > 0")
        if self.input_norm not in ("none", "window"):
            raise ConfigError(f"model.input_norm must be 'none' or 'window', not {self.input_norm!r}")
        if self.input_norm == "window" and not self.chunk:
            raise ConfigError("model.input_norm: window needs a latency-controlled model (model.chunk > 0)")

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
        return self.norm(x.transpose(1, 2)), self.output_lengths(lengths)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Input frames (B,) -> output frames (B,): ceil(T / 2) per convolution."""
        for _ in self.convs:
            lengths = (lengths + 1) // 2
        return lengths


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
    list with one entry per layer (LSTM: (h, c); GRU/RNN: h), each (dirs, B, H).

    With ``model.chunk`` > 0 (bidirectional) the stack is latency-controlled: time is cut into
    chunks of ``chunk`` frames, and each chunk runs through all layers as a window with the next
    ``right_context`` frames; the forward direction carries its state from chunk to chunk, the
    backward direction starts from zero at the window's end. So output t depends on frames up to
    the end of its window only, whether the utterance is run whole (:meth:`forward`) or fed chunk
    by chunk (:meth:`forward_chunk`); ``state`` then holds the forward direction only, (1, B, H)."""

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
        self.chunk, self.right_context = cfg.chunk, cfg.right_context
        # training only: the first chunk is `chunk - phase` frames long, so that the chunk edges
        # (where the backward direction restarts) fall anywhere in a word (train.py draws it)
        self.phase = 0

    def forward(self, x, lengths, state=None):
        if self.chunk:
            return self._forward_windows(x, lengths, state)
        new_state = []
        for k, layer in enumerate(self.layers):
            if k:
                x = self.dropout(x)
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, s = layer(packed, None if state is None else state[k])
            x, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            new_state.append(s)
        return x, new_state

    def forward_chunk(self, x, state=None, pending=None, final=False):
        """(B, T, I) the next frames of B streams in step (no padding) -> (B, T', H), state, pending.
        A latency-controlled stack keeps in ``pending`` the frames whose window is not complete yet
        (``final``: the stream ends, run them all); otherwise T' = T and pending stays None."""
        if self.chunk:
            return self._stream_windows(x, state, pending, final)
        if x.shape[1] == 0:
            return x.new_zeros(x.shape[0], 0, self.output_size), state, None
        new_state = []
        for k, layer in enumerate(self.layers):
            if k:
                x = self.dropout(x)
            x, s = layer(x, None if state is None else state[k])
            new_state.append(s)
        return x, new_state, None

    def _forward_windows(self, x, lengths, state=None):
        return self.forward_windows(lambda index, start, stop: x[index, start:stop], x, x.shape[1], lengths, state)

    def forward_windows(self, inputs, like: torch.Tensor, frames: int, lengths, state=None,
                        available=None, phase: int | None = None):
        """The latency-controlled stack over a batch: ``inputs(index, start, stop)`` gives rows
        ``index``'s input frames [start, stop) (b, W, I); ``frames`` is the longest length,
        ``lengths`` (B,) each row's -> (y (B, frames, 2H), forward states). ``available`` (B,):
        the input frames each row has for the look-ahead, where more than ``lengths`` (a stream's
        frames still waiting for theirs); ``phase``: the first chunk's shortening (None: the
        training-time random phase, 0 in eval mode).

        All windows of all rows run through a layer as one batch. Only the forward direction's
        state at each chunk's start depends on the chunk before, so per layer a first pass runs the
        chunks alone, one after the other, for those states, and then every window runs at once
        from them: a few short sequential calls and one long batched one, instead of a full window
        per sequential call. Offline and streamed (:meth:`forward_chunk`) alike."""
        batch = lengths.shape[0]
        lengths = lengths.cpu()
        available = lengths if available is None else available.cpu()
        out = like.new_zeros(batch, frames, self.output_size)
        if phase is None:
            phase = self.phase if self.training else 0
        starts = list(range(0, frames, self.chunk)) if not phase else [0, *range(self.chunk - phase, frames, self.chunk)]
        # the windows that reach the end of the input there is: one window does for them all (each
        # would run its backward direction from the same end over the same frames, its forward
        # direction on from the chunk before, and normalise with the same statistics)
        limit = int(available.max()) if batch else 0
        for k in range(len(starts) - 1):
            if starts[k + 1] + self.right_context >= limit:
                starts = starts[:k + 1]
                break
        spans, rows, mains, totals, xs = [], [], [], [], []  # per chunk k: its windows' rows and sizes
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else frames
            main = (lengths - start).clamp(0, end - start)
            live = main.nonzero().squeeze(1)
            if not len(live):
                break
            stop = min(end + self.right_context, int(available[live].max()))
            spans.append(start)
            rows.append(live)
            mains.append(main[live])
            totals.append((available[live] - start).clamp(max=stop - start))
            xs.append(inputs(live.to(like.device), start, stop))
        if not xs:
            return out, state
        width = max(x.shape[1] for x in xs)
        x = torch.cat([nn.functional.pad(t, (0, 0, 0, width - t.shape[1])) for t in xs])  # (N, W, I)
        total = torch.cat(totals)
        new_state = []
        for layer_index, layer in enumerate(self.layers):
            if layer_index:
                x = self.dropout(x)
            carried = None if state is None else state[layer_index]
            first, at = [], 0  # each window's initial forward state; the chunks alone, in order
            for live, main in zip(rows, mains):
                index = live.to(like.device)
                sub = None if carried is None else _map_state(carried, lambda t: t[:, index])
                first.append(sub)
                chunk = x[at:at + len(live), :int(main.max())]
                packed = pack_padded_sequence(chunk, main, batch_first=True, enforce_sorted=False)
                _, s = layer(packed, _start_state(layer, sub, len(live), chunk))
                s = _map_state(s, lambda t: t[:1])
                if carried is None:
                    carried = _map_state(s, lambda t: t.new_zeros(1, batch, t.shape[-1]))
                carried = _put_state(carried, index, s)
                at += len(live)
            if first[0] is None:  # no state given: the first chunk starts from zeros
                first[0] = _map_state(carried, lambda t: t.new_zeros(1, len(rows[0]), t.shape[-1]))
            initial = _cat_states(first)
            packed = pack_padded_sequence(x, total, batch_first=True, enforce_sorted=False)
            y, _ = layer(packed, _start_state(layer, initial, x.shape[0], x))
            x = pad_packed_sequence(y, batch_first=True, total_length=width)[0]
            new_state.append(carried)
        at = 0
        for start, live, main in zip(spans, rows, mains):
            n = int(main.max())
            index = live.to(like.device)
            out[index, start:start + n] = x[at:at + len(live), :n]
            at += len(live)
        return out, new_state

    def _stream_windows(self, x, state, pending, final):
        buf = x if pending is None else torch.cat([pending, x], 1)
        b, n = buf.shape[:2]
        ready = n if final else self.ready_frames(n)
        if not ready:
            return x.new_zeros(b, 0, self.output_size), state, buf
        y, state = self.forward_windows(lambda index, start, stop: buf[index, start:stop], buf, ready,
                                        torch.full((b,), ready), state, available=torch.full((b,), n), phase=0)
        return y, state, buf[:, ready:]

    def ready_frames(self, n: int) -> int:
        """Of n input frames of a stream, how many have their whole window: complete chunks whose
        right context has arrived."""
        return max(0, (n - self.right_context) // self.chunk) * self.chunk


def _moments(sum1: torch.Tensor, sum2: torch.Tensor, n) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-bin sums of n frames and of their squares (float64) -> mean and std (population, floored
    as features.normalize: utterance floors it)."""
    mean = sum1 / n
    return mean, (sum2 / n - mean * mean).clamp(min=0).sqrt().clamp(min=_STD_FLOOR)


def _map_state(s, f):
    """Apply f to an LSTM state (h, c) or a GRU/RNN state h."""
    return tuple(f(t) for t in s) if isinstance(s, tuple) else f(s)


def _cat_states(states: list):
    """States (1, b_k, H) of LSTMs ((h, c)) or GRU/RNNs (h) -> one state over all their rows."""
    if isinstance(states[0], tuple):
        return tuple(torch.cat(parts, 1) for parts in zip(*states))
    return torch.cat(states, 1)


def _put_state(old, index, new):
    if isinstance(old, tuple):
        return tuple(_put_state(o, index, n) for o, n in zip(old, new))
    old = old.clone()
    old[:, index] = new
    return old


def _start_state(layer, forward, b: int, x):
    """The initial state of a bidirectional layer run on b rows: the forward direction from
    ``forward`` (1, b, H) (zeros when None), the backward direction from zeros."""
    zeros = x.new_zeros(1, b, layer.hidden_size)
    def build(t):
        return torch.cat([zeros if t is None else t, zeros])
    if isinstance(layer, nn.LSTM):
        return (build(None), build(None)) if forward is None else (build(forward[0]), build(forward[1]))
    return build(forward)


@dataclass
class ChunkState:
    """What :meth:`AcousticModel.forward_chunk` carries from one chunk to the next."""
    conv: list | None = None   # per convolution: (last two input frames (B, C_in, 2), inputs seen)
    rnn: list | None = None    # per recurrent layer: LSTM (h, c), GRU/RNN h, each (1, B, H)
    pending: torch.Tensor | None = None  # latency-controlled stack: frames not yet run (input_norm
                                         # window: raw input frames from input frame raw_start)
    frames: int = 0            # feature frames consumed
    outputs: int = 0           # output frames produced
    raw_start: int = 0         # input_norm window: the input frame pending starts at
    sums: tuple | None = None  # input_norm window: per-bin sum, sum of squares, frames counted


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
        if self.cfg.input_norm == "window":
            return self._encode_normalised_windows(feats, lengths, state)
        x, lengths = self.frontend(feats, lengths)
        x, state = self.encoder(self.dropout(x), lengths, state)
        return x, lengths, state

    # -- input_norm: window ------------------------------------------------------------------------
    # Window k covers output frames [a, b) (a = k * chunk, b = a + chunk + right_context) and reads
    # raw input frames [0, s * b) for its statistics and [s * (a - m), s * b) for its front end
    # (s: subsampling, m: output frames of convolution context, so the slice keeps the stride phase).

    def _context(self) -> int:
        """m: how many output frames before a window's first one its front-end slice starts at, so
        that the kernels of the stride-2 convolutions (one per factor 2) read only real frames."""
        return {1: 0, 2: 1, 4: 2}[self.cfg.subsample]

    def _window_frontend(self, raw, mean, std, valid, start: int, stop: int) -> torch.Tensor:
        """Raw log-mel from input frame s * (start - m) on (b, n, F), the window's statistics
        (b, 1, F, float64) and each row's valid frames in ``raw`` (b,) -> front-end outputs [start, stop)."""
        first = max(0, start - self._context())
        x = ((raw.double() - mean) / std).to(self.head.weight.dtype)
        mask = torch.arange(raw.shape[1], device=raw.device)[None, :, None] < valid.to(raw.device)[:, None, None]
        x = torch.where(mask, x, x.new_zeros(()))
        y, _ = self.frontend(x, valid.clamp(min=1).to(raw.device))
        return self.dropout(y[:, start - first:stop - first])

    def _encode_normalised_windows(self, feats, lengths, state=None):
        s, batch = self.cfg.subsample, feats.shape[0]
        lengths_in = torch.as_tensor(lengths).cpu()
        out_lengths = self.frontend.output_lengths(lengths_in)
        frames = int(out_lengths.max()) if batch else 0
        x64 = feats.double()
        sum1, sum2 = x64.cumsum(1), (x64 * x64).cumsum(1)

        def inputs(index, start, stop):
            rows = index.cpu()
            n = lengths_in[rows].clamp(max=s * stop)  # statistics frames per row
            at = (n - 1).clamp(min=0).to(feats.device)
            mean, std = _moments(sum1[index, at][:, None], sum2[index, at][:, None],
                                 n.to(feats.device, torch.float64)[:, None, None])
            lo = s * max(0, start - self._context())
            raw = feats[index, lo:min(s * stop, feats.shape[1])]
            valid = (lengths_in[rows] - lo).clamp(min=0, max=raw.shape[1])
            return self._window_frontend(raw, mean, std, valid, start, stop)

        like = feats.new_zeros(batch, 0, self.frontend.output_size)
        x, state = self.encoder.forward_windows(inputs, like, frames, out_lengths, state)
        return x, out_lengths.to(feats.device), state

    def _stream_normalised_windows(self, feats, state: "ChunkState", final: bool):
        """forward_chunk's encoder for input_norm: window: raw frames buffered from input frame
        ``state.raw_start``, per-bin sums over input frames [0, state.sums[2])."""
        s, m = self.cfg.subsample, self._context()
        raw = feats if state.pending is None else torch.cat([state.pending, feats], 1)
        b, raw_start, a = raw.shape[0], state.raw_start, state.outputs
        seen = raw_start + raw.shape[1]
        have = -(-seen // s)  # output frames the input so far makes
        ready = have - a if final else self.encoder.ready_frames(seen // s - a)
        if ready <= 0:
            return feats.new_zeros(b, 0, self.encoder.output_size), state.rnn, raw, raw_start, state.sums
        zeros = feats.new_zeros(b, 1, feats.shape[2], dtype=torch.float64)
        s1, s2, counted = state.sums if state.sums is not None else (zeros, zeros.clone(), 0)
        new = raw[:, counted - raw_start:].double()
        # sum1[:, j]: per-bin sums over input frames [0, counted + j)
        sum1, sum2 = torch.cat([s1, s1 + new.cumsum(1)], 1), torch.cat([s2, s2 + (new * new).cumsum(1)], 1)

        def inputs(index, start, stop):  # output frames [a + start, a + stop)
            n = min(seen, s * (a + stop))  # statistics frames
            mean, std = _moments(sum1[index, n - counted][:, None], sum2[index, n - counted][:, None], n)
            lo = s * max(0, a + start - m)
            window = raw[index, lo - raw_start:n - raw_start]
            valid = torch.full((len(index),), window.shape[1])
            return self._window_frontend(window, mean, std, valid, a + start, a + stop)

        y, rnn = self.encoder.forward_windows(inputs, feats, ready, torch.full((b,), ready), state.rnn,
                                              available=torch.full((b,), have - a), phase=0)
        # the sums to the last window's statistics frames; raw frames from the next window's front end
        last = min(seen, s * min(have, a + (ready - 1) // self.cfg.chunk * self.cfg.chunk + self.cfg.chunk
                                 + self.cfg.right_context))
        sums = (sum1[:, last - counted:last - counted + 1], sum2[:, last - counted:last - counted + 1], last)
        keep = s * max(0, a + ready - m)
        return y, rnn, raw[:, keep - raw_start:], keep, sums

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
        """ConfigError unless this model can run chunk by chunk (unidirectional or latency-controlled
        bidirectional, CTC head)."""
        if self.cfg.bidirectional and not self.cfg.chunk:
            raise ConfigError("a bidirectional model needs the whole utterance: it cannot run chunk by chunk "
                              "(run it on whole segments, or use a unidirectional or latency-controlled one, "
                              "model.chunk > 0)")
        if self.cfg.head != "ctc":
            raise ConfigError("a classifier pools over the whole utterance: it cannot run chunk by chunk")

    def forward_chunk(self, feats: torch.Tensor, state: ChunkState | None = None,
                      final: bool = False) -> tuple[torch.Tensor, ChunkState]:
        """Run the next T feature frames of B streams (all T real, no padding): (B, T, F) ->
        CTC log-probabilities of the output frames they complete (B, T', V) and the new state.
        Any cutting of a stream into chunks (of any sizes, even 0) gives, concatenated, the output
        of :meth:`forward` on the whole stream; a latency-controlled model (``model.chunk``) holds
        back its last frames until their look-ahead has arrived, or until a call with ``final=True``
        (the end of the stream). CTC models, unidirectional or latency-controlled (ConfigError else)."""
        self.check_streamable()
        state = state or ChunkState()
        if self.cfg.input_norm == "window":
            x, rnn, pending, raw_start, sums = self._stream_normalised_windows(feats, state, final)
            out = torch.log_softmax(self.head(self.dropout(x)), dim=-1)
            return out, ChunkState(None, rnn, pending, state.frames + feats.shape[1], state.outputs + out.shape[1],
                                   raw_start, sums)
        x, conv = self.frontend.forward_chunk(feats, state.conv)
        x, rnn, pending = self.encoder.forward_chunk(self.dropout(x), state.rnn, state.pending, final)
        out = torch.log_softmax(self.head(self.dropout(x)), dim=-1)
        return out, ChunkState(conv, rnn, pending, state.frames + feats.shape[1], state.outputs + out.shape[1])

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
