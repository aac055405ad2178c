"""One pipeline for every input: the same audio gives the same hypothesis whatever the entry point
(file or array, one file or many, API, `transcribe`, `evaluate`), a short file is a stream with
one segment, and evaluation runs in flat memory with speech detection."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import DATA, ROOT, SAMPLES, run_cli
from lstm_asr.audio import SAMPLE_RATE, load_audio
from lstm_asr.errors import AudioError
from lstm_asr.transcribe import Transcript, joint_nbest

SC = DATA / "speech_commands"


@pytest.fixture(scope="module")
def clips():
    rows = [json.loads(line) for line in (SC / "manifest.jsonl").read_text().splitlines()]
    return [SC / r["audio"] for r in rows[:12]] + sorted(p for p in SAMPLES.iterdir() if p.suffix in (".wav", ".flac", ".ogg"))


def test_same_hypothesis_from_every_entry_point(default_model, clips, tmp_path):
    rec = default_model
    by_file = [rec.transcribe(p).text for p in clips]
    assert sum(bool(t) for t in by_file) >= len(clips) - 1
    # an array holding the same samples
    assert [rec.transcribe(load_audio(p)).text for p in clips] == by_file
    # many files at once: segments of neighbouring files share model batches
    many = list(rec.transcribe_many(clips))
    assert [i for i, _ in many] == list(range(len(clips)))
    assert [t.text for _, t in many] == by_file
    # the command line: transcribe and evaluate
    rc, out, err = run_cli("transcribe", *clips)
    assert rc == 0, err
    assert out.splitlines() == by_file
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"audio": str(p), "text": "x"}) + "\n" for p in clips))
    rc, out, err = run_cli("evaluate", "--manifest", manifest, "--save-hyps", tmp_path / "hyps.jsonl", "--json")
    assert rc == 0, err
    hyps = [json.loads(line)["hyp"] for line in (tmp_path / "hyps.jsonl").read_text().splitlines()]
    assert hyps == by_file


def test_a_short_file_is_a_stream_with_one_segment(default_model):
    t = default_model.transcribe(SAMPLES / "yes_0ea0e2f4_0.wav")
    assert t.text and len(t.segments) == 1 and t.segments[0].text == t.text
    seg = t.segments[0]
    assert 0.0 <= seg.start < seg.end <= t.duration == pytest.approx(1.0, abs=0.01)
    assert t.words and seg.start <= t.words[0]["start"] < t.words[-1]["end"] <= seg.end + 1e-6
    assert [s.text for s in default_model.transcribe_segments(SAMPLES / "yes_0ea0e2f4_0.wav")] == [t.text]


def test_segments_of_a_long_input_join_into_its_transcript(default_model):
    """Two clips with a 2 s pause: two segments, the joined text, absolute word times."""
    a, b = load_audio(SAMPLES / "yes_0ea0e2f4_0.wav"), load_audio(SC / "zero_3b4f8f24_1.wav")
    wave = np.concatenate([a, np.zeros(2 * SAMPLE_RATE, np.float32), b])
    t = default_model.transcribe(wave)
    assert len(t.segments) == 2 and t.text == " ".join(s.text for s in t.segments)
    assert t.segments[1].start >= len(a) / SAMPLE_RATE + 1.5
    assert t.duration == pytest.approx(len(wave) / SAMPLE_RATE)
    assert [w["word"] for w in t.words] == t.text.split()
    assert all(t.segments[1].start - 1e-6 <= w["start"] for w in t.segments[1].words)
    seen = []
    again = default_model.transcribe(wave, on_segment=seen.append)
    assert again.text == t.text and [s.text for s in seen] == [s.text for s in t.segments]


def test_silence_and_noise_give_no_words(default_model, tmp_path):
    yes = default_model.transcribe(SAMPLES / "yes_0ea0e2f4_0.wav").text
    rng = np.random.default_rng(0)
    silence = np.zeros(5 * SAMPLE_RATE, np.float32)
    noise = (0.01 * rng.standard_normal(5 * SAMPLE_RATE)).astype(np.float32)  # stationary noise
    for wave in (silence, noise):
        t = default_model.transcribe(wave)
        assert t.text == "" and t.segments == [] and t.duration == pytest.approx(5.0)
    # on the command line: one line per file, long or short, JSON or not
    sf.write(tmp_path / "quiet.wav", np.zeros(40 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    for flags in ([], ["--json"]):
        rc, out, err = run_cli("transcribe", *flags, tmp_path / "quiet.wav", SAMPLES / "yes_0ea0e2f4_0.wav")
        assert rc == 0, err
        lines = out.splitlines()
        assert len(lines) == 2
        if flags:
            assert json.loads(lines[0]) == {"audio": str(tmp_path / "quiet.wav"), "text": "", "duration": 40.0}
            assert json.loads(lines[1])["text"] == yes
        else:
            assert lines == ["", yes]


def test_an_unreadable_file_among_many_is_an_error_in_its_place(default_model, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    out = list(default_model.transcribe_many([SAMPLES / "yes_0ea0e2f4_0.wav", bad, SAMPLES / "3_theo_4.wav"]))
    assert [i for i, _ in out] == [0, 1, 2]
    assert out[0][1].text == default_model.transcribe(SAMPLES / "yes_0ea0e2f4_0.wav").text
    assert out[2][1].text == default_model.transcribe(SAMPLES / "3_theo_4.wav").text
    assert isinstance(out[1][1], AudioError) and str(bad) in str(out[1][1])
    with pytest.raises(AudioError):
        default_model.transcribe(bad)


def test_joint_nbest_is_the_best_sums_of_the_segments_lists():
    a = [{"text": "one", "score": -1.0}, {"text": "nine", "score": -2.0}]
    b = [{"text": "two", "score": -0.5}, {"text": "", "score": -3.0}]
    got = joint_nbest([a, b])
    assert got == [{"text": "one two", "score": -1.5}, {"text": "nine two", "score": -2.5}]
    # equal texts from different splits add their probabilities
    c = [{"text": "one", "score": -1.0}, {"text": "", "score": -1.0}]
    d = [{"text": "", "score": -1.0}, {"text": "one", "score": -1.0}]
    assert joint_nbest([c, d])[0] == {"text": "one", "score": round(-2.0 + np.log(2), 3)}
    assert joint_nbest([a, []]) == [] and joint_nbest([]) == []


def test_nbest_of_a_multi_segment_input(default_model):
    from lstm_asr import DecodeOptions
    a, b = load_audio(SAMPLES / "yes_0ea0e2f4_0.wav"), load_audio(SC / "zero_3b4f8f24_1.wav")
    wave = np.concatenate([a, np.zeros(2 * SAMPLE_RATE, np.float32), b])
    t = default_model.transcribe(wave, options=DecodeOptions(nbest=3))
    assert len(t.segments) == 2 and len(t.nbest) == 3
    assert t.nbest[0]["text"] == t.text
    assert [h["score"] for h in t.nbest] == sorted((h["score"] for h in t.nbest), reverse=True)
    assert isinstance(t, Transcript)


def _long_file(path, minutes: float, rate: int = 8000):
    """``minutes`` of faint noise at 8 kHz with a spoken digit every 5 minutes, written block by
    block (never in memory)."""
    rng = np.random.default_rng(1)
    digit = sf.read(SAMPLES / "7_jackson_2.wav", dtype="float32")[0]
    with sf.SoundFile(path, "w", rate, 1, "PCM_16") as f:
        for m in range(int(minutes)):
            for _ in range(6):
                f.write((3e-4 * rng.standard_normal(10 * rate)).astype(np.float32))
            if m % 5 == 2:
                f.write(digit)


def test_evaluate_a_two_hour_file_in_flat_memory(tmp_path):
    """`evaluate` streams a 2-hour file through the segmenter: bounded memory, no words from noise."""
    long = tmp_path / "two_hours.wav"
    _long_file(long, 120)
    manifest = tmp_path / "m.jsonl"
    n = sum(1 for m in range(120) if m % 5 == 2)
    manifest.write_text(json.dumps({"audio": str(long), "text": " ".join(["seven"] * n)}) + "\n")
    # the child's own peak (VmHWM of its memory map; getrusage's ru_maxrss would also count the
    # pages of the forked test process)
    code = ("import sys\nfrom lstm_asr.cli import main\nrc = main(sys.argv[1:])\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "print(int(hwm.split()[1]) // 1024, file=sys.stderr)\nsys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code, "evaluate", "--manifest", str(manifest), "--json",
                        "--save-hyps", str(tmp_path / "hyps.jsonl"), "--threads", "1", "--model", "digits"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    peak_mb = int(p.stderr.strip().splitlines()[-1])
    assert peak_mb < 500, peak_mb
    assert res["audio_seconds"] >= 7200, res
    hyp = json.loads((tmp_path / "hyps.jsonl").read_text())["hyp"]
    assert len(hyp.split()) <= n + 2, hyp   # two hours of noise give (almost) no words: only the digits
