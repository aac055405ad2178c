"""Kaldi-compatible 80-bin log-mel filterbank features in PyTorch.

With ``noise_floor: 0`` the output equals ``kaldi-native-fbank`` (``dither=0``, ``snip_edges=True``,
``use_energy=False``, power spectrum, natural-log floor at float32 epsilon) fed the waveform scaled
by 32768, i.e. Kaldi's int16 convention. By default (``noise_floor: 1``) each bin's mel power has the
expected power of one least-significant bit of white noise added: a deterministic stand-in for
Kaldi's dither, so that digital silence (exact zeros) looks like the faintest real recording.
``level_floor_db`` raises that floor to follow the input's level (a fixed number of dB below its
mean power), so quiet detail is hidden alike at any recording level.
Everything is vectorised over the batch; :class:`StreamingFbank` produces the same raw frames chunk
by chunk (normalisation for streaming is the model's own: :mod:`.chunking`).

Shapes: ``B`` batch, ``S`` samples, ``T`` frames, ``W`` window length, ``F`` mel bins.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from .errors import ConfigError
from .validate import LOOKAHEAD_RETIRED, RATE, check_keys, checked, ints, reals

_WINDOWS = ("povey",)  # Kaldi's default; hann and hamming went with no model using them (commit ca43440 has them)
_NORMALIZE = ("utterance", "global", "none")
_LOG_FLOOR = float(np.finfo(np.float32).eps)  # 1.1920929e-07, Kaldi's energy floor before log
STD_FLOOR = 1e-5  # the smallest std a normalisation divides by
_INT16_SCALE = 32768.0


@dataclass
class FeatureConfig:
    sample_rate: int = checked(16000, RATE)
    n_mels: int = checked(80, ints(1, 1024))
    frame_length_ms: float = checked(25.0, reals(0, 1000, lo_open=True))
    frame_shift_ms: float = checked(10.0, reals(0, 1000, lo_open=True))
    preemphasis: float = checked(0.97, reals(0, 1))
    low_freq: float = checked(20.0, reals(0))
    high_freq: float = checked(0.0, reals())  # <= 0 means offset from Nyquist (Kaldi convention)
    window: str = "povey"  # Kaldi's "povey" window (see _window), the only one any model uses
    remove_dc_offset: bool = True
    # "utterance": per-utterance mean/variance of each bin over the valid frames;
    # "global": the utterance's level (its mean log-mel over frames and bins) removed, then each bin
    #   standardised with the training set's statistics (global_mean/global_std): keeps a word's own
    #   spectrum, which per-utterance normalisation subtracts;  "none": raw log-mel
    normalize: str = "utterance"
    global_mean: list | None = checked(None, reals())  # (F,) set by training when normalize == "global"
    global_std: list | None = checked(None, reals(0, lo_open=True))   # (F,)
    # floor under each bin's mel power: the power that white noise of this rms (in int16 steps) is
    # expected to give there, added to the power (as dither would add it, but deterministic).
    # 1.0 = one least significant bit: far below any microphone's own noise, so recordings hardly
    # change, while digital silence (exact zeros) no longer reaches log(float eps) = -15.9, which
    # dragged the normalisation statistics of a whole utterance or window. 0 = Kaldi's epsilon only.
    noise_floor: float = checked(1.0, reals(0, 1000))
    # a floor that follows the input's level instead: this many dB below the mean mel power of
    # the utterance (run with a look-ahead: of the first look-ahead's frames, then of frames 0..t,
    # see FilterBank's warmup_frames), shaped as white noise, and never below the noise_floor.
    # Quiet detail more than this far below the speech (a microphone's hiss, a word's tail fading
    # into digital silence) then looks the same at any recording level. None: off.
    level_floor_db: float | None = checked(None, reals(0, 200, lo_open=True))

    def __post_init__(self) -> None:
        if self.window not in _WINDOWS:
            raise ConfigError(f"features.window must be one of {_WINDOWS}, got {self.window!r}")
        if self.normalize not in _NORMALIZE:
            raise ConfigError(f"features.normalize must be one of {_NORMALIZE}, got {self.normalize!r}")
        for name in ("global_mean", "global_std"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, list) or len(v) != self.n_mels):
                raise ConfigError(f"features.{name} must be a list of n_mels={self.n_mels} numbers")
        if self.hop_length <= 0 or self.win_length <= 0:
            raise ConfigError("features: frame_length_ms and frame_shift_ms must each span at least one sample")
        nyquist = 0.5 * self.sample_rate
        high = self.high_freq if self.high_freq > 0 else nyquist + self.high_freq
        if not 0.0 <= self.low_freq < high <= nyquist:
            raise ConfigError(f"features: need 0 <= low_freq < high_freq <= {nyquist}, "
                              f"got low_freq={self.low_freq}, high_freq={high}")

    # options of earlier configs (validate.drop_retired)
    RETIRED: ClassVar[dict] = {"level_floor_warmup_s": (0.0, LOOKAHEAD_RETIRED)}

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        """Build from a plain dict (e.g. a YAML section); unknown keys raise :class:`ConfigError`."""
        return cls(**check_keys(d, cls, "feature option"))

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


def num_frames(n_samples: int, cfg: FeatureConfig) -> int:
    """Kaldi ``snip_edges=True`` frame count: frames lying wholly inside ``n_samples``."""
    if n_samples < cfg.win_length:
        return 0
    return 1 + (n_samples - cfg.win_length) // cfg.hop_length


def _window(cfg: FeatureConfig) -> Tensor:
    """(W,) analysis window: Kaldi's "povey", its symmetric hann window (cosine period N-1) raised
    to the power 0.85."""
    i = torch.arange(cfg.win_length, dtype=torch.float64)
    return (0.5 - 0.5 * torch.cos(2 * math.pi * i / (cfg.win_length - 1))).pow(0.85).float()


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
    """Batched log-mel filterbank, Kaldi-compatible (see module docstring).

    ``warmup_frames`` (with a level floor): None, the floor follows the whole utterance's level;
    n, the first n frames take their mean level and later frames the level of frames 0..t, so that
    a stream computes it as it goes (holding the first n frames back): what a model run with a
    look-ahead of n frames uses (:mod:`.chunking`)."""

    def __init__(self, cfg: FeatureConfig | None = None, warmup_frames: int | None = None):
        super().__init__()
        self.cfg = cfg or FeatureConfig()
        self.warmup_frames = warmup_frames
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
        spec = torch.fft.rfft(frames * self.window, n=cfg.n_fft)
        return spec.real.square() + spec.imag.square()  # |X|^2 without abs's square root

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
        # the first frames take the level over all of them: the warm-up's, or all the utterance's
        span = total.shape[1] if self.warmup_frames is None else self.warmup_frames - carry[1]
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
    until training has set them).  "none": unchanged.  Padding frames are (and stay) zero.
    """
    if cfg.normalize == "none":
        return feats
    lengths = torch.as_tensor(lengths, device=feats.device)
    mask = (torch.arange(feats.shape[1], device=feats.device) < lengths[:, None])[..., None]  # (B,T,1)
    count = lengths.clamp_min(1).to(feats.dtype)[:, None, None]  # (B, 1, 1)
    feats = torch.where(mask, feats, feats.new_zeros(()))
    mean = feats.sum(1, keepdim=True) / count  # (B, 1, F)
    if cfg.normalize == "global":
        x = feats - mean.mean(-1, keepdim=True)
        if cfg.global_mean is not None:
            x = (x - feats.new_tensor(cfg.global_mean)) / feats.new_tensor(cfg.global_std).clamp_min(STD_FLOOR)
        return torch.where(mask, x, feats.new_zeros(()))
    centred = torch.where(mask, feats - mean, feats.new_zeros(()))
    std = (centred.pow(2).sum(1, keepdim=True) / count).sqrt().clamp_min(STD_FLOOR)
    return centred / std


def global_stats(feats: list[Tensor]) -> tuple[list[float], list[float]]:
    """Raw log-mel of many utterances [(T, F)] -> per-bin mean and std after each utterance's level
    is removed: the statistics ``normalize: global`` uses."""
    x = torch.cat([f - f.mean() for f in feats if f.shape[0]]).double()
    return x.mean(0).float().tolist(), x.std(0).clamp_min(STD_FLOOR).float().tolist()


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
    :meth:`accept` outputs and then :meth:`finish` equals ``FilterBank(cfg, warmup_frames).raw`` of
    the whole wave. A level floor holds the first ``warmup_frames`` frames back until they are all
    there (their level is their mean) or the stream ends (:meth:`finish`); a copy of the stream
    (``copy.copy``) finished now gives them provisionally, as if the stream ended there.
    """

    def __init__(self, cfg: FeatureConfig | None = None, warmup_frames: int = 0):
        self.cfg = cfg or FeatureConfig()
        self._fbank = FilterBank(self.cfg, warmup_frames)
        self._warmup = warmup_frames if self.cfg.level_floor_db is not None else 0
        self._buffer = torch.zeros(0)  # samples not yet consumed by a completed frame's hop
        self._carry = (0.0, 0)  # the level floor's running sum of frame powers, frame count

    def accept(self, chunk) -> Tensor:
        """(n,) float32 samples -> (n_new, F) raw log-mel frames completed by this chunk."""
        self._buffer = torch.cat([self._buffer, _as_float_tensor(chunk)])
        return self._frames(hold=True)

    def finish(self) -> Tensor:
        """The end of the stream: (n, F) the frames still held back for the warm-up (else none)."""
        return self._frames(hold=False)

    def _frames(self, hold: bool) -> Tensor:
        n = num_frames(self._buffer.numel(), self.cfg)
        if n == 0 or (hold and self._carry[1] + n < self._warmup):
            return torch.zeros(0, self.cfg.n_mels)
        feats, _, self._carry = self._fbank.raw_carried(self._buffer[None], torch.tensor([self._buffer.numel()]),
                                                        carry=self._carry)
        self._buffer = self._buffer[n * self.cfg.hop_length:]
        return feats[0]
