"""Speaker robustness: VTLP (warped filter banks), global feature statistics, reverberation,
devices, fine-tuning from a model (train.init) and `lstm-asr adapt`."""
import json

import numpy as np
import pytest
import torch

from conftest import DATA, run_cli
from lstm_asr.augment import AugmentConfig, draw_warps, reverberate
from lstm_asr.data import write_manifest
from lstm_asr.errors import ConfigError
from lstm_asr.features import FeatureConfig, FilterBank, _mel_matrix, global_stats, normalize, warp_frequency
from lstm_asr.model import resolve_device
from lstm_asr.train import RunConfig, train

FSDD = DATA / "fsdd"


def _rows(pattern=""):
    rows = [json.loads(line) for line in (FSDD / "manifest.jsonl").read_text().splitlines()]
    return [{**r, "audio": str(FSDD / r["audio"])} for r in rows if pattern in r["audio"]]


# -- VTLP ---------------------------------------------------------------------------------------
def test_warp_is_identity_at_one_and_keeps_the_band_edges():
    f = torch.linspace(0, 8000, 801, dtype=torch.float64)
    assert torch.equal(warp_frequency(f, 1.0, 20.0, 3900.0), f)
    for alpha in (0.9, 1.1):
        w = warp_frequency(f, alpha, 20.0, 3900.0)
        assert torch.all(w[1:] >= w[:-1])  # monotonic: filters keep their order
        edges = warp_frequency(torch.tensor([20.0, 3900.0], dtype=torch.float64), alpha, 20.0, 3900.0)
        assert torch.allclose(edges, torch.tensor([20.0, 3900.0], dtype=torch.float64))
        mid = warp_frequency(torch.tensor([1020.0], dtype=torch.float64), alpha, 20.0, 3900.0)
        assert float(mid) == pytest.approx(20 + alpha * 1000)


def test_vtlp_moves_formants_the_way_the_factor_says(speech):
    cfg = FeatureConfig(n_mels=40)
    fb = FilterBank(cfg)
    wave = torch.from_numpy(speech)[None].repeat(3, 1)
    lengths = torch.tensor([len(speech)] * 3)
    feats, _ = fb.raw(wave, lengths, torch.tensor([0.9, 1.0, 1.1]))
    plain, _ = fb.raw(wave[:1], lengths[:1])
    assert torch.allclose(feats[1], plain[0], atol=1e-5)  # factor 1: the unwarped features
    centroid = lambda x: float((x.exp().mean(0) * torch.arange(40)).sum() / x.exp().mean(0).sum())  # noqa: E731
    # alpha > 1: filter c reads the spectrum at c / alpha, so the spectrum moves up the bins (a
    # shorter vocal tract's formants); alpha < 1 moves it down
    assert centroid(feats[0]) < centroid(feats[1]) < centroid(feats[2])
    one = FilterBank(cfg).raw(wave[:1], lengths[:1], torch.tensor([1.1]))[0]
    assert torch.allclose(one[0], feats[2], atol=1e-4)  # per-utterance banks: batch-independent
    assert _mel_matrix(cfg, 1.1).shape == _mel_matrix(cfg).shape


def test_vtlp_options_are_checked_and_drawn_in_range():
    with pytest.raises(ConfigError, match="vtlp"):
        AugmentConfig.from_dict({"vtlp": [1.1]})
    with pytest.raises(ConfigError, match="vtlp"):
        AugmentConfig.from_dict({"vtlp": [1.2, 0.9]})
    assert draw_warps(4, AugmentConfig(), np.random.default_rng(0)) is None
    w = draw_warps(1000, AugmentConfig.from_dict({"vtlp": [0.9, 1.1]}), np.random.default_rng(0))
    assert w.shape == (1000,) and 0.9 <= float(w.min()) and float(w.max()) <= 1.1 and float(w.std()) > 0.05


# -- normalisation ------------------------------------------------------------------------------
def test_global_normalisation_removes_level_but_keeps_the_spectrum(speech):
    raw = FilterBank(FeatureConfig(n_mels=40)).raw(torch.from_numpy(speech)[None], torch.tensor([len(speech)]))[0][0]
    mean, std = global_stats([raw, raw[:50] + 1.0])
    assert len(mean) == len(std) == 40 and min(std) > 0
    # without the noise floor (1 LSB of noise, which a 26 dB quieter clip's pauses come near), so
    # that a gain is exactly a shift of the log-mel
    cfg = FeatureConfig(n_mels=40, normalize="global", global_mean=mean, global_std=std, noise_floor=0.0)
    fb = FilterBank(cfg)
    quiet = torch.from_numpy(speech * 0.05)[None]
    n = torch.tensor([len(speech)])
    a, _ = fb(torch.from_numpy(speech)[None], n)
    b, _ = fb(quiet, n)
    assert torch.allclose(a, b, atol=2e-3)  # a gain is a constant shift of the log-mel: removed
    per_bin = a[0].mean(0)  # unlike per-utterance CMVN, each bin keeps its own mean
    utt, _ = FilterBank(FeatureConfig(n_mels=40))(torch.from_numpy(speech)[None], n)
    assert float(utt[0].mean(0).abs().max()) < 1e-4 and float(per_bin.abs().max()) > 0.05


def test_global_statistics_must_match_the_bins():
    with pytest.raises(ConfigError, match="global_mean"):
        FeatureConfig(n_mels=40, normalize="global", global_mean=[0.0] * 39, global_std=[1.0] * 40)
    with pytest.raises(ConfigError, match="normalize"):
        FeatureConfig(normalize="speaker")


def test_normalize_keeps_padding_zero():
    feats = torch.randn(2, 10, 8)
    cfg = FeatureConfig(n_mels=8, normalize="global", global_mean=[0.0] * 8, global_std=[2.0] * 8)
    out = normalize(feats, torch.tensor([10, 6]), cfg)
    assert torch.all(out[1, 6:] == 0) and not torch.all(out[1, :6] == 0)


# -- reverberation ------------------------------------------------------------------------------
def test_reverberation_keeps_length_and_level_and_adds_a_tail(speech):
    rng = np.random.default_rng(0)
    click = np.zeros(8000, np.float32)
    click[100] = 0.5
    wet = reverberate(click, 0.3, rng)
    assert wet.shape == click.shape and wet.dtype == np.float32
    assert np.abs(wet).max() == pytest.approx(0.5, rel=1e-5)
    assert np.abs(wet[2000:4000]).max() > 1e-3  # energy 100-250 ms after the click: the room
    assert np.abs(wet[:100]).max() == 0  # causal
    out = reverberate(speech, 0.5, rng)
    assert out.shape == speech.shape and np.isfinite(out).all()


# -- devices ------------------------------------------------------------------------------------
def test_device_names_are_checked():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="expected auto, cpu, cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cli_refuses_cuda_without_a_gpu_in_one_line(tmp_path):
    code, out, err = run_cli("transcribe", "--device", "cuda", FSDD / "3_theo_0.wav")
    assert code == 1 and err.strip().startswith("error: device 'cuda': no CUDA GPU") and "Traceback" not in err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_gpu_model_gives_the_cpu_model_s_answers():
    import lstm_asr
    cpu, gpu = lstm_asr.load_model(), lstm_asr.load_model(device="cuda")
    clips = [FSDD / r["audio"] for r in _rows("_0.wav")][:10]
    assert [gpu.transcribe(c).text for c in clips] == [cpu.transcribe(c).text for c in clips]


# -- fine-tuning and adaptation -----------------------------------------------------------------
def _tiny(tmp_path, **train_kw):
    write_manifest(tmp_path / "train.jsonl", _rows("_0.wav"))
    write_manifest(tmp_path / "dev.jsonl", _rows("_1.wav")[:10])
    return RunConfig.from_dict({
        "name": "tiny", "features": {"n_mels": 40, "high_freq": 3900, "normalize": "global"},
        "model": {"num_layers": 1, "hidden_size": 24, "subsample": 4, "conv_channels": 16},
        "augment": {"vtlp": [0.9, 1.1], "reverb_prob": 0.3},
        "train": {"manifests": [str(tmp_path / "train.jsonl")], "dev": str(tmp_path / "dev.jsonl"),
                  "out_dir": str(tmp_path / "run"), "epochs": 1, "batch_seconds": 8, "threads": 1,
                  "device": "cpu", **train_kw}})


def test_global_statistics_are_saved_with_the_model_and_kept_by_fine_tuning(tmp_path):
    import lstm_asr
    best = train(_tiny(tmp_path / "a"), progress=False, log=lambda m: None)
    saved = json.loads((best / "config.json").read_text())["features"]
    assert saved["normalize"] == "global" and len(saved["global_mean"]) == 40
    rec = lstm_asr.load_model(best)
    assert rec.feature_config.global_mean == saved["global_mean"]
    # fine-tuning on other data keeps the starting model's front end and vocabulary
    cfg = _tiny(tmp_path / "b", init=str(best), epochs=1)
    cfg.features.n_mels = 80  # ignored: the front end comes from the initial model
    tuned = train(cfg, progress=False, log=lambda m: None)
    conf = json.loads((tuned / "config.json").read_text())
    assert conf["features"] == saved
    assert (tuned / "vocab.json").read_text() == (best / "vocab.json").read_text()


def test_fine_tuning_keeps_the_initial_front_end_unless_the_run_sets_its_floors(tmp_path):
    """New models save their noise floor; fine-tuning keeps the initial model's floors unless the
    run's config sets them (train.init overrides)."""
    from lstm_asr.train import RunConfig
    best = train(_tiny(tmp_path / "a"), progress=False, log=lambda m: None)
    conf = json.loads((best / "config.json").read_text())
    assert conf["features"]["noise_floor"] == 1.0 and conf["features"]["level_floor_db"] is None
    kept = train(_tiny(tmp_path / "b", init=str(best), epochs=1), progress=False, log=lambda m: None)
    assert json.loads((kept / "config.json").read_text())["features"] == conf["features"]
    d = {"features": {"noise_floor": 2.0, "level_floor_db": 30.0},
         "train": {**_tiny(tmp_path / "c", init=str(best), epochs=1).train.__dict__}}
    raised = json.loads((train(RunConfig.from_dict(d), progress=False, log=lambda m: None) / "config.json").read_text())
    assert (raised["features"]["noise_floor"], raised["features"]["level_floor_db"]) == (2.0, 30.0)


def test_a_model_saved_with_retired_options_at_their_off_values_still_loads(tmp_path):
    """model.chunk / right_context / input_norm / extra and features.level_floor_warmup_s became
    the run-time look-ahead (2026-12): a config.json that has them switched off loads (they are
    dropped); one that has them on is refused, naming the option and what replaced it."""
    import lstm_asr
    best = train(_tiny(tmp_path / "a", epochs=1), progress=False, log=lambda m: None)
    conf = json.loads((best / "config.json").read_text())
    conf["model"].update(chunk=0, right_context=0, input_norm="none", extra={})
    conf["features"]["level_floor_warmup_s"] = 0.0
    (best / "config.json").write_text(json.dumps(conf))
    assert lstm_asr.load_model(best).model_config.to_dict() == {k: v for k, v in conf["model"].items()
                                                                  if k not in ("chunk", "right_context", "input_norm", "extra")}
    conf["model"]["chunk"] = 100
    (best / "config.json").write_text(json.dumps(conf))
    with pytest.raises(lstm_asr.ConfigError, match="model.chunk=100 is no longer an option.*--lookahead"):
        lstm_asr.load_model(best)


def test_training_without_a_dev_set_keeps_the_last_model(tmp_path):
    best = train(_tiny(tmp_path, dev="", epochs=2), progress=False, log=lambda m: None)
    rows = (tmp_path / "run" / "curves.csv").read_text().splitlines()
    assert len(rows) == 3 and best.is_dir()
    from safetensors.torch import load_file
    a, b = load_file(str(best / "model.safetensors")), load_file(str(tmp_path / "run" / "last" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fine_tuning_refuses_words_the_model_cannot_spell(tmp_path):
    write_manifest(tmp_path / "x.jsonl", [{"audio": str(FSDD / "3_theo_0.wav"), "text": "quiz"}])
    cfg = _tiny(tmp_path, init="digits")
    cfg.train.manifests = [str(tmp_path / "x.jsonl")]
    with pytest.raises(ConfigError, match="cannot output"):
        train(cfg, progress=False, log=lambda m: None)


def test_adapt_writes_a_model_that_transcribes_and_learns_the_voice(tmp_path):
    rows = [r for r in _rows() if "theo" in r["audio"]]
    write_manifest(tmp_path / "me.jsonl", rows[:10])
    code, out, err = run_cli("--threads", "1", "adapt", "--manifest", tmp_path / "me.jsonl", "--out",
                             tmp_path / "me", "--minutes", "1", "--epochs", "8", "--no-progress")
    assert code == 0, err
    assert out.strip() == str(tmp_path / "me")
    conf = json.loads((tmp_path / "me" / "config.json").read_text())
    assert conf["name"].endswith("-adapted") and conf["decoding"]["words"]
    import lstm_asr
    own = lstm_asr.load_model().default_options  # the source's decoder, its unit priors included
    assert conf["decoding"]["log_priors"] == own.log_priors and conf["decoding"]["prior_scale"] == own.prior_scale
    # the adapted model's loss on the adaptation recordings is lower than the original's
    from lstm_asr.audio import load_audio
    def ctc_loss(rec):
        waves = [load_audio(r["audio"]) for r in rows[:10]]
        out, olen = rec.posteriors(waves)
        tg = [torch.tensor(rec.vocab.encode(r["text"])) for r in rows[:10]]
        return float(torch.nn.functional.ctc_loss(out.transpose(0, 1), torch.cat(tg), olen,
                                                  torch.tensor([len(t) for t in tg])))
    assert ctc_loss(lstm_asr.load_model(tmp_path / "me")) < ctc_loss(lstm_asr.load_model())
    code, out, err = run_cli("transcribe", "--model", tmp_path / "me", FSDD / rows[0]["audio"])
    assert code == 0 and out.strip()


def test_adapt_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"audio": "nowhere.wav", "text": "one"}\n')
    code, _, err = run_cli("adapt", "--manifest", bad, "--out", tmp_path / "m")
    assert code == 1 and err.startswith(f"error: {bad}:1: audio file not found") and "Traceback" not in err
    write_manifest(tmp_path / "ok.jsonl", _rows("_0.wav")[:2])
    code, _, err = run_cli("adapt", "--manifest", tmp_path / "ok.jsonl", "--out", tmp_path / "m", "--minutes", "0")
    assert code == 2 and "argument --minutes: must be a finite number > 0, not '0'" in err
    code, _, err = run_cli("adapt", "--model", "nosuchmodel", "--manifest", tmp_path / "ok.jsonl", "--out", tmp_path / "m")
    assert code == 1 and "nosuchmodel" in err


def test_fine_tuning_can_teach_a_model_new_letters(tmp_path):
    from safetensors.torch import load_file
    from lstm_asr.checkpoint import resolve_model
    sc = DATA / "speech_commands"
    rows = [json.loads(line) for line in (sc / "manifest.jsonl").read_text().splitlines()]
    write_manifest(tmp_path / "t.jsonl", [{**r, "audio": str(sc / r["audio"])} for r in rows if r["text"] in ("yes", "up")])
    cfg = _tiny(tmp_path, init="digits", extend_vocab=True, dev="")
    cfg.train.manifests = [str(tmp_path / "t.jsonl")]
    cfg.train.lr = 1e-9  # (almost) no update: the old units must come out as they were
    best = train(cfg, progress=False, log=lambda m: None)
    old_units = json.loads((resolve_model("digits") / "vocab.json").read_text())["units"]
    units = json.loads((best / "vocab.json").read_text())["units"]
    assert units[:len(old_units)] == old_units and set(units[len(old_units):]) == {"y", "p"}
    old, new = load_file(str(resolve_model("digits") / "model.safetensors")), load_file(str(best / "model.safetensors"))
    assert new["head.weight"].shape[0] == len(units)
    assert torch.allclose(new["head.weight"][:len(old_units)], old["head.weight"], atol=1e-4)
    assert torch.allclose(new["encoder.layers.0.weight_ih_l0"], old["encoder.layers.0.weight_ih_l0"], atol=1e-4)
