"""recipes/librispeech/run.sh end to end on a tiny fixture in the LibriSpeech layout (the one of
test_corpora.py, as train-clean-100, dev-clean, test-clean and test-other): import, train a tiny
model for one epoch (EXTRA overrides), score. Checks the manifests, that the model loads and runs,
and the score lines."""
import json
import os
import subprocess
import sys

import lstm_asr
from conftest import ROOT, ARCTIC
from lstm_asr.data import read_manifest
from test_corpora import librispeech

TINY = ("--set model.num_layers=1 --set model.hidden_size=16 --set model.conv_channels=16 "
        "--set model.subsample=1 --set train.epochs=1 --set train.workers=0 --set train.threads=1 "
        "--set train.batch_seconds=4 --set augment.speeds=[1.0]")


def test_librispeech_recipe_end_to_end(tmp_path):
    for subset in ("train-clean-100", "dev-clean", "test-clean", "test-other"):
        librispeech(tmp_path / "corpus", subset)
    data, out = tmp_path / "data", tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHON": sys.executable,
           "LSTM_ASR": f"{sys.executable} -m lstm_asr.cli", "LIBRISPEECH": str(tmp_path / "corpus"),
           "DATA": str(data), "OUT": str(out), "DEVICE": "cpu", "EXTRA": TINY}
    p = subprocess.run(["bash", "recipes/librispeech/run.sh"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]

    for manifest in (data / "train" / "train-clean-100.jsonl", data / "dev-clean.jsonl",
                     data / "test-clean.jsonl", data / "test-other.jsonl"):
        assert len(read_manifest(manifest)) == 3
    assert not (data / "dev-other.jsonl").exists()  # optional subset, absent from the fixture

    model = lstm_asr.load_model(out / "best")
    assert model.config["model"]["num_layers"] == 1
    assert isinstance(model.transcribe(str(ARCTIC)).text, str)

    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]  # (train prints its model dir)
    scores = [json.loads(line) for line in lines]
    assert [s["set"] for s in scores] == ["dev-clean", "test-clean", "test-other"]
    assert all(s["n"] == 3 and 0 <= s["wer"] for s in scores)
    assert (out / "scores.jsonl").read_text().splitlines() == lines
