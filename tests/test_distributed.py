"""Data-parallel training (lstm_asr.distributed): two CPU processes under torchrun (gloo) train
replicas that stay identical, write a run a single process loads and resumes with another number
of processes; the per-rank split of an epoch's batches."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from conftest import DATA, ROOT
from lstm_asr.config import RunConfig
from lstm_asr.distributed import Dist, shard, state_digest
from lstm_asr.errors import ConfigError
from lstm_asr.train import train


def _sharded_config(tmp_path: Path) -> dict:
    """A tiny model on FSDD, its training manifest cut into three shards named by a pattern, its
    audio read lazily (no cache)."""
    rows = [json.loads(line) for line in (DATA / "fsdd" / "manifest.jsonl").read_text().splitlines()]
    for r in rows:
        r["audio"] = str(DATA / "fsdd" / r["audio"])
        r.pop("duration", None)  # lengths from the files' headers
    train_rows = [r for r in rows if r["audio"].endswith("_0.wav")]
    (tmp_path / "shards").mkdir()
    for k in range(3):
        (tmp_path / "shards" / f"train-{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train_rows[k::3]))
    dev = [r for r in rows if r["audio"].endswith("_1.wav")][:10]
    (tmp_path / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dev))
    return {"name": "tiny", "features": {"n_mels": 40, "high_freq": 3900},
            "model": {"cell": "lstm", "num_layers": 1, "hidden_size": 24, "bidirectional": True, "subsample": 4,
                      "conv_channels": 16, "dropout": 0.1},
            "augment": {"speeds": [0.9, 1.0, 1.1], "pad_prob": 0.5},
            "train": {"manifests": [str(tmp_path / "shards" / "train-*.jsonl")], "dev": str(tmp_path / "dev.jsonl"),
                      "out_dir": str(tmp_path / "run"), "epochs": 2, "batch_seconds": 8, "threads": 1, "lr": 0.005,
                      "audio_cache_gb": 0}}


def test_two_cpu_processes_train_identical_replicas_that_one_process_loads_and_resumes(tmp_path):
    d = _sharded_config(tmp_path)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    run = tmp_path / "run"
    # the documented launch (docs/training.md), stopped by the time limit after epoch 1's checkpoint
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "lstm_asr.cli", "train", "--config", str(tmp_path / "c.yaml"), "--no-progress",
           "--max-minutes", "0.0001"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-3000:]
    assert "training on cpu and 1 more process(es)" in p.stderr
    log = (run / "train.log").read_text().splitlines()
    assert len(log) == 1 and "2 replicas identical (sha256 " in log[0]
    # every rank's weights hashed after the epoch were equal (the run checks it), and equal to
    # the weights rank 0 saved
    digest = log[0].split("sha256 ")[1].rstrip(")")
    assert state_digest(load_file(str(run / "last" / "model.safetensors"))).startswith(digest)
    trainer = json.loads((run / "last" / "trainer.json").read_text())
    assert trainer["world_size"] == 2 and trainer["epoch"] == 1
    assert sorted(p.name for p in (run / "best").iterdir()) == ["README.md", "config.json", "model.safetensors",
                                                                "vocab.json"]

    import lstm_asr
    rec = lstm_asr.load_model(run / "best")  # an ordinary model directory, loaded by one process
    text = rec.transcribe(DATA / "fsdd" / "3_theo_0.wav").text
    assert not rec.vocab.unknown(text)

    # resumed by a single process: epoch 2, on the schedule of one process's steps
    cfg = RunConfig.from_dict(d)
    logs = []
    train(cfg, resume=True, progress=False, log=logs.append)
    assert any("trained by 2 process(es), now 1: continuing with epoch 2" in m for m in logs)
    rows = list(csv.DictReader((run / "curves.csv").read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    per_epoch = int(rows[1]["step"]) // 2  # one process's batches per epoch
    assert int(rows[0]["step"]) == -(-per_epoch // 2)  # two processes took half each (rounded up)
    assert json.loads((run / "last" / "trainer.json").read_text())["world_size"] == 1


@pytest.mark.parametrize("n, world", [(1, 2), (7, 2), (8, 4), (5, 3), (10, 1)])
def test_each_rank_gets_as_many_batches_and_together_all(n, world):
    batches = [[i] for i in range(n)]
    parts = [shard(batches, Dist(rank=r, world_size=world)) for r in range(world)]
    assert len({len(p) for p in parts}) == 1 and len(parts[0]) == -(-n // world)
    assert sorted({b[0] for p in parts for b in p}) == list(range(n))
    if world == 1:
        assert parts[0] is batches


def test_a_pattern_or_directory_that_names_no_manifest_is_one_clear_error(tmp_path):
    d = _sharded_config(tmp_path)
    d["train"]["manifests"] = [str(tmp_path / "shards" / "nope-*.jsonl")]
    with pytest.raises(ConfigError, match=r"train.manifests: .*nope-\*.jsonl: no manifest file matches this pattern"):
        train(RunConfig.from_dict(d), progress=False, log=lambda m: None)
    (tmp_path / "empty").mkdir()
    d["train"]["manifests"] = [str(tmp_path / "empty")]
    with pytest.raises(ConfigError, match=r"empty: a directory with no \*.jsonl manifest shard in it"):
        train(RunConfig.from_dict(d), progress=False, log=lambda m: None)
