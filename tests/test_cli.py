"""The bundled default model through the CLI and the Python API, on real recordings shipped in the
repo: transcripts, JSON output, accuracy on the FSDD test clips, robustness to silence, level, DC
offset and sample rate, and one clear line per bad file (never a traceback)."""
import json
import re
import subprocess
import sys
import shutil

import numpy as np
import pytest
import soundfile as sf

from conftest import DATA, ROOT, SAMPLES, run_cli



def test_bad_files_are_reported_one_line_each_and_the_good_ones_still_transcribed(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("this is not audio\n" * 20)
    good = (SAMPLES / "string_1.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(good[: len(good) // 2])
    sf.write(str(tmp_path / "short.wav"), np.zeros(100, np.float32), 16000)
    sf.write(str(tmp_path / "nan.wav"), np.full(8000, np.nan, np.float32), 16000, subtype="FLOAT")
    bad = ["missing.wav", "empty.wav", "text.wav", "cut.wav", "short.wav", "nan.wav"]
    args = [tmp_path / "missing.wav", tmp_path / "empty.wav", SAMPLES / "3_theo_4.wav", tmp_path / "text.wav",
            tmp_path / "cut.wav", tmp_path / "short.wav", tmp_path / "nan.wav", SAMPLES / "7_jackson_2.wav"]
    rc, out, err = run_cli("transcribe", *args)
    assert rc == 1
    assert out.splitlines() == ["three", "seven"]
    lines = err.splitlines()
    assert len(lines) == len(bad) and "Traceback" not in err
    for line, name, reason in zip(lines, bad, ["no such file", "empty file", "not a readable audio file",
                                               "truncated", "too short", "NaN"]):
        assert line.startswith(f"error: {tmp_path / name}: ") and reason in line, line


def test_evaluate_reports_bad_manifest_lines_and_still_scores_the_rest(tmp_path):
    rows = (DATA / "fsdd" / "manifest.jsonl").read_text().splitlines()[:5]
    (tmp_path / "m.jsonl").write_text("\n".join(rows[:2] + ["{oops"] + rows[2:]) + "\n")
    for r in rows:
        shutil.copy(DATA / "fsdd" / json.loads(r)["audio"], tmp_path)
    rc, out, err = run_cli("evaluate", "--manifest", tmp_path / "m.jsonl")
    assert rc == 1
    assert err.splitlines() == [f"error: {tmp_path / 'm.jsonl'}:3: not valid JSON (Expecting property name "
                                "enclosed in double quotes)"]
    assert "utterances 5" in out and "WER" in out


def test_help_unknown_model_and_no_command():
    rc, out, err = run_cli("--help")
    assert rc == 0 and all(c in out for c in ("transcribe", "evaluate", "train", "examples:"))
    rc, out, err = run_cli("transcribe", "--model", "no-such-model", "samples/3_theo_4.wav")
    assert rc == 1 and err.startswith("error: no-such-model: not a model directory") and len(err.splitlines()) == 1
    rc, out, err = run_cli()
    assert rc == 2 and "usage:" in out


# -- interface: global options anywhere, standard input, output files, --verbose ----------------
def test_global_options_work_after_the_subcommand():
    code, out, err = run_cli("transcribe", "--threads", "1", SAMPLES / "3_theo_4.wav")
    assert code == 0 and out.strip() == "three", err
    code, out, _ = run_cli("--threads", "1", "transcribe", SAMPLES / "3_theo_4.wav")
    assert code == 0 and out.strip() == "three"


def test_transcribe_reads_standard_input():
    p = subprocess.run([sys.executable, "-m", "lstm_asr.cli", "transcribe", "-"], input=(SAMPLES / "3_theo_4.wav").read_bytes(),
                       capture_output=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0 and p.stdout.decode().strip() == "three"
    p = subprocess.run([sys.executable, "-m", "lstm_asr.cli", "transcribe", "-", str(SAMPLES / "3_theo_4.wav")],
                       input=b"not audio at all", capture_output=True, cwd=ROOT, timeout=300)
    err = p.stderr.decode()
    assert p.returncode == 1 and err.startswith("error: -: not a readable audio file") and "lstm-asr-stdin" not in err
    assert p.stdout.decode().strip() == "three"  # the other file is still transcribed


def test_output_dir_writes_every_format_with_subtitles_from_word_times(tmp_path):
    code, out, err = run_cli("transcribe", "--output-dir", tmp_path, "--output-format", "all", SAMPLES / "string_1.wav",
                             SAMPLES / "3_theo_4.wav")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{stem}.{ext}" for stem in ("string_1", "3_theo_4") for ext in ("txt", "json", "srt", "vtt"))
    text = (tmp_path / "string_1.txt").read_text().strip()
    assert text == out.splitlines()[0]
    doc = json.loads((tmp_path / "string_1.json").read_text())
    words = [w for s in doc["segments"] for w in s["words"]]
    assert doc["text"] == text and [w["word"] for w in words] == text.split()
    # one cue per speech segment, each timed by its words
    cues = (tmp_path / "string_1.srt").read_text().strip().split("\n\n")
    assert len(cues) == len(doc["segments"]) >= 1
    for k, (cue, seg) in enumerate(zip(cues, doc["segments"]), 1):
        num, stamp, line = cue.split("\n")
        assert num == str(k) and re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", stamp)
        start = seg["words"][0]["start"]
        assert stamp.startswith(f"00:00:0{int(start)},{round(1000 * (start % 1)):03d}") and line == seg["text"]
    assert " ".join(c.split("\n")[2] for c in cues) == text
    vtt = (tmp_path / "string_1.vtt").read_text()
    assert vtt.startswith("WEBVTT\n\n") and vtt.count(" --> ") == len(cues)


def test_subtitle_cues_split_long_word_runs():
    from lstm_asr.output import MAX_CUE_WORDS, cues, to_srt
    from lstm_asr.transcribe import Transcript
    words = [{"word": f"w{k}", "start": k * 0.5, "end": k * 0.5 + 0.4, "confidence": 1.0} for k in range(20)]
    t = Transcript(" ".join(w["word"] for w in words), 10.0, words, start=0.0, end=10.0)
    c = cues([t])
    assert [len(x[2].split()) for x in c] == [MAX_CUE_WORDS, MAX_CUE_WORDS, 20 - 2 * MAX_CUE_WORDS]
    assert all(a < b for a, b, _ in c) and c[0][0] == 0.0 and c[-1][1] == pytest.approx(9.9)
    assert to_srt([t]).startswith("1\n00:00:00,000 --> 00:00:03,900\nw0 w1")


def test_verbose_shows_the_traceback_of_an_internal_error(tmp_path, monkeypatch):
    # a bug of ours (every bad input is caught by the validation layer, so one is planted: the
    # recognizer divides by zero), reported in one line, with the traceback on request
    planted = ("import sys; from lstm_asr import cli, transcribe; "
               "transcribe.Recognizer.transcribe = lambda *a, **k: 1 / 0; sys.exit(cli.main(sys.argv[1:]))")

    def run(*args):
        p = subprocess.run([sys.executable, "-c", planted, *map(str, args)], capture_output=True, text=True,
                           cwd=ROOT, timeout=300)
        return p.returncode, p.stderr
    code, err = run("transcribe", SAMPLES / "3_theo_4.wav")
    assert code == 2 and err.startswith("error: internal error: ZeroDivisionError") and len(err.strip().splitlines()) == 1
    code, err = run("transcribe", "--verbose", SAMPLES / "3_theo_4.wav")
    assert code == 2 and "Traceback (most recent call last)" in err and "error: internal error" in err
    monkeypatch.setenv("LSTM_ASR_DEBUG", "1")
    code, err = run("transcribe", SAMPLES / "3_theo_4.wav")
    assert "Traceback (most recent call last)" in err
