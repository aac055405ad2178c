"""The bundled default model through the CLI and the Python API, on real recordings shipped in the
repo: transcripts, JSON output, accuracy on the FSDD test clips, robustness to silence, level, DC
offset and sample rate, and one clear line per bad file (never a traceback)."""
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from conftest import DATA, SAMPLES, run_cli

EXPECTED = {
    "7_jackson_2.wav": "seven",
    "3_theo_4.wav": "three",
    "string_1.wav": "six eight five seven eight two",
    "string_2.flac": "six zero nine one",
    "string_3.ogg": "one six five one",
}


def test_demo_samples_transcribe_correctly():
    paths = [SAMPLES / name for name in EXPECTED]
    rc, out, err = run_cli("transcribe", *paths)
    assert rc == 0, err
    assert out.splitlines() == list(EXPECTED.values())


def test_json_output_one_object_per_file():
    rc, out, err = run_cli("transcribe", "--json", "samples/string_2.flac", "samples/7_jackson_2.wav")
    assert rc == 0, err
    objs = [json.loads(line) for line in out.splitlines()]
    assert [o["audio"] for o in objs] == ["samples/string_2.flac", "samples/7_jackson_2.wav"]
    assert objs[0]["text"] == "six zero nine one"
    assert objs[0]["duration"] == pytest.approx(sf.info(str(SAMPLES / "string_2.flac")).duration, abs=0.01)


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


def test_evaluate_json_on_the_shipped_fsdd_test_clips():
    rc, out, err = run_cli("evaluate", "--manifest", DATA / "fsdd" / "manifest.jsonl", "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert {"wer", "cer", "sent_acc", "rtf", "n", "worst"} <= set(res)
    assert res["n"] == 100
    assert res["sent_acc"] >= 0.90  # measured 0.93 (issue target 0.98 on the full test split: not reached)
    assert res["wer"] == pytest.approx(1 - res["sent_acc"], abs=1e-9)  # one word per clip
    assert 0 < res["rtf"] < 1


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


def test_silence_padding_level_dc_offset_and_sample_rate_do_not_change_the_transcript(digits_model):
    wave, sr = sf.read(str(SAMPLES / "string_1.wav"), dtype="float32")
    expected = EXPECTED["string_1.wav"]
    second = np.zeros(sr, np.float32)
    variants = {
        "padded": np.concatenate([second, wave, second]),
        "quieter": wave * 0.1,                      # 20 dB quieter
        "dc": wave + 0.05,
        "noise floor padding": np.concatenate([second + 1e-4 * np.random.default_rng(0).standard_normal(sr),
                                               wave]).astype(np.float32),
    }
    for name, v in variants.items():
        assert digits_model.transcribe(v, sample_rate=sr).text == expected, name
    import soxr
    for rate in (8000, 22050, 48000):
        assert digits_model.transcribe(soxr.resample(wave, sr, rate), sample_rate=rate).text == expected, rate


def test_python_api_accepts_paths_and_arrays(digits_model):
    t = digits_model.transcribe(str(SAMPLES / "7_jackson_2.wav"))
    assert t.text == "seven" and str(t) == "seven"
    wave, sr = sf.read(str(SAMPLES / "7_jackson_2.wav"), dtype="int16")
    assert digits_model.transcribe(wave, sample_rate=sr).text == "seven"
    assert t.duration == pytest.approx(len(wave) / sr, abs=1e-3)


def test_help_unknown_model_and_no_command():
    rc, out, err = run_cli("--help")
    assert rc == 0 and all(c in out for c in ("transcribe", "evaluate", "train", "examples:"))
    rc, out, err = run_cli("transcribe", "--model", "no-such-model", "samples/3_theo_4.wav")
    assert rc == 1 and err.startswith("error: no-such-model: not a model directory") and len(err.splitlines()) == 1
    rc, out, err = run_cli()
    assert rc == 2 and "usage:" in out
