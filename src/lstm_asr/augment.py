"""Augmentation: speed perturbation, reverberation, additive real noise at a random SNR, silence
padding, gain, telephone band-limiting (waveform level, per utterance), vocal-tract-length
perturbation (VTLP: warp factors for the filter bank, per utterance) and SpecAugment (feature
level, per batch).

Waveform functions take and return (S,) float32 at 16 kHz and draw from a ``numpy`` Generator,
so a seeded run is reproducible.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .audio import SAMPLE_RATE, load_audio, resample
from .errors import ConfigError
from .validate import check_keys, checked, ints, reals


@dataclass
class AugmentConfig:
    speeds: list = checked([0.9, 1.0, 1.1], reals(0, 10, lo_open=True))  # Kaldi-style 3-way perturbation
    noise_files: list = field(default_factory=list)   # wav files of real noise
    noise_prob: float = checked(0.0, reals(0, 1))
    snr_db: list = checked([5.0, 30.0], reals())        # uniform range
    pad_prob: float = checked(0.5, reals(0, 1))         # add random silence (with a faint noise floor) before/after
    pad_max_s: float = checked(0.5, reals(0, 60))
    gain_db: list = checked([-20.0, 6.0], reals())
    bandlimit_prob: float = checked(0.0, reals(0, 1))   # resample through 8 kHz (telephone band)
    reverb_prob: float = checked(0.0, reals(0, 1))      # convolve with a synthetic room impulse response
    rt60: list = checked([0.15, 0.6], reals(0, 10))     # its reverberation time range (s)
    vtlp: list = checked([], reals())  # [low, high] filter-bank warp range, e.g. [0.9, 1.1]; [] = off
    freq_masks: int = checked(2, ints(0, 100))          # SpecAugment
    freq_mask_width: int = checked(15, ints(0, 1024))
    time_masks: int = checked(2, ints(0, 100))
    time_mask_frac: float = checked(0.05, reals(0, 1))

    @classmethod
    def from_dict(cls, d: dict) -> "AugmentConfig":
        cfg = cls(**check_keys(d, cls, "augment option"))
        if cfg.vtlp and (len(cfg.vtlp) != 2 or not 0.5 < cfg.vtlp[0] <= cfg.vtlp[1] < 2.0):
            raise ConfigError(f"augment.vtlp must be [low, high] with 0.5 < low <= high < 2, not {cfg.vtlp!r}")
        return cfg

    def to_dict(self) -> dict:
        return asdict(self)


def speed_perturb(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (tempo and pitch both change, as in Kaldi's recipes)."""
    if factor == 1.0:
        return wave
    return resample(wave, int(round(SAMPLE_RATE * factor)), SAMPLE_RATE)


def add_noise(wave: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Mix a random stretch of ``noise`` into ``wave`` at signal-to-noise ratio ``snr_db``."""
    if len(noise) < len(wave):
        noise = np.tile(noise, int(np.ceil(len(wave) / len(noise))))
    start = rng.integers(0, len(noise) - len(wave) + 1)
    seg = noise[start:start + len(wave)]
    p_sig = np.mean(wave.astype(np.float64) ** 2) + 1e-12
    p_noise = np.mean(seg.astype(np.float64) ** 2) + 1e-12
    scale = np.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10)))
    return (wave + scale * seg).astype(np.float32)


def pad_silence(wave: np.ndarray, rng: np.random.Generator, max_s: float) -> np.ndarray:
    """Random silence before and after, with a noise floor 50-70 dB below the speech."""
    before, after = rng.integers(0, int(max_s * SAMPLE_RATE) + 1, size=2)
    level = np.sqrt(np.mean(wave.astype(np.float64) ** 2) + 1e-12) * 10 ** (-rng.uniform(50, 70) / 20)
    floor = lambda n: (rng.standard_normal(n) * level).astype(np.float32)  # noqa: E731
    return np.concatenate([floor(before), wave, floor(after)])


def reverberate(wave: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a synthetic room impulse response: a direct path then exponentially decaying
    noise reaching -60 dB after ``rt60`` seconds; the level of the direct sound is kept."""
    n = max(1, int(rt60 * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    rir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * 0.3
    rir[0] = 1.0
    rir /= np.abs(rir).max()
    out = np.convolve(wave, rir)[: len(wave)]
    peak_in, peak_out = np.abs(wave).max() + 1e-9, np.abs(out).max() + 1e-9
    return (out * (peak_in / peak_out)).astype(np.float32)


def draw_warps(n: int, cfg: AugmentConfig, rng: np.random.Generator):
    """(n,) VTLP warp factors drawn uniformly from ``cfg.vtlp``, or None when VTLP is off."""
    if not cfg.vtlp:
        return None
    lo, hi = cfg.vtlp
    return torch.from_numpy(rng.uniform(lo, hi, size=n))


def bandlimit(wave: np.ndarray) -> np.ndarray:
    """Telephone band: down to 8 kHz and back."""
    return resample(resample(wave, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE)


class WaveAugmenter:
    """Callable (wave, rng) -> wave applying the waveform-level augmentations of a config."""

    def __init__(self, cfg: AugmentConfig):
        self.cfg = cfg
        self.noises = [load_audio(p) for p in cfg.noise_files]

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        c = self.cfg
        if c.speeds:
            wave = speed_perturb(wave, float(rng.choice(c.speeds)))
        if c.bandlimit_prob and rng.random() < c.bandlimit_prob:
            wave = bandlimit(wave)
        if c.reverb_prob and rng.random() < c.reverb_prob:
            wave = reverberate(wave, rng.uniform(*c.rt60), rng)
        if c.pad_prob and rng.random() < c.pad_prob:
            wave = pad_silence(wave, rng, c.pad_max_s)
        if self.noises and rng.random() < c.noise_prob:
            noise = self.noises[rng.integers(len(self.noises))]
            wave = add_noise(wave, noise, rng.uniform(*c.snr_db), rng)
        if c.gain_db:
            wave = wave * np.float32(10 ** (rng.uniform(*c.gain_db) / 20))
        return np.clip(wave, -1.0, 1.0).astype(np.float32)


def spec_augment(feats: torch.Tensor, lengths: torch.Tensor, cfg: AugmentConfig,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """SpecAugment (Park et al. 2019) without time warping: zero ``freq_masks`` bands of up to
    ``freq_mask_width`` bins and ``time_masks`` spans of up to ``time_mask_frac`` of each utterance.
    feats (B, T, F) normalised features -> masked copy."""
    feats = feats.clone()
    B, T, F = feats.shape
    rand = lambda *s: torch.rand(*s, generator=generator)  # noqa: E731
    for b in range(B):
        for _ in range(cfg.freq_masks):
            w = int(rand(1) * (cfg.freq_mask_width + 1))
            f0 = int(rand(1) * max(1, F - w))
            feats[b, :, f0:f0 + w] = 0
        L = int(lengths[b])
        for _ in range(cfg.time_masks):
            w = int(rand(1) * (int(cfg.time_mask_frac * L) + 1))
            t0 = int(rand(1) * max(1, L - w))
            feats[b, t0:t0 + w, :] = 0
    return feats
