"""Kaldi-compatible 80-bin log-mel filterbank features in PyTorch.

With ``noise_floor: 0`` the output equals ``kaldi-native-fbank`` (``dither=0``, ``snip_edges=True``,
``use_energy=False``, power spectrum, natural-log floor at float32 epsilon) fed the waveform scaled
by 32768, i.e. Kaldi's int16 convention. By default (``noise_floor: 1``) each bin's mel power has the
expected power of one least-significant bit of white noise added: a deterministic stand-in for
Kaldi's dither, so that digital silence (exact zeros) looks like the faintest real recording.
``level_floor_db`` raises that floor to follow the input's level (a fixed number of dB below its
mean power), so quiet detail is hidden alike at any recording level.
Everything is vectorised over the batch; :class:`StreamingFbank` produces the same frames chunk by
chunk.

Shapes: ``B`` batch, ``S`` samples, ``T`` frames, ``W`` window length, ``F`` mel bins.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .errors import ConfigError, check_keys

_WINDOWS = ("povey", "hann", "hamming")
_NORMALIZE = ("utterance", "global", "causal", "none")
ONLINE_NORMALIZE = ("causal", "none")  # computable frame by frame: a model using them can stream
_LOG_FLOOR = float(np.finfo(np.float32).eps)  # 1.1920929e-07, Kaldi's energy floor before log
_STD_FLOOR = 1e-5
_INT16_SCALE = 32768.0


@dataclass
class FeatureConfig:
    sample_rate: int = 16000
    n_mels: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    preemphasis: float = 0.97
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0 means offset from Nyquist (Kaldi convention)
    window: str = "povey"  # "povey" | "hann" | "hamming" (Kaldi's symmetric windows, see _window)
    remove_dc_offset: bool = True
    # "utterance": per-utterance mean/variance of each bin over the valid frames;
    # "global": the utterance's level (its mean log-mel over frames and bins) removed, then each bin
    #   standardised with the training set's statistics (global_mean/global_std): keeps a word's own
    #   spectrum, which per-utterance normalisation subtracts;
    # "causal": as "global", but the level removed from frame t is the mean log-mel of frames 0..t
    #   only, so it is computed frame by frame (streaming models; see StreamingFeatures) and is, like
    #   "global", unchanged by the input's gain;  "none": raw log-mel
    normalize: str = "utterance"
    global_mean: list | None = None  # (F,) set by training when normalize == "global"
    global_std: list | None = None   # (F,)
    # floor under each bin's mel power: the power that white noise of this rms (in int16 steps) is
    # expected to give there, added to the power (as dither would add it, but deterministic).
    # 1.0 = one least significant bit: far below any microphone's own noise, so recordings hardly
    # change, while digital silence (exact zeros) no longer reaches log(float eps) = -15.9, which
    # dragged the normalisation statistics of a whole utterance or window. 0 = Kaldi's epsilon only.
    noise_floor: float = 1.0
    # a floor that follows the input's level instead: this many dB below the mean mel power of
    # the utterance (normalize: utterance) or, so that it streams exactly, of frames 0..t (any
    # other normalisation), shaped as white noise, and never below the noise_floor. Quiet detail
    # more than this far below the speech (a microphone's hiss, a word's tail fading into digital
    # silence) then looks the same at any recording level. None: off.
    level_floor_db: float | None = None
    # with level_floor_db and a running level (any normalisation but "utterance"): the level of the
    # first frames, up to this many seconds, is their mean over all of them (a stream holds them
    # back until then), so an utterance this short gets the whole utterance's level, and a longer
    # one does not start from the level of its leading silence alone. 0: frames 0..t from the start.
    level_floor_warmup_s: float = 0.0

    def __post_init__(self) -> None:
        if self.window not in _WINDOWS:
            raise ConfigError(f"features.window must be one of {_WINDOWS}, got {self.window!r}")
        if self.normalize not in _NORMALIZE:
            raise ConfigError(f"features.normalize must be one of {_NORMALIZE}, got {self.normalize!r}")
        for name in ("global_mean", "global_std"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, list) or len(v) != self.n_mels):
                raise ConfigError(f"features.{name} must be a list of n_mels={self.n_mels} numbers")
        if self.sample_rate <= 0 or self.n_mels <= 0 or self.hop_length <= 0 or self.win_length <= 0:
            raise ConfigError("features: sample_rate, n_mels, frame_length_ms, frame_shift_ms must be > 0")
        nyquist = 0.5 * self.sample_rate
        high = self.high_freq if self.high_freq > 0 else nyquist + self.high_freq
        if not 0.0 <= self.low_freq < high <= nyquist:
            raise ConfigError(f"features: need 0 <= low_freq < high_freq <= {nyquist}, "
                              f"got low_freq={self.low_freq}, high_freq={high}")

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        """Build from a plain dict (e.g. a YAML section); unknown keys raise :class:`ConfigError`."""
        return cls(**check_keys(d, cls, "feature option"))

    @classmethod
    def from_saved(cls, d: dict) -> "FeatureConfig":
        """A saved model's front end (its config.json): as :meth:`from_dict`, except that a model
        saved before ``noise_floor`` existed (2026-12-02) was trained without it, so it gets 0."""
        return cls.from_dict(saved_features(d))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def win_length(self) -> int:
        """Frame length in samples (400 at 16 kHz / 25 ms)."""
        return int(self.sample_rate * 0.001 * self.frame_length_ms)

    @property
    def hop_length(self) -> int:
        """Frame shift in samples (160 at 16 kHz / 10 ms)."""
        return int(self.sample_rate * 0.001 * self.frame_shift_ms)

    @property
    def n_fft(self) -> int:
        """Next power of two >= win_length (512 for 400)."""
        return 1 << max(0, self.win_length - 1).bit_length()


def saved_features(d: dict) -> dict:
    """A saved model's ``features`` section with the values its training had for options added
    since (``noise_floor``: 0)."""
    return {"noise_floor": 0.0, **d} if isinstance(d, dict) else d


def num_frames(n_samples: int, cfg: FeatureConfig) -> int:
    """Kaldi ``snip_edges=True`` frame count: frames lying wholly inside ``n_samples``."""
    if n_samples < cfg.win_length:
        return 0
    return 1 + (n_samples - cfg.win_length) // cfg.hop_length


def _window(cfg: FeatureConfig) -> Tensor:
    """(W,) analysis window, Kaldi's symmetric definitions (cosine period N-1).

    "hann" is Kaldi's "hanning" (kaldi-native-fbank's own "hann" is the periodic variant, period N);
    "povey" is hann ** 0.85; "hamming" is 0.54 - 0.46 cos.
    """
    i = torch.arange(cfg.win_length, dtype=torch.float64)
    cos = torch.cos(2 * math.pi * i / (cfg.win_length - 1))
    if cfg.window == "hamming":
        w = 0.54 - 0.46 * cos
    else:
        w = 0.5 - 0.5 * cos
        if cfg.window == "povey":
            w = w.pow(0.85)
    return w.float()


def _mel_scale(f: Tensor) -> Tensor:
    return 1127.0 * torch.log1p(f / 700.0)


def _high_freq(cfg: FeatureConfig) -> float:
    return cfg.high_freq if cfg.high_freq > 0 else 0.5 * cfg.sample_rate + cfg.high_freq


def warp_frequency(f: Tensor, alpha: float, low: float, high: float) -> Tensor:
    """Vocal-tract-length warp of frequencies ``f`` (Hz) by ``alpha``, piecewise linear.

    Between ``low`` and a break point ``b = 0.85 * high * min(1, 1/alpha)`` frequencies are scaled
    by ``alpha`` (about ``low``); from ``b`` to ``high`` a second line joins ``alpha * b`` to
    ``high``, so the band's edges stay where they are (as Kaldi's VTLN warp). Outside it: unchanged.
    """
    if alpha == 1.0:
        return f
    b = 0.85 * high * min(1.0, 1.0 / alpha)
    wb = low + alpha * (b - low)
    mid = low + alpha * (f - low)
    top = wb + (f - b) * (high - wb) / (high - b)
    return torch.where(f < low, f, torch.where(f <= b, mid, torch.where(f <= high, top, f)))


def _mel_matrix(cfg: FeatureConfig, warp: float = 1.0) -> Tensor:
    """(n_fft // 2 + 1, F) triangular filters, as Kaldi's MelBanks.

    Triangles are evenly spaced in mel between low_freq and high_freq and evaluated at the FFT bin
    centre frequencies ``i * sr / n_fft`` for ``i < n_fft // 2``; the Nyquist bin gets zero weight.
    ``warp`` != 1 evaluates them at warped frequencies (:func:`warp_frequency`): VTLP.
    """
    high = _high_freq(cfg)
    lo, hi = _mel_scale(torch.tensor([cfg.low_freq, high], dtype=torch.float64))
    edges = lo + (hi - lo) / (cfg.n_mels + 1) * torch.arange(cfg.n_mels + 2, dtype=torch.float64)
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]  # (F,)
    freqs = torch.arange(cfg.n_fft // 2, dtype=torch.float64) * cfg.sample_rate / cfg.n_fft
    mel = _mel_scale(warp_frequency(freqs, warp, cfg.low_freq, high))
    mel = mel[:, None]  # (n_fft/2, 1)
    up = (mel - left) / (centre - left)
    down = (right - mel) / (right - centre)
    w = torch.where(mel <= centre, up, down)
    w = torch.where((mel > left) & (mel < right), w, torch.zeros(()))  # (n_fft/2, F)
    return torch.cat([w, w.new_zeros(1, cfg.n_mels)]).float()


class FilterBank(torch.nn.Module):
    """Batched log-mel filterbank, Kaldi-compatible (see module docstring)."""

    def __init__(self, cfg: FeatureConfig | None = None):
        super().__init__()
        self.cfg = cfg or FeatureConfig()
        self.register_buffer("window", _window(self.cfg), persistent=False)  # (W,)
        self.register_buffer("mel", _mel_matrix(self.cfg), persistent=False)  # (n_fft/2+1, F)
        self._warped: dict[float, Tensor] = {}  # VTLP filter banks by warp factor (0.01 steps)
        self._unit_noise: Tensor | None = None

    def forward(self, wave: Tensor, lengths: Tensor, warp: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(B, S) float waveform in [-1, 1], (B,) int64 sample lengths, optional (B,) VTLP warp
        factors -> (B, T, F) normalised log-mel (padding frames zero), (B,) int64 frame lengths."""
        feats, frame_lengths = self.raw(wave, lengths, warp)
        return normalize(feats, frame_lengths, self.cfg), frame_lengths

    def _power(self, frames: Tensor) -> Tensor:
        """(..., W) frames in int16 scale -> (..., n_fft/2+1) power spectrum (DC removal,
        pre-emphasis, window, as Kaldi)."""
        cfg = self.cfg
        if cfg.remove_dc_offset:
            frames = frames - frames.mean(-1, keepdim=True)
        if cfg.preemphasis != 0.0:
            prev = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
            frames = frames - cfg.preemphasis * prev
        return torch.fft.rfft(frames * self.window, n=cfg.n_fft).abs().pow(2)

    @property
    def warmup_frames(self) -> int:
        """The first frames, whose level floor follows their mean over all of them (a stream holds
        them back): ``level_floor_warmup_s`` in frames, 0 without a level floor."""
        if self.cfg.level_floor_db is None:
            return 0
        return int(round(self.cfg.level_floor_warmup_s * 1000 / self.cfg.frame_shift_ms))

    @property
    def unit_noise_power(self) -> Tensor:
        """(n_fft/2+1,) expected power spectrum of white noise of rms 1 (int16 step): the frame
        pipeline is linear, so it is the sum of the powers of its responses to each unit sample."""
        if self._unit_noise is None or self._unit_noise.device != self.window.device:
            basis = torch.eye(self.cfg.win_length, dtype=self.window.dtype, device=self.window.device)
            self._unit_noise = self._power(basis).sum(0)
        return self._unit_noise

    @property
    def noise_power(self) -> Tensor:
        """(n_fft/2+1,) expected power spectrum of white noise of rms ``cfg.noise_floor``."""
        return self.unit_noise_power * self.cfg.noise_floor ** 2

    def _mel_for(self, warp: Tensor | None, batch: int) -> Tensor:
        """(n_fft/2+1, F) shared bank, or (B, n_fft/2+1, F) one warped bank per utterance."""
        if warp is None:
            return self.mel
        mats = []
        for a in torch.as_tensor(warp).flatten().tolist():
            a = round(float(a), 2)
            if a not in self._warped:
                self._warped[a] = _mel_matrix(self.cfg, a)
            mats.append(self._warped[a])
        if len(mats) != batch:
            raise ValueError(f"warp has {len(mats)} factors for a batch of {batch}")
        return torch.stack(mats).to(self.mel.device)

    def raw(self, wave: Tensor, lengths: Tensor, warp: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Same as :meth:`forward` without normalisation: (B, T, F) log-mel, (B,) frame lengths."""
        feats, frame_lengths, _ = self.raw_carried(wave, lengths, warp)
        return feats, frame_lengths

    def raw_carried(self, wave: Tensor, lengths: Tensor, warp: Tensor | None = None,
                    carry: tuple[float, int] = (0.0, 0)) -> tuple[Tensor, Tensor, tuple[float, int]]:
        """:meth:`raw` of frames that follow ``carry[1]`` earlier ones whose powers summed to
        ``carry[0]`` (the level floor's running mean; what a stream carries, B = 1); also returns
        the carry after these frames."""
        cfg = self.cfg
        lengths = torch.as_tensor(lengths, dtype=torch.int64, device=wave.device)
        lengths = lengths.clamp_max(wave.shape[1])
        frame_lengths = torch.where(lengths >= cfg.win_length,
                                    (lengths - cfg.win_length) // cfg.hop_length + 1, 0)
        n_frames = int(frame_lengths.max()) if frame_lengths.numel() else 0
        if n_frames == 0:
            return self.window.new_zeros(wave.shape[0], 0, cfg.n_mels), frame_lengths, carry
        n_used = (n_frames - 1) * cfg.hop_length + cfg.win_length
        x = wave[:, :n_used].to(self.window.dtype) * _INT16_SCALE  # (B, S'), float32 by default
        power = self._power(x.unfold(-1, cfg.win_length, cfg.hop_length))  # (B, T, n_fft/2+1)
        mel = self._mel_for(warp, x.shape[0])
        mel_power = torch.matmul(power, mel)  # (B, T, F)
        valid = torch.arange(n_frames, device=wave.device) < frame_lengths[:, None]  # (B, T)
        if cfg.level_floor_db is not None:
            mel_power, carry = self._level_floored(mel_power, valid, mel, carry)
        elif cfg.noise_floor > 0:
            mel_power = mel_power + torch.matmul(self.noise_power, mel)[..., None, :]  # (B|1, 1, F)
        feats = mel_power.clamp_min(_LOG_FLOOR).log()  # (B, T, F)
        feats = torch.where(valid[..., None], feats, feats.new_zeros(()))
        return feats, frame_lengths, carry

    def _level_floored(self, mel_power: Tensor, valid: Tensor, mel: Tensor,
                       carry: tuple[float, int]) -> tuple[Tensor, tuple[float, int]]:
        """(B, T, F) mel power + the level floor (``FeatureConfig.level_floor_db``): white noise
        shaped, its total power that many dB below the mean total power of the utterance (or of
        frames 0..t, after ``carry``: float64 running sums, so chunks give the values of the
        whole), at least the noise floor's."""
        power = torch.where(valid, mel_power.double().sum(-1), 0.0)  # (B, T)
        total = power.cumsum(1) + carry[0]
        count = (carry[1] + valid.cumsum(1)).clamp_min(1)
        n = int(valid[0].sum()) if valid.shape[0] else 0
        new_carry = (float(total[0, n - 1]) if n else carry[0], carry[1] + n)
        # the first frames take the level over all of them: the warm-up's, or for per-utterance
        # normalisation all (the span its statistics have)
        span = total.shape[1] if self.cfg.normalize == "utterance" else self.warmup_frames - carry[1]
        if span > 0:
            last = (valid.sum(1, keepdim=True).clamp_max(span) - 1).clamp_min(0)  # (B, 1)
            at = torch.arange(total.shape[1], device=total.device)[None].expand_as(total).maximum(last)
            total, count = total.gather(1, at), count.gather(1, at)
        unit = torch.matmul(self.unit_noise_power, mel).double()  # (B|1, F) or (F,): rms 1 LSB
        level = (total / count * 10 ** (-self.cfg.level_floor_db / 10) / unit.sum(-1, keepdim=True)
                 ).clamp_min(self.cfg.noise_floor ** 2)  # (B, T) in units of the 1-LSB floor
        floor = level[..., None] * (unit[..., None, :] if unit.ndim == 2 else unit)
        return (mel_power.double() + floor).to(mel_power.dtype), new_carry


def normalize(feats: Tensor, lengths: Tensor, cfg: FeatureConfig) -> Tensor:
    """(B, T, F) features, (B,) frame lengths -> (B, T, F) normalised per ``cfg.normalize``.

    "utterance": subtract the per-utterance mean and divide by the (population) std of each bin over
    the valid frames, std floored at 1e-5.  "global": subtract the utterance's level (its mean over
    valid frames and all bins), then ``(x - global_mean) / global_std`` per bin (identity statistics
    until training has set them).  "causal": as "global" with the level of frame t taken over frames
    0..t only (:func:`causal_level`).  "none": unchanged.  Padding frames are (and stay) zero.
    """
    if cfg.normalize == "none":
        return feats
    lengths = torch.as_tensor(lengths, device=feats.device)
    mask = (torch.arange(feats.shape[1], device=feats.device) < lengths[:, None])[..., None]  # (B,T,1)
    if cfg.normalize == "causal":
        level, _, _ = causal_level(feats)
        return torch.where(mask, _global_stats_applied(feats - level, cfg), feats.new_zeros(()))
    count = lengths.clamp_min(1).to(feats.dtype)[:, None, None]  # (B, 1, 1)
    feats = torch.where(mask, feats, feats.new_zeros(()))
    mean = feats.sum(1, keepdim=True) / count  # (B, 1, F)
    if cfg.normalize == "global":
        x = feats - mean.mean(-1, keepdim=True)
        if cfg.global_mean is not None:
            x = (x - feats.new_tensor(cfg.global_mean)) / feats.new_tensor(cfg.global_std).clamp_min(_STD_FLOOR)
        return torch.where(mask, x, feats.new_zeros(()))
    centred = torch.where(mask, feats - mean, feats.new_zeros(()))
    std = (centred.pow(2).sum(1, keepdim=True) / count).sqrt().clamp_min(_STD_FLOOR)
    return centred / std


def causal_level(feats: Tensor, level_sum: float = 0.0, count: int = 0) -> tuple[Tensor, float, int]:
    """(B, T, F) raw log-mel -> (B, T, 1) the running level: at frame t the mean log-mel over bins
    and frames 0..t, preceded by ``count`` earlier frames whose per-frame levels sum to
    ``level_sum`` (what a stream carries; B = 1 then). Computed in float64, so a stream cut into
    chunks gets the values of the whole. Also returns the new ``level_sum`` and ``count``."""
    level = feats.double().mean(-1)  # (B, T)
    total = level.cumsum(1) + level_sum
    n = count + torch.arange(1, feats.shape[1] + 1, device=feats.device, dtype=torch.float64)
    new_sum = float(total[0, -1]) if feats.shape[1] else level_sum
    return (total / n).to(feats.dtype)[..., None], new_sum, count + feats.shape[1]


def _global_stats_applied(x: Tensor, cfg: FeatureConfig) -> Tensor:
    if cfg.global_mean is None:
        return x
    return (x - x.new_tensor(cfg.global_mean)) / x.new_tensor(cfg.global_std).clamp_min(_STD_FLOOR)


def global_stats(feats: list[Tensor]) -> tuple[list[float], list[float]]:
    """Raw log-mel of many utterances [(T, F)] -> per-bin mean and std after each utterance's level
    is removed: the statistics ``normalize: global`` uses."""
    x = torch.cat([f - f.mean() for f in feats if f.shape[0]]).double()
    return x.mean(0).float().tolist(), x.std(0).clamp_min(_STD_FLOOR).float().tolist()


def _as_float_tensor(wave) -> Tensor:
    wave = torch.as_tensor(np.asarray(wave) if not isinstance(wave, Tensor) else wave)
    if wave.ndim != 1:
        raise ValueError(f"expected a 1-D waveform, got shape {tuple(wave.shape)}")
    return wave.detach().to("cpu", torch.float32)


def compute_fbank(wave, cfg: FeatureConfig | None = None) -> Tensor:
    """One utterance: (S,) float waveform in [-1, 1] (np.ndarray or Tensor) -> (T, F) raw log-mel."""
    wave = _as_float_tensor(wave)
    feats, _ = FilterBank(cfg or FeatureConfig()).raw(wave[None], torch.tensor([wave.numel()]))
    return feats[0]


class StreamingFbank:
    """Feed samples chunk by chunk; returns the raw log-mel frames that became complete.

    With snip_edges framing each frame depends only on its own samples, so the concatenation of all
    :meth:`accept` outputs and then :meth:`finish` equals ``compute_fbank`` of the whole wave. (A
    level floor with a warm-up, ``level_floor_warmup_s``, holds the first frames back until the
    warm-up is complete or the stream ends: :meth:`finish`; :meth:`peek` gives them provisionally.)
    """

    def __init__(self, cfg: FeatureConfig | None = None):
        self.cfg = cfg or FeatureConfig()
        if self.cfg.level_floor_db is not None and self.cfg.normalize == "utterance":
            raise ConfigError("features.level_floor_db with normalize: utterance follows the whole "
                              "utterance's level, which a stream does not have yet")
        self._fbank = FilterBank(self.cfg)
        self._buffer = torch.zeros(0)  # samples not yet consumed by a completed frame's hop
        self._carry = (0.0, 0)  # the level floor's running sum of frame powers, frame count

    def accept(self, chunk) -> Tensor:
        """(n,) float32 samples -> (n_new, F) raw log-mel frames completed by this chunk."""
        self._buffer = torch.cat([self._buffer, _as_float_tensor(chunk)])
        return self._frames(hold=True, keep=False)

    def finish(self) -> Tensor:
        """The end of the stream: (n, F) the frames still held back for the warm-up (else none)."""
        return self._frames(hold=False, keep=False)

    def peek(self) -> Tensor:
        """(n, F) the frames held back for the warm-up, as if the stream ended now, without
        consuming them (later audio changes them); none once the warm-up is complete."""
        return self._frames(hold=False, keep=True)

    def _frames(self, hold: bool, keep: bool) -> Tensor:
        n, warmup = num_frames(self._buffer.numel(), self.cfg), self._fbank.warmup_frames
        if n == 0 or (hold and self._carry[1] + n < warmup) or (keep and self._carry[1] >= warmup):
            return torch.zeros(0, self.cfg.n_mels)
        feats, _, carry = self._fbank.raw_carried(self._buffer[None], torch.tensor([self._buffer.numel()]),
                                                  carry=self._carry)
        if not keep:
            self._buffer, self._carry = self._buffer[n * self.cfg.hop_length:], carry
        return feats[0]


def check_online(cfg: FeatureConfig) -> None:
    """ConfigError unless ``cfg``'s normalisation can be computed frame by frame (chunked use)."""
    if cfg.normalize not in ONLINE_NORMALIZE:
        raise ConfigError(
            f"features.normalize={cfg.normalize!r} needs the whole utterance (its mean over all "
            f"frames), so it cannot be computed chunk by chunk; streaming needs a model trained with "
            f"normalize: {' or '.join(ONLINE_NORMALIZE)} (or run the model on whole segments)")


class StreamingFeatures:
    """Waveform chunks -> normalised features, the online twin of :class:`FilterBank`.

    ``accept(chunk)`` takes (n,) float32 samples in [-1, 1] (any n) and returns the (n_new, F)
    normalised frames they completed; the concatenation of all outputs equals
    ``FilterBank(cfg)(whole)`` (within float rounding). Only normalisations in
    :data:`ONLINE_NORMALIZE` can be streamed: others raise :class:`ConfigError` here."""

    def __init__(self, cfg: FeatureConfig | None = None):
        self.cfg = cfg or FeatureConfig()
        check_online(self.cfg)
        self._fbank = StreamingFbank(self.cfg)
        self._level_sum, self._count = 0.0, 0

    @property
    def frames(self) -> int:
        """Frames produced so far."""
        return self._count

    def accept(self, chunk) -> Tensor:
        return self._normalised(self._fbank.accept(chunk))

    def finish(self) -> Tensor:
        """The end of the stream: the frames the front end still held back (see StreamingFbank)."""
        return self._normalised(self._fbank.finish())

    def peek(self) -> Tensor:
        """The frames the front end holds back, provisionally (see StreamingFbank.peek)."""
        return self._normalised(self._fbank.peek(), keep=True)

    def _normalised(self, raw: Tensor, keep: bool = False) -> Tensor:
        n = raw.shape[0]
        if self.cfg.normalize == "none":
            self._count += 0 if keep else n
            return raw
        level, level_sum, count = causal_level(raw[None], self._level_sum, self._count)
        if not keep:
            self._level_sum, self._count = level_sum, count
        return _global_stats_applied(raw - level[0], self.cfg)
