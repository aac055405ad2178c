"""lstm_asr.features: Kaldi-compatible log-mel filterbank, batching, streaming, normalisation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from lstm_asr.errors import ConfigError
from lstm_asr.features import (FeatureConfig, FilterBank, StreamingFbank, compute_fbank,
                               normalize, num_frames)

torch.set_num_threads(1)

# A real 16 kHz speech clip from CMU ARCTIC (redistributable; see tests/data/LICENSE.cmu_arctic).
ARCTIC = Path(__file__).parent / "data" / "arctic_a0001.wav"


def kaldi_fbank(wave: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Reference: kaldi-native-fbank with dither 0, fed the wave in Kaldi's int16 scale."""
    knf = pytest.importorskip("kaldi_native_fbank")
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = cfg.sample_rate
    opts.frame_opts.frame_length_ms = cfg.frame_length_ms
    opts.frame_opts.frame_shift_ms = cfg.frame_shift_ms
    opts.frame_opts.preemph_coeff = cfg.preemphasis
    # Our "hann" is Kaldi's symmetric "hanning" (period N-1); knf's own "hann" is periodic (period N).
    opts.frame_opts.window_type = {"hann": "hanning"}.get(cfg.window, cfg.window)
    opts.frame_opts.remove_dc_offset = cfg.remove_dc_offset
    opts.mel_opts.num_bins = cfg.n_mels
    opts.mel_opts.low_freq = cfg.low_freq
    opts.mel_opts.high_freq = cfg.high_freq
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(cfg.sample_rate, (wave * 32768).tolist())
    fbank.input_finished()
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


@pytest.mark.parametrize("cfg", [
    FeatureConfig(),
    FeatureConfig(window="hann", high_freq=-400.0, n_mels=40),
    FeatureConfig(window="hamming", remove_dc_offset=False, low_freq=60.0, high_freq=7000.0),
], ids=["default", "hann", "hamming"])
def test_matches_kaldi_native_fbank(speech, cfg):
    ref = kaldi_fbank(speech, cfg)
    ours = compute_fbank(speech, cfg).numpy()
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape == (num_frames(len(speech), cfg), cfg.n_mels)
    # Every frame and bin, no energy floor needed: the remaining difference (~3e-4 at most, in
    # low-frequency bins) is float32 FFT rounding on Kaldi's side.
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3)


def test_num_frames():
    cfg = FeatureConfig()
    assert (cfg.win_length, cfg.hop_length, cfg.n_fft) == (400, 160, 512)
    assert [num_frames(n, cfg) for n in (0, 399, 400, 559, 560, 16000)] == [0, 0, 1, 1, 2, 98]
    for n in (0, 399, 400, 561, 1234):
        assert compute_fbank(np.zeros(n, np.float32)).shape == (num_frames(n, cfg), 80)


def test_batch_equals_single_and_padding_is_zero(speech):
    cfg = FeatureConfig(normalize="none")
    a, b = speech[:16000], speech[20000:27001]
    wave = torch.zeros(2, len(a))
    wave[0], wave[1, :len(b)] = torch.from_numpy(a), torch.from_numpy(b)
    wave[1, len(b):] = 0.5  # garbage in the padding must not leak into any output
    lengths = torch.tensor([len(a), len(b)])
    for module in (FilterBank(cfg), FilterBank(FeatureConfig())):
        feats, flen = module(wave, lengths)
        assert feats.dtype == torch.float32 and flen.dtype == torch.int64
        assert flen.tolist() == [num_frames(len(a), cfg), num_frames(len(b), cfg)]
        assert feats.shape == (2, flen.max(), 80)
        assert torch.all(feats[1, flen[1]:] == 0)
        for i, x in enumerate((a, b)):
            single = compute_fbank(x)[None]
            if module.cfg.normalize != "none":
                single = normalize(single, flen[i:i + 1], module.cfg)
            torch.testing.assert_close(feats[i, :flen[i]], single[0], rtol=0, atol=1e-5)


def test_streaming_equals_whole(speech):
    rng = np.random.default_rng(0)
    stream, outputs, pos = StreamingFbank(), [], 0
    while pos < len(speech):
        step = int(rng.integers(1, 1200))
        out = stream.accept(speech[pos:pos + step])
        assert out.shape[1] == 80
        outputs.append(out)
        pos += step
    torch.testing.assert_close(torch.cat(outputs), compute_fbank(speech), rtol=0, atol=1e-4)


def test_utterance_normalisation(speech):
    cfg = FeatureConfig()
    wave = torch.from_numpy(speech)[None]
    lengths = torch.tensor([len(speech)])
    feats, flen = FilterBank(cfg)(wave, lengths)
    valid = feats[0, :flen[0]]
    torch.testing.assert_close(valid.mean(0), torch.zeros(80), rtol=0, atol=1e-4)
    torch.testing.assert_close(valid.std(0, unbiased=False), torch.ones(80), rtol=0, atol=1e-4)
    # 20 dB quieter only shifts every log-mel value by log(0.01): this clip's energies stay far
    # above the log floor (min raw log-mel ~5.4 vs log(eps) ~ -15.9), so CMVN removes it entirely.
    quiet, _ = FilterBank(cfg)(wave * 0.1, lengths)
    torch.testing.assert_close(quiet, feats, rtol=0, atol=1e-3)
    # padding frames of a batch stay zero after normalisation
    padded = torch.cat([wave, torch.zeros(1, 1000)], dim=1)
    feats2, _ = FilterBank(cfg)(padded.repeat(2, 1), torch.tensor([len(speech), 8000]))
    assert torch.all(feats2[1, num_frames(8000, cfg):] == 0)
    torch.testing.assert_close(feats2[0], feats[0], rtol=0, atol=1e-5)


def test_config_round_trip_and_unknown_keys():
    cfg = FeatureConfig(n_mels=40, window="hann", normalize="none", high_freq=-400.0)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    assert FeatureConfig.from_dict({}) == FeatureConfig()
    with pytest.raises(ConfigError, match="n_mel"):
        FeatureConfig.from_dict({"n_mel": 80})
    with pytest.raises(ConfigError):
        FeatureConfig.from_dict({"window": "blackman"})
