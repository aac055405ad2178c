"""Unit priors: estimated from training audio into a model's config.json (`lstm-asr priors`), and
every decoder reading log p(unit|x) - a log p(unit) with --prior-scale a."""
import json
import math
import shutil

import numpy as np
import pytest
import torch

from conftest import DATA, SAMPLES, run_cli
from lstm_asr import DecodeOptions, load_model
from lstm_asr.checkpoint import resolve_model
from lstm_asr.decoding import BeamSearchDecoder, GreedyDecoder, WordChoiceDecoder, prior_bias
from lstm_asr.errors import ConfigError
from lstm_asr.options import from_flags
from lstm_asr.text import Vocabulary

VOCAB = Vocabulary(["<blank>", " ", "a", "b", "c"])


def test_the_bias_is_minus_the_scale_times_the_log_priors_and_every_decoder_adds_it():
    assert prior_bias([-0.1, -3.0], 0.0) is None
    assert prior_bias([-0.1, -3.0], 0.5).tolist() == [0.05, 1.5]
    rng = np.random.default_rng(0)
    lp = torch.from_numpy(rng.normal(size=(12, 5)) * 2).log_softmax(-1)
    log_priors = np.log(np.array([0.9, 0.04, 0.03, 0.02, 0.01]))
    bias = prior_bias(log_priors, 0.7)
    shifted = lp + torch.from_numpy(bias)
    g, ref = GreedyDecoder(0, unit_bias=bias), GreedyDecoder(0)
    g.accept(lp)
    ref.accept(shifted)
    assert g.ids == ref.ids and g.frames == ref.frames
    b = BeamSearchDecoder(VOCAB, beam_size=16, unit_bias=bias, skip_blank=None)
    b.accept(lp)
    ref = BeamSearchDecoder(VOCAB, beam_size=16, skip_blank=None)
    ref.accept(shifted)
    assert [(h.text, round(h.score, 9)) for h in b.finalize(5)] == [(h.text, round(h.score, 9)) for h in ref.finalize(5)]
    w = WordChoiceDecoder(VOCAB, ["ab", "c", "cab"], unit_bias=bias)
    w.accept(lp)
    ref = WordChoiceDecoder(VOCAB, ["ab", "c", "cab"])
    ref.accept(shifted)
    assert [(h.text, round(h.score, 9)) for h in w.finalize(3)] == [(h.text, round(h.score, 9)) for h in ref.finalize(3)]


def test_a_rare_unit_wins_its_frame_once_divided_by_its_prior():
    lp = torch.log(torch.tensor([[0.5, 0.01, 0.29, 0.2, 0.0]]) + 1e-9)
    log_priors = np.log([0.9, 0.02, 0.06, 0.01, 0.01])  # "b" is rare
    plain, scaled = GreedyDecoder(0), GreedyDecoder(0, unit_bias=prior_bias(log_priors, 1.0))
    plain.accept(lp)
    scaled.accept(lp)
    assert plain.ids == [] and scaled.ids == [VOCAB.index["b"]]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A copy of the bundled digits model, its priors estimated from the shipped FSDD clips."""
    out = tmp_path_factory.mktemp("m") / "digits"
    shutil.copytree(resolve_model("digits"), out)
    before = json.loads((out / "config.json").read_text())
    rc, _, err = run_cli("priors", "-m", out, "--manifest", DATA / "fsdd" / "manifest.jsonl", "--clips", "40",
                         "--scale", "0.3", "--no-progress")
    assert rc == 0, err
    assert "unit priors from 40 clips" in err and "prior scale 0.3" in err
    return out, before


def test_priors_command_writes_a_distribution_into_the_config_and_nothing_else(model_dir):
    out, before = model_dir
    after = json.loads((out / "config.json").read_text())
    log_priors = after["decoding"].pop("log_priors")
    assert after["decoding"].pop("prior_scale") == 0.3
    assert after == before  # every other field as it was
    rec = load_model(out)
    assert len(log_priors) == len(rec.vocab)
    assert math.fsum(math.exp(v) for v in log_priors) == pytest.approx(1.0, abs=1e-3)
    assert int(np.argmax(log_priors)) == rec.vocab.blank  # CTC: mostly blank
    assert rec.default_options.prior_scale == 0.3 and rec.default_options.log_priors == log_priors


def test_decoding_with_the_prior_scale_from_the_config_or_the_flag(model_dir):
    out, _ = model_dir
    clip = SAMPLES / "7_jackson_2.wav"
    rc, stdout, err = run_cli("transcribe", "-m", out, clip)
    assert rc == 0 and stdout.strip() == "seven", err
    for scale in ("0", "1"):
        rc, stdout, err = run_cli("transcribe", "-m", out, "--prior-scale", scale, "--greedy", clip)
        assert rc == 0 and stdout.strip(), err
    rec = load_model(out)
    flags = from_flags(rec.default_options, greedy=True)  # a plain greedy decoder keeps the model's priors
    assert flags.log_priors == rec.default_options.log_priors and flags.prior_scale == 0.0


def test_prior_errors_are_one_line(model_dir, tmp_path):
    out, _ = model_dir
    clip = SAMPLES / "7_jackson_2.wav"
    rc, _, err = run_cli("transcribe", "-m", "digits", "--prior-scale", "0.2", clip)
    assert rc == 1 and err.strip().startswith("error: a prior scale needs the model's unit priors") and "lstm-asr priors" in err
    rc, _, err = run_cli("transcribe", "-m", out, "--prior-scale", "2", clip)
    assert rc == 2 and "--prior-scale" in err and "Traceback" not in err
    rec = load_model(out)
    with pytest.raises(ConfigError, match="log_priors has 2 values"):
        rec.set_decoding(DecodeOptions(log_priors=[-0.1, -2.0]))
    rc, _, err = run_cli("priors", "-m", "digits", "--manifest", DATA / "fsdd" / "manifest.jsonl")
    assert rc == 2 and "give a model directory" in err
    rc, _, err = run_cli("priors", "-m", out, "--manifest", tmp_path / "none.jsonl")
    assert rc == 1 and "none.jsonl" in err and len(err.strip().splitlines()) == 1
