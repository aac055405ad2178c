"""A trained model run with a bounded look-ahead, on whole utterances or chunk by chunk.

The look-ahead is a run-time option of any CTC model, not a second copy of its weights (as icefall
passes ``--chunk-size`` at decode time): ``lstm-asr stream --lookahead S``,
``StreamingRecognizer(model, lookahead_s=S)``, ``Recognizer.with_lookahead(S)``. Everything else
follows from that one number:

* A bidirectional model is run latency-controlled (Zhang et al. 2016): time is cut into chunks of
  ``chunk`` output frames, and each chunk runs through all recurrent layers as a window with the
  next ``right_context`` frames; the forward direction carries its state from chunk to chunk, the
  backward direction starts from zero at the window's end. ``chunk = right_context`` = S/2, so
  a frame reads between S/2 and S ahead (4 s at 20 ms per output frame: 100 + 100 frames).
* A model trained on features normalised per utterance normalises each window itself: each bin's
  mean and variance over the frames from the start to the window's end, the online twin of
  ``features.normalize: utterance`` (equal to it while the first window covers the utterance).
* A level floor (``features.level_floor_db``) takes for the first S seconds their mean level (a
  stream holds those frames back until then), and afterwards the level of the frames so far.

So a clip no longer than the first window (S) gets exactly the offline model's outputs, and
output t depends on the input up to the end of its window only: :meth:`ChunkedModel.__call__`
(whole utterances, batched) and :meth:`ChunkedModel.forward_chunk` (a stream fed in pieces of any
size) give the same outputs. A unidirectional model needs no window: chunk by chunk it carries its
recurrent state, and the subsampling convolutions' last input frames and stride phase.
Inference only: dropout is not applied.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from .errors import ConfigError
from .features import STD_FLOOR, FeatureConfig, FilterBank, StreamingFbank
from .model import AcousticModel, run_layer

DEFAULT_LOOKAHEAD_S = 4.0  # `lstm-asr stream`, the server's streams and StreamingRecognizer
MAX_LOOKAHEAD_S = 60       # the most their --lookahead (and the server's lookahead_s) may ask for


@dataclass
class ChunkState:
    """What :meth:`ChunkedModel.forward_chunk` carries from one call to the next (B streams in step)."""
    conv: list | None = None   # per convolution: (its last two input frames (B, C_in, 2), inputs seen)
    rnn: list | None = None    # per recurrent layer, the forward direction: LSTM (h, c), GRU/RNN h, (1, B, H)
    pending: torch.Tensor | None = None  # frames whose window is not complete: encoder inputs, or with
                                         # window normalisation raw features from input frame raw_start
    frames: int = 0            # feature frames consumed
    outputs: int = 0           # output frames produced
    raw_start: int = 0         # window normalisation: the input frame ``pending`` starts at
    sums: tuple | None = None  # window normalisation: per-bin sum, sum of squares, frames counted


class ChunkedModel:
    """``model`` run with a look-ahead of ``lookahead_s`` seconds (see the module docstring); its
    features come from :meth:`front_end` (whole utterances) or :meth:`stream_front_end` (a stream).
    ConfigError for a model that cannot run so: features normalised with training-set
    statistics (``normalize: global``), or a unidirectional model normalised per utterance."""

    def __init__(self, model: AcousticModel, features: FeatureConfig, lookahead_s: float):
        cfg = model.cfg
        if not lookahead_s > 0:
            raise ConfigError(f"look-ahead must be > 0 seconds, not {lookahead_s!r}")
        if features.normalize not in ("utterance", "none"):
            raise ConfigError(f"features.normalize: {features.normalize} needs the whole utterance's level: this "
                              "model cannot run with a look-ahead (read each segment whole: --lookahead 0, lookahead_s=None)")
        self.normalise = features.normalize == "utterance"
        if self.normalise and not cfg.bidirectional:
            raise ConfigError("a unidirectional model trained on features normalised per utterance cannot run "
                              "with a look-ahead (read each segment whole: --lookahead 0, lookahead_s=None)")
        self.model = model
        # what runs one recurrent layer (k, x (N, W, I) padded, lengths (N,), initial state) -> (y
        # (N, W, O), final state): None runs the torch layer; the onnx backend puts onnxruntime
        # sessions here (export.OnnxLayers), the states going in and out of their graphs
        self.layers = None
        frame_s = features.hop_length / features.sample_rate * cfg.subsample  # one output frame
        if cfg.bidirectional:
            self.chunk = self.right_context = max(1, round(lookahead_s / frame_s / 2))
            window = self.chunk + self.right_context
        else:
            self.chunk = self.right_context = 0
            window = max(1, round(lookahead_s / frame_s))
        self.seconds = window * frame_s          # the look-ahead, rounded to whole output frames
        self.warmup_frames = window * cfg.subsample  # feature frames whose level floor is their mean
        self.features = dataclasses.replace(features, normalize="none")  # raw log-mel

    def front_end(self) -> FilterBank:
        """The features of whole utterances this model takes (raw log-mel, the level floor's warm-up)."""
        return FilterBank(self.features, warmup_frames=self.warmup_frames)

    def stream_front_end(self) -> StreamingFbank:
        """The same features, from a stream fed in pieces."""
        return StreamingFbank(self.features, warmup_frames=self.warmup_frames)

    # -- whole utterances ---------------------------------------------------------------------------

    def __call__(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, F) features from :meth:`front_end`, (B,) -> CTC log-probabilities (B, T', V), (B,)."""
        m = self.model
        if not self.chunk:
            return m(feats, lengths)
        if self.normalise:
            x, lengths = self._normalised_windows(feats, lengths)
        else:
            y, lengths = m.frontend(feats, lengths)
            x, _ = self._windows(lambda index, start, stop: y[index, start:stop], y, y.shape[1], lengths)
        return torch.log_softmax(m.head(x), dim=-1), lengths

    def _windows(self, inputs, like: torch.Tensor, frames: int, lengths, state=None, available=None):
        """The latency-controlled stack over a batch: ``inputs(index, start, stop)`` gives rows
        ``index``'s encoder inputs [start, stop) (b, W, I); ``frames`` is the longest length,
        ``lengths`` (B,) each row's -> (y (B, frames, 2H), forward states). ``available`` (B,):
        the input frames each row has for the look-ahead, where more than ``lengths`` (a stream's
        frames still waiting for theirs).

        All windows of all rows run through a layer as one batch. Only the forward direction's
        state at each chunk's start depends on the chunk before, so per layer a first pass runs the
        chunks alone, one after the other, for those states, and then every window runs at once
        from them: a few short sequential calls and one long batched one, instead of a full window
        per sequential call. Offline and streamed alike."""
        encoder = self.model.encoder
        batch = lengths.shape[0]
        lengths = lengths.cpu()
        available = lengths if available is None else available.cpu()
        out = like.new_zeros(batch, frames, encoder.output_size)
        starts = list(range(0, frames, self.chunk))
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
        for layer_index, layer in enumerate(encoder.layers):
            carried = None if state is None else state[layer_index]
            first = []  # each window's initial forward state; the chunks alone, in order
            at = 0
            for live, main in zip(rows, mains):
                index = live.to(like.device)
                sub = None if carried is None else _map_state(carried, lambda t: t[:, index])
                first.append(sub)
                chunk = x[at:at + len(live), :int(main.max())]
                _, s = self._layer(layer_index, chunk, main, _start_state(layer, sub, len(live), chunk))
                s = _map_state(s, lambda t: t[:1])
                if carried is None:
                    carried = _map_state(s, lambda t: t.new_zeros(1, batch, t.shape[-1]))
                carried = _put_state(carried, index, s)
                at += len(live)
            if first[0] is None:  # no state given: the first chunk starts from zeros
                first[0] = _map_state(carried, lambda t: t.new_zeros(1, len(rows[0]), t.shape[-1]))
            initial = _cat_states(first)
            x, _ = self._layer(layer_index, x, total, _start_state(layer, initial, x.shape[0], x))
            new_state.append(carried)
        at = 0
        for start, live, main in zip(spans, rows, mains):
            n = int(main.max())
            index = live.to(like.device)
            out[index, start:start + n] = x[at:at + len(live), :n]
            at += len(live)
        return out, new_state

    def _layer(self, k: int, x: torch.Tensor, lengths: torch.Tensor, state):
        """Recurrent layer k on padded rows x (N, W, I) of ``lengths`` (N,) from ``state`` -> (y
        (N, W, O), its final state): by :attr:`layers` where set, else the torch layer."""
        if self.layers is not None:
            return self.layers(k, x, lengths, state)
        return run_layer(self.model.encoder.layers[k], x, lengths, state, total_length=x.shape[1])

    def ready_frames(self, n: int) -> int:
        """Of n encoder input frames of a stream, how many have their whole window: complete chunks
        whose right context has arrived."""
        return max(0, (n - self.right_context) // self.chunk) * self.chunk

    # -- window normalisation -----------------------------------------------------------------------
    # Window k covers output frames [a, b) (a = k * chunk, b = a + chunk + right_context) and reads
    # raw input frames [0, s * b) for its statistics and [s * (a - m), s * b) for its front end
    # (s: subsampling, m: output frames of convolution context, so the slice keeps the stride phase).

    def _context(self) -> int:
        """m: how many output frames before a window's first one its front-end slice starts at, so
        that the kernels of the stride-2 convolutions (one per factor 2) read only real frames."""
        return {1: 0, 2: 1, 4: 2}[self.model.cfg.subsample]

    def _window_frontend(self, raw, mean, std, valid, start: int, stop: int) -> torch.Tensor:
        """Raw log-mel from input frame s * (start - m) on (b, n, F), the window's statistics
        (b, 1, F, float64) and each row's valid frames in ``raw`` (b,) -> front-end outputs [start, stop)."""
        m = self.model
        first = max(0, start - self._context())
        x = ((raw.double() - mean) / std).to(m.head.weight.dtype)
        mask = torch.arange(raw.shape[1], device=raw.device)[None, :, None] < valid.to(raw.device)[:, None, None]
        x = torch.where(mask, x, x.new_zeros(()))
        y, _ = m.frontend(x, valid.clamp(min=1).to(raw.device))
        return y[:, start - first:stop - first]

    def _normalised_windows(self, feats, lengths):
        s, batch = self.model.cfg.subsample, feats.shape[0]
        lengths_in = torch.as_tensor(lengths).cpu()
        out_lengths = self.model.frontend.output_lengths(lengths_in)
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

        like = feats.new_zeros(batch, 0, self.model.frontend.output_size)
        x, _ = self._windows(inputs, like, frames, out_lengths)
        return x, out_lengths.to(feats.device)

    # -- chunk by chunk -----------------------------------------------------------------------------

    def forward_chunk(self, feats: torch.Tensor, state: ChunkState | None = None,
                      final: bool = False) -> tuple[torch.Tensor, ChunkState]:
        """The next T feature frames of B streams (all T real, no padding): (B, T, F) -> CTC
        log-probabilities of the output frames they complete (B, T', V) and the new state. Any
        cutting of a stream into chunks (of any sizes, even 0) gives, concatenated, the outputs of
        :meth:`__call__` on the whole stream; a bidirectional model holds back its last frames
        until their look-ahead has arrived, or until a call with ``final=True`` (the stream's end)."""
        state = state or ChunkState()
        raw_start, sums, conv, pending = 0, None, None, None
        if self.normalise:
            x, rnn, pending, raw_start, sums = self._stream_normalised_windows(feats, state, final)
        else:
            y, conv = self._frontend_chunk(feats, state.conv)
            if self.chunk:
                x, rnn, pending = self._stream_windows(y, state.rnn, state.pending, final)
            else:
                x, rnn = self._recurrent_chunk(y, state.rnn)
        out = torch.log_softmax(self.model.head(x), dim=-1)
        return out, ChunkState(conv, rnn, pending, state.frames + feats.shape[1], state.outputs + out.shape[1],
                               raw_start, sums)

    def _frontend_chunk(self, x: torch.Tensor, cache: list | None):
        """The subsampling of the next frames of a stream: (B, T, F), cache -> (B, T', C), cache,
        with the outputs equal to the front end on the whole stream. The output j of a stride-2
        convolution reads its inputs 2j-2, 2j-1, 2j (zeros before the start), so ``cache`` holds per
        convolution its last two input frames (B, C_in, 2) and how many inputs it has seen (the
        stride phase)."""
        frontend = self.model.frontend
        x = x.transpose(1, 2)  # (B, F, T)
        new = []
        for k, conv in enumerate(frontend.convs):
            context, seen = cache[k] if cache else (x.new_zeros(x.shape[0], x.shape[1], 2), 0)
            buf = torch.cat([context, x], dim=2)  # input frames [seen - 2, seen + T)
            new.append((buf[:, :, -2:], seen + x.shape[2]))
            buf = buf[:, :, seen % 2:]  # first output: j = ceil(seen / 2), reading from frame 2j - 2
            if buf.shape[2] >= 3:
                x = torch.relu(conv(buf))
            else:
                x = x.new_zeros(x.shape[0], conv.out_channels, 0)
        return frontend.norm(x.transpose(1, 2)), new

    def _recurrent_chunk(self, x, state):
        """A unidirectional stack on the next frames (B, T, I), carrying each layer's state."""
        encoder = self.model.encoder
        if x.shape[1] == 0:
            return x.new_zeros(x.shape[0], 0, encoder.output_size), state
        new_state = []
        for k, layer in enumerate(encoder.layers):
            x, s = self._layer(k, x, torch.full((x.shape[0],), x.shape[1]), None if state is None else state[k])
            new_state.append(s)
        return x, new_state

    def _stream_windows(self, x, state, pending, final):
        """The latency-controlled stack on the next encoder inputs of a stream; ``pending``: those
        whose window is not complete yet (``final``: the stream ends, run them all)."""
        buf = x if pending is None else torch.cat([pending, x], 1)
        b, n = buf.shape[:2]
        ready = n if final else self.ready_frames(n)
        if not ready:
            return x.new_zeros(b, 0, self.model.encoder.output_size), state, buf
        y, state = self._windows(lambda index, start, stop: buf[index, start:stop], buf, ready,
                                 torch.full((b,), ready), state, available=torch.full((b,), n))
        return y, state, buf[:, ready:]

    def _stream_normalised_windows(self, feats, state: ChunkState, final: bool):
        """forward_chunk with window normalisation: raw frames buffered from input frame
        ``state.raw_start``, per-bin sums over input frames [0, state.sums[2])."""
        s, m = self.model.cfg.subsample, self._context()
        raw = feats if state.pending is None else torch.cat([state.pending, feats], 1)
        b, raw_start, a = raw.shape[0], state.raw_start, state.outputs
        seen = raw_start + raw.shape[1]
        have = -(-seen // s)  # output frames the input so far makes
        ready = have - a if final else self.ready_frames(seen // s - a)
        if ready <= 0:
            return feats.new_zeros(b, 0, self.model.encoder.output_size), state.rnn, raw, raw_start, state.sums
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

        y, rnn = self._windows(inputs, feats, ready, torch.full((b,), ready), state.rnn,
                               available=torch.full((b,), have - a))
        # the sums to the last window's statistics frames; raw frames from the next window's front end
        last = min(seen, s * min(have, a + (ready - 1) // self.chunk * self.chunk + self.chunk + self.right_context))
        sums = (sum1[:, last - counted:last - counted + 1], sum2[:, last - counted:last - counted + 1], last)
        keep = s * max(0, a + ready - m)
        return y, rnn, raw[:, keep - raw_start:], keep, sums


def _moments(sum1: torch.Tensor, sum2: torch.Tensor, n) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-bin sums of n frames and of their squares (float64) -> mean and std (population, floored
    as features.normalize: utterance floors it)."""
    mean = sum1 / n
    return mean, (sum2 / n - mean * mean).clamp(min=0).sqrt().clamp(min=STD_FLOOR)


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
