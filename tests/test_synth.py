"""lstm_asr.synth and `lstm-asr synth`: rendering with espeak-ng and flite into a manifest."""
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from conftest import run_cli
from lstm_asr import synth
from lstm_asr.data import read_manifest
from lstm_asr.errors import ConfigError

needs_engines = pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("flite")),
                                   reason="espeak-ng and flite not installed (make voices)")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Two words and one fluent digit string by two espeak and one flite voice."""
    out = tmp_path_factory.mktemp("synth")
    voices = [("espeak", "en-us"), ("espeak", "en-gb+f3"), ("flite", "kal16")]
    jobs = synth.plan_jobs(voices, texts=["yes", "stop"], strings=[("digits", 1)], seed=3)
    # fixed silences: one clip with none before it, one with none after it
    jobs[0] = synth.Job("yes", "espeak", "en-us", 1.0, 1.0, 0.0, 0.25)
    jobs[1] = synth.Job("yes", "espeak", "en-gb+f3", 1.1, 0.9, 0.3, 0.0)
    manifest = synth.synthesize(jobs, out, workers=1, progress=False)
    return out, jobs, manifest


@needs_engines
def test_manifest_rows_and_audio(rendered):
    out, jobs, manifest = rendered
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(rows) == len(jobs) == 9
    m = read_manifest(manifest)
    assert [u.text for u in m.utterances[:2]] == ["yes", "yes"]
    for row, job in zip(rows, jobs):
        assert row["audio"] == f"audio/{job.engine}/{job.key}.flac"
        assert row["speaker"] == f"{job.engine}/{job.voice}" and row["rate"] == job.rate
        info = sf.info(out / row["audio"])
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        assert row["duration"] == pytest.approx(info.duration, abs=1e-3)
        assert row["duration"] > job.lead_s + job.trail_s + 0.1
    assert all(r["pitch"] == 1.0 for r in rows if r["engine"] == "flite")  # flite has no pitch control


@needs_engines
def test_silence_is_what_the_manifest_says(rendered):
    out, jobs, _ = rendered

    def rms(x):
        return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    a, _ = sf.read(out / jobs[0].path, dtype="float32")   # 0 s before, 0.25 s after
    assert rms(a[:320]) > 1e-3 * np.abs(a).max()            # speech within the first 20 ms
    assert not a[-4000:].any() and a[-4000 - 320:-4000].any()
    b, _ = sf.read(out / jobs[1].path, dtype="float32")   # 0.3 s before, 0 s after
    assert not b[:4800].any() and b[4800:4800 + 320].any()
    assert rms(b[-320:]) > 1e-3 * np.abs(b).max()


@needs_engines
def test_fluent_string_is_one_file(rendered):
    out, jobs, manifest = rendered
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    strings = [r for r in rows if r["text"] not in ("yes", "stop")]
    assert len(strings) == 3 and len({r["audio"] for r in strings}) == 3
    for r in strings:
        words = r["text"].split()
        assert 3 <= len(words) <= 10 and set(words) <= set(synth.DIGITS)
        assert r["duration"] > 0.15 * len(words)  # the whole string in one clip


@needs_engines
def test_rerun_skips_existing_files(rendered):
    out, jobs, manifest = rendered
    before = {j.path: (out / j.path).stat().st_mtime_ns for j in jobs}
    text = manifest.read_text()
    assert synth.synthesize(jobs, out, workers=1, progress=False) == manifest
    assert {j.path: (out / j.path).stat().st_mtime_ns for j in jobs} == before
    assert manifest.read_text() == text


def test_plan_is_deterministic_and_spread():
    engines = [e for e in map(synth.get_engine, ("espeak", "flite")) if e.available()]
    if len(engines) < 2:
        pytest.skip("espeak-ng and flite not installed (make voices)")
    voices = synth.pick_voices(engines, 6, seed=1)
    assert voices == synth.pick_voices(engines, 6, seed=1) != synth.pick_voices(engines, 6, seed=2)
    assert sum(e == "flite" for e, _ in voices) == 3 and len(set(voices)) == 6
    held = synth.pick_voices(engines, 6, seed=1, exclude=[f"{e}/{v}" for e, v in voices[:2]])
    assert not set(held) & set(voices[:2])
    jobs = synth.plan_jobs(voices, texts=["yes", "no"], strings=[("commands", 2)], per_voice=2, seed=1)
    assert jobs == synth.plan_jobs(voices, texts=["yes", "no"], strings=[("commands", 2)], per_voice=2, seed=1)
    assert len(jobs) == (2 + 2) * 6 * 2 and len({j.key for j in jobs}) == len(jobs)
    lead = [j.lead_s for j in jobs] + [j.trail_s for j in jobs]
    assert 0 < lead.count(0.0) < len(lead) and max(lead) <= synth.MAX_SILENCE_S
    assert all(0.8 <= j.rate <= 1.25 for j in jobs)


def test_no_nc_voices_and_bad_names():
    rh = synth.RHVoice()
    assert not set(rh.voices()) & synth.BANNED_VOICES["rhvoice"]
    assert not any(v["voice"] in synth.BANNED_VOICES["rhvoice"] or "mbrola" in v["voice"].lower()
                   or "mb-" in v["voice"] for v in synth.list_voices())
    with pytest.raises(ConfigError, match="unknown engine 'nope' \\(known: espeak, flite"):
        synth.get_engine("nope")
    with pytest.raises(ConfigError, match="--strings: 'digit:3'"):
        synth.parse_strings("digit:3")
    assert synth.get_engine("espeak-ng").name == "espeak"
    assert synth.get_engine("kokoro").available() in (True, False)  # a missing module: just not available


def test_cli_bad_engine_is_a_usage_error(tmp_path):
    code, out, err = run_cli("synth", "--words", "yes", "--engines", "espeak,nope", "--out", tmp_path)
    assert code == 2 and not out
    assert err.strip().splitlines()[-1] == ("lstm-asr synth: error: argument --engines: unknown engine 'nope' "
                                            "(known: espeak, flite, pico, rhvoice, festival, piper, kokoro)")
    assert "Traceback" not in err


@needs_engines
def test_cli_synth_and_list_voices(tmp_path):
    code, out, err = run_cli("synth", "--words", "go", "--engines", "espeak,flite", "--voices", "2",
                             "--workers", "2", "--no-progress", "--out", tmp_path)
    assert code == 0, err
    assert len(read_manifest(tmp_path / "manifest.jsonl")) == 2
    code, out, err = run_cli("synth", "--list-voices", "--json", "--engines", "flite")
    assert code == 0 and {json.loads(line)["engine"] for line in out.splitlines()} == {"flite"}


@pytest.mark.skipif(not synth.get_engine("espeak").available(), reason="espeak-ng not installed (make voices)")
def test_mandarin_voices_say_characters(tmp_path):
    """--language cmn: espeak-ng's Mandarin voices only; English-only engines are refused by name."""
    voices = synth.get_engine("espeak", "cmn").voices()
    assert "cmn" in voices and all(v.split("+")[0] in ("cmn", "cmn-latn-pinyin") for v in voices)
    assert not any(v.startswith("cmn") for v in synth.get_engine("espeak").voices())  # English stays English
    with pytest.raises(ConfigError, match="engine 'flite' has no voices for language 'cmn'"):
        synth.parse_engines("espeak,flite", "cmn")
    code, out, err = run_cli("synth", "--language", "cmn", "--words", "三 四", "--voices", "1", "--workers", "1",
                             "--no-progress", "--out", tmp_path)
    assert code == 0, err
    rows = read_manifest(tmp_path / "manifest.jsonl").utterances
    assert sorted(u.text for u in rows) == ["三", "四"] and all(u.speaker.startswith("espeak/cmn") for u in rows)
    code, out, err = run_cli("synth", "--language", "xx-nope", "--words", "a", "--out", tmp_path / "x")
    assert code != 0 and "no installed engine has voices for language 'xx-nope'" in err and "Traceback" not in err
