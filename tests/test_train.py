"""Training end to end on the shipped FSDD clips with a tiny model: run directory, curves,
checkpoints, resume (bit-exact), bad manifest lines."""
import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from conftest import DATA, run_cli
from lstm_asr.data import write_manifest
from lstm_asr.errors import ConfigError, ManifestError
from lstm_asr.train import RunConfig, train


def _manifests(tmp_path: Path):
    rows = [json.loads(l) for l in (DATA / "fsdd" / "manifest.jsonl").read_text().splitlines()]
    for r in rows:
        r["audio"] = str(DATA / "fsdd" / r["audio"])
    write_manifest(tmp_path / "train.jsonl", [r for r in rows if r["audio"].endswith("_0.wav")])
    write_manifest(tmp_path / "dev.jsonl", [r for r in rows if r["audio"].endswith("_1.wav")][:20])
    return tmp_path / "train.jsonl", tmp_path / "dev.jsonl"


def _config(tmp_path, epochs=2, **model):
    tr, dev = _manifests(tmp_path)
    m = {"cell": "lstm", "num_layers": 1, "hidden_size": 24, "bidirectional": True, "subsample": 4,
         "conv_channels": 16, "dropout": 0.1, **model}
    return {"name": "tiny", "features": {"n_mels": 40, "high_freq": 3900}, "model": m,
            "augment": {"speeds": [0.9, 1.0, 1.1], "pad_prob": 0.5},
            "train": {"manifests": [str(tr)], "dev": str(dev), "out_dir": str(tmp_path / "run"),
                      "epochs": epochs, "batch_seconds": 8, "threads": 1, "lr": 0.005}}


def test_training_writes_a_loadable_model_curves_and_a_checkpoint(tmp_path):
    cfg = RunConfig.from_dict(_config(tmp_path))
    best = train(cfg, progress=False, log=lambda m: None)
    run = tmp_path / "run"
    assert best == run / "best"
    assert sorted(p.name for p in best.iterdir()) == ["README.md", "config.json", "model.safetensors", "vocab.json"]
    assert {"trainer.json", "trainer.safetensors", "model.safetensors"} <= {p.name for p in (run / "last").iterdir()}
    lines = (run / "curves.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,step,train_loss") and "wer" in lines[0] and len(lines) == 3
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import lstm_asr
    rec = lstm_asr.load_model(best)
    text = rec.transcribe(DATA / "fsdd" / "3_theo_0.wav").text
    assert not rec.vocab.unknown(text)  # spelled with the model's own units only
    losses = [float(line.split(",")[2]) for line in lines[1:]]
    assert losses[1] < losses[0]  # it learns
    config = json.loads((best / "config.json").read_text())
    assert config["features"]["n_mels"] == 40 and config["features"]["high_freq"] == 3900


def test_resume_continues_exactly_where_an_uninterrupted_run_would_be(tmp_path):
    straight = RunConfig.from_dict(_config(tmp_path / "a", epochs=2))
    train(straight, progress=False, log=lambda m: None)
    first = RunConfig.from_dict(_config(tmp_path / "b", epochs=1))
    first.train.epochs = 2
    first.train.max_minutes = 1e-9  # "interrupted" right after epoch 1's checkpoint
    train(first, progress=False, log=lambda m: None)
    assert len((tmp_path / "b" / "run" / "curves.csv").read_text().splitlines()) == 2
    again = RunConfig.from_dict(_config(tmp_path / "b", epochs=2))
    train(again, resume=True, progress=False, log=lambda m: None)
    wa = load_file(str(tmp_path / "a" / "run" / "last" / "model.safetensors"))
    wb = load_file(str(tmp_path / "b" / "run" / "last" / "model.safetensors"))
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=1e-6, rtol=0)


def test_resume_needs_a_checkpoint_and_a_new_run_refuses_to_overwrite(tmp_path):
    cfg = RunConfig.from_dict(_config(tmp_path, epochs=1))
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(cfg, resume=True, progress=False, log=lambda m: None)
    train(cfg, progress=False, log=lambda m: None)
    with pytest.raises(ConfigError, match="already exists"):
        train(RunConfig.from_dict(_config(tmp_path, epochs=1)), progress=False, log=lambda m: None)


def test_bad_manifest_line_stops_with_its_line_number_or_is_skipped_and_counted(tmp_path):
    d = _config(tmp_path, epochs=1)
    tr = Path(d["train"]["manifests"][0])
    tr.write_text(tr.read_text() + "{not json\n" + json.dumps({"audio": "nope.wav", "text": "one"}) + "\n")
    n = len(tr.read_text().splitlines())
    with pytest.raises(ManifestError, match=rf"train.jsonl:{n - 1}: not valid JSON"):
        train(RunConfig.from_dict(d), progress=False, log=lambda m: None)
    d["train"]["on_bad_line"] = "skip"
    logs = []
    train(RunConfig.from_dict(d), progress=False, log=logs.append)
    assert any("skipped 2 bad line(s)" in m for m in logs)


def test_cli_train_with_overrides_and_config_errors(tmp_path):
    d = _config(tmp_path, epochs=1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    rc, out, err = run_cli("train", "--config", tmp_path / "c.yaml", "--out", tmp_path / "cli_run",
                           "--set", "model.cell=gru", "--no-progress")
    assert rc == 0, err
    assert Path(out.strip()) == tmp_path / "cli_run" / "best"
    assert json.loads((tmp_path / "cli_run" / "best" / "config.json").read_text())["model"]["cell"] == "gru"
    rc, out, err = run_cli("train", "--config", tmp_path / "c.yaml", "--set", "model.cell=transformer")
    assert rc == 1 and err.startswith(f"error: {tmp_path / 'c.yaml'}: model.cell must be one of") and "Traceback" not in err
    rc, out, err = run_cli("train", "--config", tmp_path / "missing.yaml")
    assert rc == 1 and "missing.yaml: cannot read config" in err and len(err.splitlines()) == 1
    (tmp_path / "bad.yaml").write_text("model: [unclosed\n")
    rc, out, err = run_cli("train", "--config", tmp_path / "bad.yaml")
    assert rc == 1 and "not valid YAML" in err and "Traceback" not in err


def test_early_stopping_waits_until_the_model_leaves_the_blank_plateau(tmp_path):
    d = _config(tmp_path, epochs=3)
    d["train"].update(lr=0.0, patience=1)  # cannot learn: dev WER stays 100 %
    logs = []
    train(RunConfig.from_dict(d), progress=False, log=logs.append)
    assert len((tmp_path / "run" / "curves.csv").read_text().splitlines()) == 1 + 3
    assert not any("early stop" in m for m in logs)


def test_on_a_dev_tie_the_later_model_is_kept(tmp_path):
    d = _config(tmp_path, epochs=3)
    d["train"].update(lr=0.0, patience=10)  # dev WER ties at 100 % every epoch
    train(RunConfig.from_dict(d), progress=False, log=lambda m: None)
    best = load_file(str(tmp_path / "run" / "best" / "model.safetensors"))
    last = load_file(str(tmp_path / "run" / "last" / "model.safetensors"))
    assert "best epoch 3 of 3" in (tmp_path / "run" / "best" / "README.md").read_text()
    for k in best:
        torch.testing.assert_close(best[k], last[k])


def test_transcripts_too_long_for_their_audio_are_counted_and_reported(tmp_path):
    cfg = RunConfig.from_dict(_config(tmp_path, epochs=1))
    rows = [json.loads(l) for l in Path(cfg.train.manifests[0]).read_text().splitlines()]
    rows[0]["text"] = "one two three four five six seven eight nine zero " * 3  # far more letters than frames
    write_manifest(Path(cfg.train.manifests[0]), rows)
    logs = []
    train(cfg, progress=False, log=logs.append)
    history = json.loads((tmp_path / "run" / "last" / "trainer.json").read_text())["history"]
    assert history[-1]["unfit"] == 1 and history[-1]["skipped_steps"] == 0
    assert "1 utterance(s) too short for their transcript" in (tmp_path / "run" / "train.log").read_text()


def test_a_non_finite_step_is_skipped_never_applied(tmp_path, monkeypatch):
    import lstm_asr.train as train_module
    real, calls = train_module.spec_augment, []

    def poisoned(feats, *a, **k):  # the first batch's features become NaN
        calls.append(1)
        out = real(feats, *a, **k)
        return out * float("nan") if len(calls) == 1 else out
    monkeypatch.setattr(train_module, "spec_augment", poisoned)
    cfg = RunConfig.from_dict(_config(tmp_path, epochs=1))
    best = train(cfg, progress=False, log=lambda m: None)
    history = json.loads((tmp_path / "run" / "last" / "trainer.json").read_text())["history"]
    assert history[-1]["skipped_steps"] == 1 and len(calls) > 1
    weights = load_file(str(best / "model.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_resume_refuses_a_changed_schedule_unless_forced(tmp_path):
    cfg = RunConfig.from_dict(_config(tmp_path, epochs=1))
    train(cfg, progress=False, log=lambda m: None)
    changed = RunConfig.from_dict(_config(tmp_path, epochs=1))
    changed.train.lr = 0.05
    with pytest.raises(ConfigError, match=r"differs from the run being resumed \(train.lr\).*--force"):
        train(changed, resume=True, progress=False, log=lambda m: None)
    changed.train.epochs, changed.train.threads = 2, 2  # threads may change freely; epochs only with force
    with pytest.raises(ConfigError, match="train.epochs, train.lr"):
        train(changed, resume=True, progress=False, log=lambda m: None)
    train(changed, resume=True, progress=False, log=lambda m: None, force=True)
    assert json.loads((tmp_path / "run" / "last" / "trainer.json").read_text())["epoch"] == 2


def test_options_a_run_saved_that_no_longer_exist_do_not_block_its_resume(tmp_path):
    from lstm_asr.config import check_resumable
    cfg = RunConfig.from_dict(_config(tmp_path, epochs=1))
    saved = cfg.to_dict()
    saved["train"]["teacher"], saved["model"]["extra"] = "", {}  # retired options, as an older run saved them
    check_resumable(cfg, saved, force=False, where=tmp_path)
    saved["train"]["lr"] = 1.0
    with pytest.raises(ConfigError, match=r"\(train.lr\)"):
        check_resumable(cfg, saved, force=False, where=tmp_path)


def test_the_last_checkpoint_is_swapped_atomically(tmp_path):
    cfg = RunConfig.from_dict(_config(tmp_path, epochs=2))
    train(cfg, progress=False, log=lambda m: None)
    run = tmp_path / "run"
    assert (run / "last").is_symlink() and (run / "last").resolve() == (run / "ckpt-2").resolve()
    assert sorted(p.name for p in run.glob("ckpt-*")) == ["ckpt-2"]
    # a crash between writing ckpt-N and moving the link leaves a complete checkpoint to resume from
    from lstm_asr.run_dir import latest_checkpoint
    (run / "last").unlink()
    assert latest_checkpoint(run) == run / "ckpt-2"
    cfg.train.epochs = 3
    train(cfg, resume=True, progress=False, log=lambda m: None, force=True)
    assert (run / "last").resolve() == (run / "ckpt-3").resolve()


def test_phone_units_train_a_model_that_reads_word_lists(tmp_path):
    """train.units: phones -> a phone vocabulary (saved with its kind); the dev metric compares
    pronunciations; the model decodes any word list through the lexicon."""
    c = _config(tmp_path, epochs=1)
    c["train"]["units"] = "phones"
    best = train(RunConfig.from_dict(c), progress=False, log=lambda m: None)
    assert json.loads((best / "vocab.json").read_text())["kind"] == "phones"
    import lstm_asr
    from lstm_asr.transcribe import DecodeOptions
    rec = lstm_asr.load_model(best)
    text = rec.transcribe(DATA / "fsdd" / "3_theo_0.wav", options=DecodeOptions(words=["three", "kettle"])).text
    assert set(text.split()) <= {"three", "kettle"}


def test_without_a_dev_set_every_epoch_runs_and_the_last_is_kept(tmp_path):
    c = _config(tmp_path, epochs=3)
    c["train"].update(dev="", patience=1)
    train(RunConfig.from_dict(c), progress=False, log=lambda m: None)
    assert len((tmp_path / "run" / "curves.csv").read_text().splitlines()) == 4  # header + 3 epochs


def test_parallel_batch_workers_train_too(tmp_path):
    c = _config(tmp_path, epochs=1)
    c["train"]["workers"] = 1
    best = train(RunConfig.from_dict(c), progress=False, log=lambda m: None)
    assert (best / "model.safetensors").is_file()


def test_numbers_in_exponent_form_are_numbers_in_configs_and_set(tmp_path):
    """`lr: 1e-4` and `--set train.lr=1e-4` are floats (YAML 1.1 alone would read the string '1e-4')."""
    from lstm_asr.config import RunConfig
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("train:\n  lr: 5e-4\n  weight_decay: 1E-2\n", encoding="utf-8")
    cfg = RunConfig.load(cfg_file, ["train.clip=2e0", "train.max_minutes=1e-9"])
    assert (cfg.train.lr, cfg.train.weight_decay, cfg.train.clip, cfg.train.max_minutes) == (5e-4, 1e-2, 2.0, 1e-9)
