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
    opts.frame_opts.window_type = cfg.window
    opts.frame_opts.remove_dc_offset = cfg.remove_dc_offset
    opts.mel_opts.num_bins = cfg.n_mels
    opts.mel_opts.low_freq = cfg.low_freq
    opts.mel_opts.high_freq = cfg.high_freq
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(cfg.sample_rate, (wave * 32768).tolist())
    fbank.input_finished()
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


@pytest.mark.parametrize("cfg", [
    FeatureConfig(noise_floor=0.0),
    FeatureConfig(high_freq=-400.0, n_mels=40, noise_floor=0.0),
    FeatureConfig(remove_dc_offset=False, low_freq=60.0, high_freq=7000.0, noise_floor=0.0),
], ids=["default", "40 bins", "no dc removal"])
def test_matches_kaldi_native_fbank(speech, cfg):
    ref = kaldi_fbank(speech, cfg)
    ours = compute_fbank(speech, cfg).numpy()
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape == (num_frames(len(speech), cfg), cfg.n_mels)
    # Every frame and bin, no energy floor needed: the remaining difference (~3e-4 at most, in
    # low-frequency bins) is float32 FFT rounding on Kaldi's side.
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3)


def test_noise_floor_is_the_power_of_one_lsb_white_noise_added():
    on, off = FeatureConfig(), FeatureConfig(noise_floor=0.0)
    assert on.noise_floor == 1.0
    bank = FilterBank(on)
    floor = bank.noise_power @ bank.mel  # (F,) the floor's mel power
    noise = np.random.default_rng(0).standard_normal(16000 * 60).astype(np.float32) / 32768  # rms 1 LSB
    ratio = compute_fbank(noise, off).exp().mean(0) / floor
    assert 0.97 < float(ratio.median()) < 1.03 and 0.85 < float(ratio.min()) and float(ratio.max()) < 1.15
    # with the floor, the power is the signal's plus the floor's: exactly what Kaldi's gives, plus it
    for cfg in (on, FeatureConfig(high_freq=3900.0, noise_floor=2.5)):
        x = np.random.default_rng(1).standard_normal(8000).astype(np.float32) * 0.01
        plain = compute_fbank(x, FeatureConfig(**{**cfg.to_dict(), "noise_floor": 0.0})).double().exp()
        b = FilterBank(cfg)
        expect = (plain + (b.noise_power @ b.mel).double()).log()
        torch.testing.assert_close(compute_fbank(x, cfg).double(), expect, rtol=0, atol=1e-4)


def test_digital_silence_sits_at_the_floor_not_at_float_epsilon(speech):
    zeros = np.zeros(8000, np.float32)
    bank = FilterBank(FeatureConfig())
    assert torch.allclose(compute_fbank(zeros), (bank.noise_power @ bank.mel).log().expand(48, -1))
    assert float(compute_fbank(zeros, FeatureConfig(noise_floor=0.0)).max()) < -15  # log(float eps)
    # speech hardly moves: its loud frames by < 1e-3 (the floor is ~1 LSB of noise)
    on, off = compute_fbank(speech), compute_fbank(speech, FeatureConfig(noise_floor=0.0))
    loud = off > off.max() - 8
    assert loud.sum() > 1000 and float((on - off)[loud].abs().max()) < 1e-3
    # the point: a word padded with 0.5 s of exact zeros each side now normalises (per utterance)
    # as it does padded with real quiet (1-LSB noise); with the old floor it was 10x further off
    word = speech[4000:20000]
    quiet = np.random.default_rng(0).standard_normal(8000).astype(np.float32) / 32768
    gap = {}
    for name, cfg in (("floor", FeatureConfig()), ("epsilon", FeatureConfig(noise_floor=0.0))):
        def normalised(x, b=FilterBank(cfg)):
            return b(torch.from_numpy(x)[None], torch.tensor([x.size]))[0][0, 50:-50]  # the word's frames
        zeros = normalised(np.concatenate([np.zeros(8000, np.float32), word, np.zeros(8000, np.float32)]))
        gap[name] = float((zeros - normalised(np.concatenate([quiet, word, quiet]))).abs().mean())
    assert gap["floor"] < 0.05 and gap["epsilon"] > 5 * gap["floor"], gap


def test_noise_floor_is_checked():
    with pytest.raises(ConfigError, match="features.noise_floor"):
        FeatureConfig.from_dict({"noise_floor": -1})
    with pytest.raises(ConfigError, match="features.noise_floor"):
        FeatureConfig.from_dict({"noise_floor": "loud"})


LEVEL = FeatureConfig(level_floor_db=40.0, normalize="none")


def _raw(wave, warmup: int | None = None, cfg: FeatureConfig = LEVEL) -> torch.Tensor:
    """compute_fbank with FilterBank's ``warmup_frames``: None, the level floor follows the whole
    utterance's level; 0, the level of frames 0..t (a stream's); n, the mean of frames 0..n-1 first."""
    wave = torch.as_tensor(np.asarray(wave))
    return FilterBank(cfg, warmup).raw(wave[None], torch.tensor([len(wave)]))[0][0]


def test_level_floor_sits_below_the_mean_power_of_the_utterance_or_of_the_frames_so_far(speech):
    """features.level_floor_db: the floor's total power is that many dB below the mean total mel
    power (of the utterance, or of frames 0..t), spread over the bins as white noise would be, and
    never below the 1-LSB noise floor."""
    signal = compute_fbank(speech, FeatureConfig(noise_floor=0.0)).double().exp()  # (T, F)
    bank = FilterBank(LEVEL)
    lsb = (bank.unit_noise_power @ bank.mel).double()  # (F,) 1-LSB white noise
    frames = torch.arange(1, signal.shape[0] + 1)
    for warmup, mean in ((0, signal.sum(1).cumsum(0) / frames), (None, signal.sum(1).mean().expand(len(frames)))):
        level = (mean * 1e-4 / lsb.sum()).clamp_min(1.0)  # (T,) in units of the 1-LSB floor
        assert float(level.max()) > 10
        expect = (signal + level[:, None] * lsb).log()
        torch.testing.assert_close(_raw(speech, warmup).double(), expect, rtol=0, atol=1e-4)
        # digital silence (before any sound, or throughout) sits at the 1-LSB floor, as without it
        torch.testing.assert_close(_raw(np.zeros(4000, np.float32), warmup).double(), lsb.log().expand(23, -1))


def test_level_floor_makes_the_features_independent_of_the_recording_level(speech):
    """The point of it: the same speech 20 dB quieter gives the same log-mel shifted by the gain
    (so the same normalised features), where the fixed 1-LSB floor hides more of the quiet copy."""
    quiet = (speech * 0.1).astype(np.float32)
    def apart(warmup, cfg=LEVEL):
        return (_raw(quiet, warmup, cfg) - _raw(speech, warmup, cfg) - 2 * np.log(0.1)).abs()[25:].mean()
    assert float(apart(None)) < 0.02 and float(apart(0)) < 0.04  # from frame 25: after the
    assert float(apart(None, FeatureConfig())) > 0.15  # running level has met the speech


def test_level_floor_streams_exactly_and_batches_with_padding(speech):
    rng = np.random.default_rng(3)
    stream, outputs, pos = StreamingFbank(LEVEL), [], 0
    while pos < len(speech):
        step = int(rng.integers(1, 2000))
        outputs.append(stream.accept(speech[pos:pos + step]))
        pos += step
    torch.testing.assert_close(torch.cat(outputs), _raw(speech, 0), rtol=0, atol=1e-4)
    short = speech[:9000]
    wave = torch.zeros(2, len(speech))
    wave[0], wave[1, :len(short)], wave[1, len(short):] = torch.from_numpy(speech), torch.from_numpy(short), 0.5
    for warmup in (0, None, 150):
        feats, flen = FilterBank(LEVEL, warmup).raw(wave, torch.tensor([len(speech), len(short)]))
        torch.testing.assert_close(feats[1, :flen[1]], _raw(short, warmup), rtol=0, atol=1e-5)
        torch.testing.assert_close(feats[0], _raw(speech, warmup), rtol=0, atol=1e-5)
        assert float(feats[1, flen[1]:].abs().max()) == 0.0


def test_level_floor_is_checked_and_off_by_default():
    assert FeatureConfig().level_floor_db is None
    assert FeatureConfig.from_dict({"level_floor_db": None}).level_floor_db is None
    for bad in (0, -3, 500, "loud"):
        with pytest.raises(ConfigError, match="features.level_floor_db"):
            FeatureConfig.from_dict({"level_floor_db": bad})


def test_level_floor_warmup_gives_the_first_frames_their_mean_level(speech):
    """warmup_frames=150 (a model run with a 1.5 s look-ahead): frames 0..149 take the level over
    all of them; later frames the level of frames 0..t, as without it; an utterance no longer than
    the warm-up gets the whole utterance's level, as offline."""
    warm, running = _raw(speech, 150), _raw(speech, 0)
    torch.testing.assert_close(warm[150:], running[150:], rtol=0, atol=0)
    torch.testing.assert_close(warm[149], running[149], rtol=0, atol=0)  # frame 149's level: 0..149
    assert float((warm[:100] - running[:100]).abs().max()) > 0.5  # the running level starts low
    for n in (4000, 24160):  # 23 and 150 frames: at most the warm-up
        torch.testing.assert_close(_raw(speech[:n], 150), _raw(speech[:n]), rtol=0, atol=1e-5)


def test_level_floor_warmup_streams_exactly_holding_its_frames_back(speech):
    """A stream holds the warm-up's frames back until it is complete (a copy finished now gives
    them provisionally, as if the stream ended there) or until finish(); joined, the frames are
    those of the whole."""
    import copy
    rng = np.random.default_rng(5)
    for wave in (speech, speech[:12000]):  # longer and shorter than the warm-up
        stream, outputs, pos = StreamingFbank(LEVEL, 150), [], 0
        while pos < len(wave):
            step = int(rng.integers(1, 3000))
            out = stream.accept(wave[pos:pos + step])
            pos += step
            done = sum(len(o) for o in outputs)
            if done + len(out) < 150:  # the warm-up is not complete: nothing yet
                assert len(out) == 0 and done == 0
                torch.testing.assert_close(copy.copy(stream).finish(), _raw(wave[:pos], 150), rtol=0, atol=1e-4)
            outputs.append(out)
        outputs.append(stream.finish())
        assert len(stream.finish()) == 0
        torch.testing.assert_close(torch.cat(outputs), _raw(wave, 150), rtol=0, atol=1e-4)


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
    # Without the noise floor, 20 dB quieter only shifts every log-mel value by log(0.01): this
    # clip's energies stay far above log(eps) ~ -15.9, so CMVN removes it entirely.
    exact = FilterBank(FeatureConfig(noise_floor=0.0))
    torch.testing.assert_close(exact(wave * 0.1, lengths)[0], exact(wave, lengths)[0], rtol=0, atol=1e-3)
    # With it (1 LSB of noise), the quiet version's pauses come near the floor, as a real 20 dB
    # quieter recording's would in its own noise; its voiced frames still normalise as before.
    quiet, _ = FilterBank(cfg)(wave * 0.1, lengths)
    raw = compute_fbank(speech * 0.1)
    floor = FilterBank(cfg).noise_power @ FilterBank(cfg).mel
    voiced = raw.exp() > 100 * floor
    assert voiced.float().mean() > 0.3
    assert float((quiet[0] - feats[0])[voiced].abs().median()) < 0.05
    # padding frames of a batch stay zero after normalisation
    padded = torch.cat([wave, torch.zeros(1, 1000)], dim=1)
    feats2, _ = FilterBank(cfg)(padded.repeat(2, 1), torch.tensor([len(speech), 8000]))
    assert torch.all(feats2[1, num_frames(8000, cfg):] == 0)
    torch.testing.assert_close(feats2[0], feats[0], rtol=0, atol=1e-5)


def test_config_round_trip_and_unknown_keys():
    cfg = FeatureConfig(n_mels=40, normalize="none", high_freq=-400.0)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    assert FeatureConfig.from_dict({}) == FeatureConfig()
    with pytest.raises(ConfigError, match="n_mel"):
        FeatureConfig.from_dict({"n_mel": 80})
    with pytest.raises(ConfigError):
        FeatureConfig.from_dict({"window": "blackman"})


def test_only_the_window_models_use_is_offered():
    from lstm_asr.errors import ConfigError
    with pytest.raises(ConfigError, match="features.window must be one of \\('povey',\\), got 'hann'"):
        FeatureConfig(window="hann")
