"""lstm_asr.augment (waveform and SpecAugment), lstm_asr.decoding (greedy CTC) and lstm_asr.metrics."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from lstm_asr.augment import (AugmentConfig, WaveAugmenter, add_noise, bandlimit, pad_silence,
                              spec_augment, speed_perturb)
from lstm_asr.decoding import GreedyDecoder, greedy_decode
from lstm_asr.errors import ConfigError
from lstm_asr.metrics import cer, edit_counts, sentence_accuracy, utterance_errors, wer

torch.set_num_threads(1)

ARCTIC = Path(__file__).parent / "data" / "arctic_a0001.wav"


def _db(x) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2))


def _dominant_freq(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / 16000)[np.argmax(spec)])


# ---------------------------------------------------------------- waveform augmentation

@pytest.mark.parametrize("snr", [0.0, 7.5, 20.0, 40.0])
@pytest.mark.parametrize("noise_len", [5000, 200000])  # shorter (tiled) and longer than the speech
def test_add_noise_snr(speech, snr, noise_len):
    noise = np.random.default_rng(1).standard_normal(noise_len).astype(np.float32) * 0.3
    out = add_noise(speech, noise, snr, np.random.default_rng(2))
    assert out.shape == speech.shape and out.dtype == np.float32
    added = out.astype(np.float64) - speech
    assert abs((_db(speech) - _db(added)) - snr) < 0.5


def test_add_noise_uses_a_random_stretch(speech):
    noise = np.random.default_rng(1).standard_normal(200000).astype(np.float32)
    a = add_noise(speech, noise, 10.0, np.random.default_rng(0))
    b = add_noise(speech, noise, 10.0, np.random.default_rng(0))
    c = add_noise(speech, noise, 10.0, np.random.default_rng(99))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturb_length_and_pitch(speech, factor):
    out = speed_perturb(speech, factor)
    assert out.dtype == np.float32
    assert abs(len(out) - len(speech) / factor) <= 2
    tone = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    assert _dominant_freq(speed_perturb(tone, factor)) == pytest.approx(440 * factor, abs=3)


def test_speed_perturb_identity(speech):
    assert np.array_equal(speed_perturb(speech, 1.0), speech)


def test_bandlimit_removes_high_band():
    t = np.arange(16000) / 16000
    x = (np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
    y = bandlimit(x)
    assert len(y) == len(x)
    spec = np.abs(np.fft.rfft(y[2000:-2000]))
    f = np.fft.rfftfreq(len(y) - 4000, 1 / 16000)
    assert spec[np.argmin(abs(f - 6000))] < 1e-2 * spec[np.argmin(abs(f - 1000))]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pad_silence(speech, seed):
    out = pad_silence(speech, np.random.default_rng(seed), 0.5)
    before, after = np.random.default_rng(seed).integers(0, 8001, size=2)  # what it drew
    assert len(out) == len(speech) + before + after > len(speech)
    assert np.array_equal(out[before:before + len(speech)], speech)  # original kept, untouched
    pads = np.concatenate([out[:before], out[before + len(speech):]])
    assert len(pads) and _db(speech) - _db(pads) > 45  # a faint floor (50-70 dB below)
    assert out.dtype == np.float32


def test_pad_silence_max(speech):
    for seed in range(5):
        assert len(pad_silence(speech, np.random.default_rng(seed), 0.1)) <= len(speech) + 2 * 1600


@pytest.fixture
def noise_file(tmp_path):
    p = tmp_path / "noise.wav"
    sf.write(str(p), np.random.default_rng(5).standard_normal(24000).astype(np.float32) * 0.1, 16000)
    return p


def test_wave_augmenter_deterministic(speech, noise_file):
    cfg = AugmentConfig(noise_files=[str(noise_file)], noise_prob=1.0, pad_prob=1.0, bandlimit_prob=0.5)
    aug = WaveAugmenter(cfg)
    assert len(aug.noises) == 1 and aug.noises[0].dtype == np.float32
    r1, r2 = np.random.default_rng(123), np.random.default_rng(123)
    outs1 = [aug(speech, r1) for _ in range(4)]
    outs2 = [aug(speech, r2) for _ in range(4)]
    for a, b in zip(outs1, outs2):
        assert a.dtype == np.float32 and np.array_equal(a, b)
        assert np.abs(a).max() <= 1.0
    assert len({len(a) for a in outs1}) > 1  # speed and padding vary between calls
    other = aug(speech, np.random.default_rng(124))
    assert not (len(other) == len(outs1[0]) and np.array_equal(other, outs1[0]))


def test_wave_augmenter_nothing_enabled_is_identity(speech):
    cfg = AugmentConfig(speeds=[], pad_prob=0.0, gain_db=[], noise_prob=0.0, bandlimit_prob=0.0)
    out = WaveAugmenter(cfg)(speech, np.random.default_rng(0))
    assert np.array_equal(out, speech)


def test_wave_augmenter_bad_noise_file(tmp_path):
    from lstm_asr.errors import AudioError
    with pytest.raises(AudioError, match="no such file"):
        WaveAugmenter(AugmentConfig(noise_files=[str(tmp_path / "missing.wav")]))


def test_augment_config_dict():
    cfg = AugmentConfig.from_dict({"noise_prob": 0.5, "freq_masks": 3})
    assert cfg.noise_prob == 0.5 and cfg.freq_masks == 3 and cfg.speeds == [0.9, 1.0, 1.1]
    assert AugmentConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="bogus, speeed"):
        AugmentConfig.from_dict({"speeed": [1.0], "bogus": 1})


# ---------------------------------------------------------------- SpecAugment

def test_spec_augment_masks_some_bins():
    feats = torch.randn(3, 200, 40) + 5.0  # no natural zeros
    lengths = torch.tensor([200, 150, 90])
    cfg = AugmentConfig(freq_masks=2, freq_mask_width=15, time_masks=2, time_mask_frac=0.1)
    out = spec_augment(feats, lengths, cfg, generator=torch.Generator().manual_seed(0))
    assert out.shape == feats.shape and out.dtype == feats.dtype
    zero = out == 0
    assert zero.any() and not zero.all()
    assert torch.equal(out[~zero], feats[~zero])  # everything else untouched
    # masks are whole frequency bands or whole frames
    for b in range(3):
        z = zero[b]
        cols, rows = z.all(dim=0), z.all(dim=1)
        assert torch.equal(z, cols[None, :] | rows[:, None])
        assert cols.sum() <= 2 * 15 and rows.sum() <= 2 * int(0.1 * lengths[b])
    assert not torch.equal(feats, out)  # input not modified in place ...
    assert not (feats == 0).any()


def test_spec_augment_time_masks_inside_length():
    feats = torch.ones(2, 100, 10)
    lengths = torch.tensor([100, 40])
    cfg = AugmentConfig(freq_masks=0, time_masks=4, time_mask_frac=0.25)
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        out = spec_augment(feats, lengths, cfg, generator=g)
        assert torch.all(out[1, 40:] == 1)  # padding frames are never chosen


def test_spec_augment_seeded_and_identity():
    feats = torch.randn(2, 50, 20)
    lengths = torch.tensor([50, 30])
    cfg = AugmentConfig()
    a = spec_augment(feats, lengths, cfg, generator=torch.Generator().manual_seed(3))
    b = spec_augment(feats, lengths, cfg, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    none = AugmentConfig(freq_masks=0, time_masks=0)
    out = spec_augment(feats, lengths, none)
    assert torch.equal(out, feats) and out is not feats


# ---------------------------------------------------------------- greedy CTC decoding

def _posteriors(ids, vocab=5) -> torch.Tensor:
    lp = torch.full((len(ids), vocab), -10.0)
    lp[torch.arange(len(ids)), torch.tensor(ids, dtype=torch.long)] = 0.0
    return lp.log_softmax(-1)


def test_greedy_decode_collapses_and_removes_blanks():
    a, b = 1, 2
    assert greedy_decode(_posteriors([a, a, 0, a, b, b])) == [a, a, b]
    assert greedy_decode(_posteriors([0, 0, 3, 3, 3, 0, 0, 3, 4, 0])) == [3, 3, 4]
    assert greedy_decode(_posteriors([0, 0, 0])) == []
    assert greedy_decode(torch.zeros(0, 5)) == []


def test_greedy_decode_other_blank():
    assert greedy_decode(_posteriors([4, 1, 1, 4, 1, 0, 0]), blank=4) == [1, 1, 0]


def test_greedy_decoder_frames():
    dec = GreedyDecoder()
    assert dec.accept(_posteriors([0, 1, 1, 0, 1, 2])) == [1, 1, 2]
    assert dec.ids == [1, 1, 2] and dec.frames == [1, 4, 5]


def test_greedy_decoder_chunked_equals_whole():
    gen = torch.Generator().manual_seed(0)
    runs = torch.randint(0, 6, (120,), generator=gen)
    ids = runs.repeat_interleave(torch.randint(1, 4, (120,), generator=gen))  # repeats across frames
    lp = (torch.randn(len(ids), 6, generator=gen) + 8 * torch.nn.functional.one_hot(ids, 6)).log_softmax(-1)
    whole = GreedyDecoder()
    whole.accept(lp)
    assert whole.ids == greedy_decode(lp)
    rng = np.random.default_rng(0)
    for _ in range(5):
        dec, added, t = GreedyDecoder(), [], 0
        while t < len(lp):
            n = int(rng.integers(0, 12))  # includes empty chunks
            added += dec.accept(lp[t:t + n])
            t += n
        assert dec.ids == whole.ids == added
        assert dec.frames == whole.frames


# ---------------------------------------------------------------- metrics

def test_wer_hand_computed():
    refs = ["the cat sat on the mat", "hello world"]
    hyps = ["the cat sit on mat", "hello big world"]
    # 1 substitution + 1 deletion, 1 insertion -> 3 / 8
    assert wer(refs, hyps) == pytest.approx(3 / 8)
    assert wer(["a b c"], ["a b c"]) == 0.0
    assert wer(["a b"], [""]) == 1.0  # all deleted
    assert wer(["a"], ["x y z"]) == 3.0
    assert wer(["a b"], ["a  b "]) == 0.0  # extra spaces are not words


def test_wer_empty_references():
    assert wer([""], [""]) == 0.0
    assert wer(["", " "], ["", ""]) == 0.0
    assert wer([""], ["something"]) == 1.0


def test_wer_counts_insertions_on_empty_reference():
    assert wer(["a b", ""], ["a b", "x y z"]) == pytest.approx(3 / 2)


def test_cer_hand_computed():
    assert cer(["abcd"], ["abxd"]) == pytest.approx(1 / 4)
    assert cer(["abc", "de"], ["ab", "dxe"]) == pytest.approx(2 / 5)
    assert cer(["kitten"], ["sitting"]) == pytest.approx(3 / 6)


def test_cer_ignores_spaces():
    assert cer(["ab cd"], ["abcd"]) == 0.0
    assert cer(["abcd"], ["a b  c d"]) == 0.0
    assert cer(["广州市房地产"], ["广州 市房产"]) == pytest.approx(1 / 6)
    assert cer(["中介协会"], ["中介协会"]) == 0.0


def test_cer_empty_references():
    assert cer([""], [""]) == 0.0
    assert cer([""], ["x"]) == 1.0
    assert cer(["ab", ""], ["ab", "xyz"]) == pytest.approx(3 / 2)


def test_sentence_accuracy():
    refs = ["a b", "c d", "e", "f g"]
    hyps = ["a b", "c  d ", "x", "f"]
    assert sentence_accuracy(refs, hyps) == pytest.approx(2 / 4)


@pytest.mark.parametrize("fn", [wer, cer, sentence_accuracy])
def test_an_empty_reference_set_is_an_error_not_a_perfect_score(fn):
    with pytest.raises(ValueError, match="no references"):
        fn([], [])


@pytest.mark.parametrize("fn", [wer, cer, sentence_accuracy])
def test_mismatched_lengths(fn):
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        fn(["a", "b"], ["a"])
    with pytest.raises(ValueError):
        fn([], ["a"])


def test_metrics_accept_iterables():
    refs = (r for r in ["a b", "c"])
    hyps = iter(["a x", "c"])
    assert wer(refs, hyps) == pytest.approx(1 / 3)


def test_edit_counts_and_utterance_errors():
    assert edit_counts([], []) == 0
    assert edit_counts(list("abc"), []) == 3
    assert edit_counts([], list("ab")) == 2
    assert edit_counts(list("kitten"), list("sitting")) == 3
    assert utterance_errors("the cat sat", "the bat sat down") == 2


def test_wer_and_cer_agree_with_jiwer_on_random_texts():
    import random

    import jiwer
    rnd = random.Random(0)
    words = "one two three four five six seven eight nine zero".split()
    refs = [" ".join(rnd.choices(words, k=rnd.randint(1, 8))) for _ in range(200)]
    hyps = [" ".join(w for w in r.split() if rnd.random() > 0.2) + (" " + rnd.choice(words) if rnd.random() < 0.3 else "")
            for r in refs]
    hyps = [h.strip() or rnd.choice(words) for h in hyps]
    assert wer(refs, hyps) == pytest.approx(jiwer.wer(refs, hyps), abs=1e-12)
    nospace = [r.replace(" ", "") for r in refs], [h.replace(" ", "") for h in hyps]
    assert cer(refs, hyps) == pytest.approx(jiwer.cer(*nospace), abs=1e-12)
