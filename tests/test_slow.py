"""Slow checks on the full data sets in ../shared (absent from a fresh clone: skipped with a reason).
Run with `make test-slow` (pytest -m slow)."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT, SHARED, needs_shared, run_cli

pytestmark = [pytest.mark.slow, needs_shared(SHARED / "fsdd")]


@pytest.fixture(scope="module")
def digits_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    subprocess.run([sys.executable, str(ROOT / "recipes/digits/prepare.py"), "--source", str(SHARED / "fsdd"),
                    "--out", str(out), "--train-seqs", "10", "--dev-seqs", "10"], check=True, capture_output=True)
    return out


def test_bundled_model_on_the_full_official_test_split(digits_data):
    rc, out, err = run_cli("--threads", "1", "evaluate", "--manifest", digits_data / "test.jsonl", "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert res["n"] == 250
    assert res["sent_acc"] >= 0.92  # measured 0.928 (issue target 0.98: not reached, see recipes/digits)


def test_bundled_model_on_connected_strings_from_test_recordings(digits_data):
    rc, out, err = run_cli("--threads", "1", "evaluate", "--manifest", digits_data / "test_seq.jsonl", "--json")
    assert rc == 0, err
    assert json.loads(out)["wer"] <= 0.03


def test_one_hour_of_audio_keeps_memory_flat(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/long_audio.py"), "--minutes", "60", "--work",
                          str(tmp_path), "--no-record"], check=True, capture_output=True, text=True).stdout
    row = json.loads(out.splitlines()[-1])
    assert row["peak_rss_mb"] <= 500 and row["minutes"] >= 59
