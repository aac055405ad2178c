"""lstm_asr.compare and `lstm-asr compare`: two evaluate runs side by side with speaker-bootstrap intervals."""
import json

import numpy as np
import pytest

from conftest import run_cli
from lstm_asr.compare import compare, pair, read_hyps
from lstm_asr.errors import AsrError, ManifestError
from lstm_asr.metrics import sentence_accuracy, wer


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def runs(n_speakers=6, per=5, seed=0):
    """Two systems on the same utterances: B makes more mistakes for the first speaker only."""
    rng = np.random.default_rng(seed)
    words = "zero one two three four five six seven eight nine".split()
    a, b = [], []
    for s in range(n_speakers):
        for k in range(per):
            ref = " ".join(rng.choice(words, size=3))
            hyp_a = ref if k else ref.replace(ref.split()[0], "left", 1)
            hyp_b = "no " + ref if s == 0 else hyp_a
            a.append({"audio": f"s{s}_{k}.wav", "ref": ref, "hyp": hyp_a, "speaker": f"spk{s}"})
            b.append({"audio": f"s{s}_{k}.wav", "ref": ref, "hyp": hyp_b, "speaker": f"spk{s}"})
    return a, b


def test_point_estimates_are_the_corpus_scores_and_intervals_resample_speakers(tmp_path):
    a_rows, b_rows = runs()
    a, b, by = pair(read_hyps(write(tmp_path / "a.jsonl", a_rows)), read_hyps(write(tmp_path / "b.jsonl", b_rows)))
    assert by == "speaker" and a.cluster.max() + 1 == 6
    res = compare(a, b, resamples=500, seed=1)
    refs = [r["ref"] for r in a_rows]
    assert res["wer"]["a"]["value"] == pytest.approx(wer(refs, [r["hyp"] for r in a_rows]), abs=1e-4)
    assert res["wer"]["b"]["value"] == pytest.approx(wer(refs, [r["hyp"] for r in b_rows]), abs=1e-4)
    assert res["sent_acc"]["b"]["value"] == pytest.approx(sentence_accuracy(refs, [r["hyp"] for r in b_rows]), abs=1e-4)
    d = res["wer"]["b_minus_a"]
    assert d["value"] > 0 and d["ci95"][0] <= d["value"] <= d["ci95"][1]
    # B is worse only for one speaker of six: resamples without that speaker show no difference,
    # so the interval reaches zero, and B is never better
    assert d["ci95"][0] == 0 and res["wer"]["b_better"] == 0
    assert res["n"] == 30 and res["clusters"] == 6
    # the same seed gives the same intervals
    assert compare(a, b, resamples=500, seed=1) == res


def test_identical_runs_differ_by_exactly_zero_and_no_speakers_means_utterance_clusters(tmp_path):
    a_rows, _ = runs()
    for r in a_rows:
        del r["speaker"]
    p = write(tmp_path / "a.jsonl", a_rows)
    a, b, by = pair(read_hyps(p), read_hyps(p))
    assert by == "utterance" and a.cluster.max() + 1 == 30
    res = compare(a, b, resamples=200)
    assert res["wer"]["b_minus_a"] == {"value": 0.0, "ci95": [0.0, 0.0]}
    lo, hi = res["wer"]["a"]["ci95"]
    assert lo < res["wer"]["a"]["value"] < hi  # one error in five sentences: a real spread


def test_cli_table_and_json(tmp_path):
    a_rows, b_rows = runs()
    pa, pb = write(tmp_path / "a.jsonl", a_rows), write(tmp_path / "b.jsonl", b_rows)
    rc, out, err = run_cli("compare", pa, pb, "--names", "lstm", "gru", "--resamples", 300)
    assert rc == 0, err
    lines = out.splitlines()
    assert "lstm" in lines[1] and "gru" in lines[1]
    assert lines[2].startswith("WER") and "95 % CI" in lines[2]
    assert lines[3].startswith("sentences right")
    assert "resample whole speakers (6) 300 times" in lines[4]
    rc, out, err = run_cli("compare", pa, pb, "--json", "--resamples", 300)
    res = json.loads(out)
    assert rc == 0 and res["by"] == "speaker" and res["a"] == "a" and res["resamples"] == 300
    assert set(res["wer"]) == {"a", "b", "b_minus_a", "b_better"}


def test_bad_inputs_are_one_line_errors(tmp_path):
    a_rows, b_rows = runs()
    pa = write(tmp_path / "a.jsonl", a_rows)
    cases = {
        "other.jsonl": (b_rows[:-1], "is only in"),
        "refs.jsonl": ([{**r, "ref": "six"} if i == 3 else r for i, r in enumerate(b_rows)], "the references differ"),
        "broken.jsonl": (None, "broken.jsonl:2: not JSON"),
        "fields.jsonl": ([{"audio": "x.wav", "text": "one"}], 'needs "audio", "ref" and "hyp"'),
        "twice.jsonl": ([a_rows[0], a_rows[0]], "appears twice"),
        "empty.jsonl": ([], "no utterances"),
    }
    for name, (rows, message) in cases.items():
        p = tmp_path / name
        if rows is None:
            p.write_text(json.dumps(a_rows[0]) + "\n{oops\n")
        else:
            write(p, rows)
        rc, out, err = run_cli("compare", pa, p)
        assert rc == 1 and out == "" and message in err, (name, err)
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    rc, _, err = run_cli("compare", pa, tmp_path / "missing.jsonl")
    assert rc == 1 and "missing.jsonl" in err and "cannot read" in err
    (tmp_path / "audio.wav").write_bytes(b"RIFF\xbe\xef\x00\x00WAVE")
    rc, _, err = run_cli("compare", pa, tmp_path / "audio.wav")
    assert rc == 1 and "audio.wav:0: not UTF-8 text" in err and len(err.strip().splitlines()) == 1, err
    rc, _, err = run_cli("compare", pa, pa, "--resamples", 5)
    assert rc == 2 and "--resamples" in err
    with pytest.raises(ManifestError):
        read_hyps(tmp_path / "broken.jsonl")
    with pytest.raises(AsrError):
        pair(read_hyps(pa), read_hyps(tmp_path / "other.jsonl"))


def test_evaluate_reports_intervals_by_speaker_and_the_hardest_speakers():
    from conftest import DATA
    rc, out, err = run_cli("evaluate", "--model", "digits", "--manifest", DATA / "fsdd" / "manifest.jsonl", "--json")
    assert rc == 0, err
    res = json.loads(out)
    ci = res["ci95"]
    assert ci["by"] == "speaker" and ci["clusters"] == 5  # FSDD's five speakers
    assert ci["wer"][0] <= res["wer"] <= ci["wer"][1] and ci["sent_acc"][0] <= res["sent_acc"] <= ci["sent_acc"][1]
    speakers = res["speakers"]
    assert sum(v["n"] for v in speakers) == res["n"] == 100
    assert [v["wer"] for v in speakers] == sorted((v["wer"] for v in speakers), reverse=True)
    # the corpus WER is the speakers' WERs weighted by their words (one word per clip here)
    assert res["wer"] == pytest.approx(sum(v["wer"] * v["n"] for v in speakers) / 100, abs=1e-3)
    rc, out, err = run_cli("evaluate", "--model", "digits", "--manifest", DATA / "fsdd" / "manifest.jsonl", "--worst", 0)
    assert rc == 0 and "95 % intervals over 5 speakers" in out and "hardest speakers: " in out, out


def test_help_reads_as_written():
    rc, out, _ = run_cli("compare", "--help")
    assert rc == 0 and "with 95 % intervals" in out and "%%" not in out
    rc, out, _ = run_cli("evaluate", "--help")
    assert rc == 0 and "ci95 (95 % intervals by speaker)" in " ".join(out.split())


def test_evaluate_of_one_speaker_says_there_is_no_interval(tmp_path):
    from conftest import DATA
    row = json.loads((DATA / "fsdd" / "manifest.jsonl").read_text().splitlines()[0])
    row["audio"] = str(DATA / "fsdd" / row["audio"])
    manifest = write(tmp_path / "one.jsonl", [row])
    rc, out, err = run_cli("evaluate", "--model", "digits", "--manifest", manifest)
    assert rc == 0 and "one speaker: no interval" in out and "95 %" not in out, out
