"""recipes/digits-commands/adapt_loso.sh: a fold's model adapted on K clips per digit of its left-out
speaker, scored on clips 10-49 of that speaker, one JSON line before and one after.

Run for real on a stand-in fold: the bundled default model as the fold's model, and the bundled FSDD
clips of one speaker copied under the file indices the script reads (0 to K-1 to adapt on, 10 and
up to score), so the script's own selection, `lstm-asr adapt` and `lstm-asr evaluate` all run."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "recipes/digits-commands/adapt_loso.sh"
DIGITS = "zero one two three four five six seven eight nine".split()
BIN = Path(sys.executable).parent


def fold(tmp_path, speaker="anna"):
    """A working folder with runs/…/best (the bundled model) and data/…/test_fsdd.jsonl."""
    name = f"digits-commands-holdout-{speaker}-no-other15"
    (tmp_path / "runs" / name).mkdir(parents=True)
    (tmp_path / "runs" / name / "best").symlink_to(ROOT / "src/lstm_asr/models/digits-commands")
    data = tmp_path / "data" / name
    (data / "audio").mkdir(parents=True)
    rows = []
    for d, word in enumerate(DIGITS):
        for src_index, index in ((0, 0), (1, 10)):  # theo's clip 0 to adapt on, clip 1 to score
            dst = data / "audio" / f"{d}_{speaker}_{index}.wav"
            shutil.copy(ROOT / f"tests/data/fsdd/{d}_theo_{src_index}.wav", dst)
            rows.append({"audio": str(dst), "text": word, "speaker": speaker})
    (data / "test_fsdd.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return tmp_path


def run(cwd, *args):
    env = {**os.environ, "PYTHON": sys.executable, "LSTM_ASR": str(BIN / "lstm-asr")}
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.skipif(not (BIN / "lstm-asr").exists(), reason="needs the lstm-asr command of this environment")
def test_adapts_on_k_clips_per_digit_and_scores_the_others(tmp_path):
    res = run(fold(tmp_path), "anna", "1")
    assert res.returncode == 0, res.stderr
    before, after = (json.loads(line) for line in res.stdout.splitlines())
    assert (before["speaker"], before["adapt"], before["adapt_clips"], before["n"]) == ("anna", "none", 0, 10)
    assert (after["adapt"], after["adapt_clips"], after["n"]) == ("labels", 10, 10)
    assert 0 <= before["sent_acc"] <= 1 and 0 <= after["sent_acc"] <= 1


@pytest.mark.parametrize("k", ["0", "11", "five"])
def test_a_bad_clip_count_is_one_line(tmp_path, k):
    res = run(tmp_path, "anna", k)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip() == f"adapt_loso.sh: K (clips per digit to adapt on) must be 1 to 10, not '{k}'"


def test_a_fold_without_its_model_is_one_line(tmp_path):
    res = run(tmp_path, "nobody")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "no model runs/digits-commands-holdout-nobody-no-other15/best" in res.stderr
