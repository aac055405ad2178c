"""Kaldi-compatible 80-bin log-mel filterbank features in PyTorch.

The output equals ``kaldi-native-fbank`` (``dither=0``, ``snip_edges=True``, ``use_energy=False``,
power spectrum, natural-log floor at float32 epsilon) fed the waveform scaled by 32768, i.e. Kaldi's
int16 convention.  Everything is vectorised over the batch; :class:`StreamingFbank` produces the same
frames chunk by chunk.

Shapes: ``B`` batch, ``S`` samples, ``T`` frames, ``W`` window length, ``F`` mel bins.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .errors import ConfigError

_WINDOWS = ("povey", "hann", "hamming")
_NORMALIZE = ("utterance", "none")
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
    normalize: str = "utterance"  # "utterance" (per-utterance CMVN over valid frames) | "none"

    def __post_init__(self) -> None:
        if self.window not in _WINDOWS:
            raise ConfigError(f"features.window must be one of {_WINDOWS}, got {self.window!r}")
        if self.normalize not in _NORMALIZE:
            raise ConfigError(f"features.normalize must be one of {_NORMALIZE}, got {self.normalize!r}")
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
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown feature option(s): {', '.join(unknown)}")
        return cls(**d)

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


def _mel_matrix(cfg: FeatureConfig) -> Tensor:
    """(n_fft // 2 + 1, F) triangular filters, as Kaldi's MelBanks.

    Triangles are evenly spaced in mel between low_freq and high_freq and evaluated at the FFT bin
    centre frequencies ``i * sr / n_fft`` for ``i < n_fft // 2``; the Nyquist bin gets zero weight.
    """
    nyquist = 0.5 * cfg.sample_rate
    high = cfg.high_freq if cfg.high_freq > 0 else nyquist + cfg.high_freq
    lo, hi = _mel_scale(torch.tensor([cfg.low_freq, high], dtype=torch.float64))
    edges = lo + (hi - lo) / (cfg.n_mels + 1) * torch.arange(cfg.n_mels + 2, dtype=torch.float64)
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]  # (F,)
    mel = _mel_scale(torch.arange(cfg.n_fft // 2, dtype=torch.float64) * cfg.sample_rate / cfg.n_fft)
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

    def forward(self, wave: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, S) float waveform in [-1, 1], (B,) int64 sample lengths
        -> (B, T, F) normalised log-mel (padding frames zero), (B,) int64 frame lengths."""
        feats, frame_lengths = self.raw(wave, lengths)
        return normalize(feats, frame_lengths, self.cfg), frame_lengths

    def raw(self, wave: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Same as :meth:`forward` without normalisation: (B, T, F) log-mel, (B,) frame lengths."""
        cfg = self.cfg
        lengths = torch.as_tensor(lengths, dtype=torch.int64, device=wave.device)
        lengths = lengths.clamp_max(wave.shape[1])
        frame_lengths = torch.where(lengths >= cfg.win_length,
                                    (lengths - cfg.win_length) // cfg.hop_length + 1, 0)
        n_frames = int(frame_lengths.max()) if frame_lengths.numel() else 0
        if n_frames == 0:
            return self.window.new_zeros(wave.shape[0], 0, cfg.n_mels), frame_lengths
        n_used = (n_frames - 1) * cfg.hop_length + cfg.win_length
        x = wave[:, :n_used].to(self.window.dtype) * _INT16_SCALE  # (B, S'), float32 by default
        frames = x.unfold(-1, cfg.win_length, cfg.hop_length)  # (B, T, W)
        if cfg.remove_dc_offset:
            frames = frames - frames.mean(-1, keepdim=True)
        if cfg.preemphasis != 0.0:
            prev = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
            frames = frames - cfg.preemphasis * prev
        frames = frames * self.window
        power = torch.fft.rfft(frames, n=cfg.n_fft).abs().pow(2)  # (B, T, n_fft/2+1)
        feats = torch.matmul(power, self.mel).clamp_min(_LOG_FLOOR).log()  # (B, T, F)
        valid = torch.arange(n_frames, device=wave.device) < frame_lengths[:, None]  # (B, T)
        feats = torch.where(valid[..., None], feats, feats.new_zeros(()))
        return feats, frame_lengths


def normalize(feats: Tensor, lengths: Tensor, cfg: FeatureConfig) -> Tensor:
    """(B, T, F) features, (B,) frame lengths -> (B, T, F) normalised per ``cfg.normalize``.

    "utterance": subtract the per-utterance mean and divide by the (population) std of each bin over
    the valid frames, std floored at 1e-5; padding frames are (and stay) zero.  "none": unchanged.
    """
    if cfg.normalize == "none":
        return feats
    lengths = torch.as_tensor(lengths, device=feats.device)
    mask = (torch.arange(feats.shape[1], device=feats.device) < lengths[:, None])[..., None]  # (B,T,1)
    count = lengths.clamp_min(1).to(feats.dtype)[:, None, None]  # (B, 1, 1)
    feats = torch.where(mask, feats, feats.new_zeros(()))
    mean = feats.sum(1, keepdim=True) / count  # (B, 1, F)
    centred = torch.where(mask, feats - mean, feats.new_zeros(()))
    std = (centred.pow(2).sum(1, keepdim=True) / count).sqrt().clamp_min(_STD_FLOOR)
    return centred / std


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
    :meth:`accept` outputs equals ``compute_fbank`` of the whole wave.
    """

    def __init__(self, cfg: FeatureConfig | None = None):
        self.cfg = cfg or FeatureConfig()
        self._fbank = FilterBank(self.cfg)
        self._buffer = torch.zeros(0)  # samples not yet consumed by a completed frame's hop

    def accept(self, chunk) -> Tensor:
        """(n,) float32 samples -> (n_new, F) raw log-mel frames completed by this chunk."""
        self._buffer = torch.cat([self._buffer, _as_float_tensor(chunk)])
        n = num_frames(self._buffer.numel(), self.cfg)
        if n == 0:
            return torch.zeros(0, self.cfg.n_mels)
        feats, _ = self._fbank.raw(self._buffer[None], torch.tensor([self._buffer.numel()]))
        self._buffer = self._buffer[n * self.cfg.hop_length:]
        return feats[0]
