"""recipes/digits-commands/loso_table.py: the leave-one-speaker-out table from score.sh's lines."""
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "recipes" / "digits-commands" / "loso_table.py"
DIGITS = "zero one two three four five six seven eight nine"


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def ours(fold, name, words, acc, wer, one_word=False):
    d = {"set": name, "model": f"runs/digits-commands-holdout-{fold}-no-other15/best", "words": words,
         "n": 500, "sent_acc": acc, "wer": wer}
    return {**d, "one_word": True} if one_word else d


def ps(fold, name, acc, wer):
    return {"manifest": f"data/digits-commands-holdout-{fold}-no-other15/{name}.jsonl", "sent_acc": acc, "wer": wer}


def test_rows_per_fold_and_the_mean_over_complete_folds(tmp_path):
    full = []
    for fold, a in (("anna", 0.8), ("bob", 0.6)):
        full += [ours(fold, "test_fsdd", "default", a - 0.1, 0.0), ours(fold, "test_fsdd", DIGITS, a, 0.0),
                 ours(fold, "test_fsdd", DIGITS, a, 0.0, one_word=True),
                 ours(fold, "test_fsdd_seq", DIGITS, 0.0, 1 - a)]
    # a stale line for anna comes first: the last line counts
    write(tmp_path / "loso_priors.jsonl", [ours("anna", "test_fsdd", DIGITS, 0.1, 0.9)] + full
          + [ours("carl", "test_fsdd", DIGITS, 0.5, 0.5)])  # carl: scored in part only
    write(tmp_path / "pocketsphinx_loso.jsonl",
          [ps(f, n, 0.5, 0.4) for f in ("anna", "bob", "carl") for n in ("test_fsdd", "test_fsdd_seq")])
    write(tmp_path / "priors_new_words.jsonl",
          [{"set": "test_sc_other", "model": f"runs/digits-commands-holdout-{f}-no-other15/best",
            "sent_acc": s, "wer": 1 - s} for f, s in (("anna", 0.5), ("bob", 0.7))])
    out = subprocess.run([sys.executable, str(SCRIPT), "--results", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[2] == "| anna | 70.0 % | 80.0 % | 80.0 % | 50.0 % | 20.0 % | 40.0 % | 50.0 % |"
    assert out[3] == "| bob | 50.0 % | 60.0 % | 60.0 % | 50.0 % | 40.0 % | 40.0 % | 70.0 % |"
    assert out[4].startswith("| carl | – | 50.0 % | – |")
    assert out[5] == ("| **mean of 2** | **60.0 %** | **70.0 %** | **70.0 %** | **50.0 %** | **30.0 %** "
                      "| **40.0 %** | **60.0 %** |")


def test_a_missing_results_file_is_one_line():
    res = subprocess.run([sys.executable, str(SCRIPT), "--results", "/nonexistent"], capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.splitlines()[-1].endswith(
        "/nonexistent/loso_priors.jsonl: no such file (score.sh loso and pocketsphinx_bench.py write it)")


def sc(name, acc, wer, model="runs/x/best"):
    return {"set": name, "model": model, "words": "default", "n": 45, "sent_acc": acc, "wer": wer}


SC_SETS = ("test_sc_digits", "test_sc_commands", "test_sc_seq", "test_sc_strings", "synth_test_words20",
           "synth_test_fluent")


def test_sc_table_rows_the_default_model_then_each_fold_with_mean_and_range(tmp_path):
    write(tmp_path / "priors_test.jsonl", [sc(s, 0.9, 0.1) for s in SC_SETS])
    write(tmp_path / "scores-holdout-anna-no-other15.jsonl", [sc(s, 0.8, 0.2) for s in SC_SETS])
    # bob: an earlier pass's lines, then its last pass; a priors_test file overrides one set
    write(tmp_path / "scores-holdout-bob-no-other15.jsonl",
          [sc(s, 0.1, 0.9) for s in SC_SETS] + [sc(s, 0.6, 0.4) for s in SC_SETS])
    write(tmp_path / "priors_test-holdout-bob-no-other15.jsonl", [sc("test_sc_digits", 0.7, 0.3)])
    write(tmp_path / "scores-holdout-carl-no-other15.jsonl", [sc("test_sc_digits", 0.5, 0.5)])  # in part only
    out = subprocess.run([sys.executable, str(SCRIPT), "--results", str(tmp_path), "--sc"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[2] == "| default model | 90.0 % | 90.0 % | 10.0 % | 10.0 % | 90.0 % | 10.0 % |"
    assert out[3] == "| fold anna | 80.0 % | 80.0 % | 20.0 % | 20.0 % | 80.0 % | 20.0 % |"
    assert out[4] == "| fold bob | 70.0 % | 60.0 % | 40.0 % | 40.0 % | 60.0 % | 40.0 % |"
    assert out[5] == "| fold carl | 50.0 % | – | – | – | – | – |"
    assert out[6].startswith("| **mean of 2 folds** | **75.0 %** | **70.0 %** | **30.0 %** |")
    assert out[7].startswith("| range of 2 folds | 70.0-80.0 % | 60.0-80.0 % | 20.0-40.0 % |")


def test_sc_table_without_the_default_models_scores_is_one_line(tmp_path):
    res = subprocess.run([sys.executable, str(SCRIPT), "--results", str(tmp_path), "--sc"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.splitlines()[-1].endswith("priors_test.jsonl: no such file (score.sh test writes it)")
