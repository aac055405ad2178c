"""`lstm-asr evaluate --noise DIR --snr S,...`: the seeded mix (lstm_asr.evaluate.NoiseMixer over
augment.add_noise), the per-condition evaluation, and its usage errors."""
import json

import numpy as np
import pytest
import soundfile as sf

from conftest import DATA, cli_in_process, run_cli
from lstm_asr import cli
from lstm_asr.augment import add_noise
from lstm_asr.data import write_manifest
from lstm_asr.errors import ConfigError
from lstm_asr.evaluate import NoiseMixer, hyps_path, noise_files, parse_snrs, snr_db
from lstm_asr.validate import Invalid

FSDD = DATA / "fsdd"


def _noise_dir(tmp_path, n=2, seconds=3.0):
    """A folder of noise recordings: coloured noise at 8 kHz and 16 kHz (one stereo, one in a
    subfolder, one flac), next to files that are not audio."""
    root = tmp_path / "noise"
    (root / "sub").mkdir(parents=True)
    rng = np.random.default_rng(5)
    white = rng.standard_normal(int(16000 * seconds))
    brown = np.cumsum(rng.standard_normal(int(8000 * seconds)))
    sf.write(root / "white.wav", (0.1 * white).astype(np.float32), 16000)
    sf.write(root / "sub" / "brown.flac", np.stack([brown, brown], 1) / np.abs(brown).max() * 0.3, 8000)
    (root / "README.md").write_text("not audio\n")
    (root / "sub" / "notes.txt").write_bytes(b"RIFF but not a wave")
    return root


def _manifest(tmp_path, n=8):
    rows = [json.loads(line) for line in (FSDD / "manifest.jsonl").read_text().splitlines()][::13][:n]
    path = tmp_path / "m.jsonl"
    write_manifest(path, [{**r, "audio": str(FSDD / r["audio"])} for r in rows])
    return path


def _main(capsys, *argv):
    return cli_in_process(capsys, *argv)


# -- the mix --------------------------------------------------------------------------------------
@pytest.mark.parametrize("snr", [30.0, 20.0, 10.0, 5.0, 0.0, -5.0])
def test_the_mixed_signal_has_the_snr_asked_for(tmp_path, speech, snr):
    mixer = NoiseMixer(_noise_dir(tmp_path))
    for key in ("a.wav", "b.wav", "c.wav", "d.wav"):  # whichever recording and stretch is drawn
        mixed = mixer(speech, key, snr)
        assert mixed.dtype == np.float32 and mixed.shape == speech.shape
        assert snr_db(speech, mixed) == pytest.approx(snr, abs=0.01)
    # add_noise itself, with noise shorter than the speech (tiled)
    short = np.random.default_rng(1).standard_normal(4000).astype(np.float32)
    mixed = add_noise(speech, short, snr, np.random.default_rng(0))
    assert snr_db(speech, mixed) == pytest.approx(snr, abs=0.01)


def test_the_mix_depends_on_the_utterance_and_seed_only(tmp_path, speech):
    folder = _noise_dir(tmp_path)
    a, b = NoiseMixer(folder, seed=0), NoiseMixer(folder, seed=0)
    assert np.array_equal(a(speech, "x/1.wav", 10), b(speech, "x/1.wav", 10))  # a fresh mixer: the same mix
    assert np.array_equal(a(speech, "x/1.wav", 10), a(speech, "x/1.wav", 10))  # no state carried over
    # conditions differ in level only: the same noise stretch at 10 and 0 dB
    n10, n0 = a(speech, "x/1.wav", 10) - speech, a(speech, "x/1.wav", 0) - speech
    assert np.allclose(n0, n10 * np.sqrt(10), atol=1e-5)
    others = [a(speech, f"x/{i}.wav", 10) for i in range(2, 6)] + [NoiseMixer(folder, seed=1)(speech, "x/1.wav", 10)]
    assert not any(np.array_equal(o, a(speech, "x/1.wav", 10)) for o in others)


def test_noise_files_are_found_recursively_and_only_audio(tmp_path):
    folder = _noise_dir(tmp_path)
    assert [p.relative_to(folder).as_posix() for p in noise_files(folder)] == ["sub/brown.flac", "white.wav"]
    (tmp_path / "empty" / "deep").mkdir(parents=True)
    (tmp_path / "empty" / "deep" / "x.wav").write_text("not really")
    with pytest.raises(ConfigError, match="no audio files"):
        noise_files(tmp_path / "empty")
    with pytest.raises(ConfigError, match="no such folder"):
        noise_files(tmp_path / "missing")


def test_silent_noise_is_refused(tmp_path):
    (tmp_path / "n").mkdir()
    sf.write(tmp_path / "n" / "zero.wav", np.zeros(16000, np.float32), 16000)
    with pytest.raises(ConfigError, match="silent"):
        NoiseMixer(tmp_path / "n")


def test_snr_lists():
    assert parse_snrs("clean,20,10,5,0") == ["clean", 20.0, 10.0, 5.0, 0.0]
    assert parse_snrs(" 7.5 , CLEAN,-3") == [7.5, "clean", -3.0]
    for bad in ["", ",", "10,", "abc", "nan", "inf", "1000", "10,10.0", "clean,clean", "20dB"]:
        with pytest.raises(Invalid):
            parse_snrs(bad)
    assert hyps_path("out/a.jsonl", 10.0).as_posix() == "out/a.snr10.jsonl"
    assert hyps_path("a.jsonl", "clean").as_posix() == "a.clean.jsonl"
    assert hyps_path("a.jsonl", -2.5).as_posix() == "a.snr-2.5.jsonl"


# -- the command ----------------------------------------------------------------------------------
def test_two_runs_give_the_same_hypotheses_and_clean_is_plain_evaluate(tmp_path):
    m, noise = _manifest(tmp_path), _noise_dir(tmp_path)
    runs = []
    for k in (1, 2):  # two processes
        rc, out, err = run_cli("evaluate", "--manifest", m, "--noise", noise, "--snr", "clean,10,0", "--json",
                               "--threads", "1", "--save-hyps", tmp_path / f"run{k}.jsonl")
        assert rc == 0 and err == "", err
        runs.append([json.loads(line) for line in out.splitlines()])
    assert [r["snr"] for r in runs[0]] == ["clean", 10.0, 0.0]
    assert [r["noise"] for r in runs[0]] == [None, str(noise), str(noise)]
    for tag in ("clean", "snr10", "snr0"):
        assert (tmp_path / f"run1.{tag}.jsonl").read_text() == (tmp_path / f"run2.{tag}.jsonl").read_text()
    drop = lambda r: {k: v for k, v in r.items() if k not in ("rtf", "snr", "noise", "seed")}  # noqa: E731
    assert [drop(r) for r in runs[0]] == [drop(r) for r in runs[1]]
    # noise at 0 dB changes what is heard
    hyps = lambda tag: [json.loads(line)["hyp"] for line in (tmp_path / f"run1.{tag}.jsonl").read_text().splitlines()]  # noqa: E731
    assert hyps("snr0") != hyps("clean")
    # the clean condition is exactly the plain evaluate
    rc, out, err = run_cli("evaluate", "--manifest", m, "--json", "--threads", "1", "--save-hyps", tmp_path / "plain.jsonl")
    assert rc == 0
    assert drop(json.loads(out)) == drop(runs[0][0])
    assert (tmp_path / "plain.jsonl").read_text() == (tmp_path / "run1.clean.jsonl").read_text()


def test_the_table_has_one_row_per_condition(tmp_path, capsys):
    m, noise = _manifest(tmp_path, n=4), _noise_dir(tmp_path)
    code, out, err = _main(capsys, "evaluate", "--manifest", m, "--noise", noise, "--snr", "20,clean", "--threads", "1")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"noise {noise}, seed 0, 4 utterances"
    assert lines[1].split()[:3] == ["condition", "WER", "%"]
    assert [line.split()[0] for line in lines[2:]] == ["20", "clean"] and len(lines) == 4
    assert all(line.split()[-2:] == ["4", "0"] for line in lines[2:])  # n, failed


@pytest.mark.parametrize("argv, option, message", [
    (["--noise", "EMPTY"], "--noise", "no audio files in it"),
    (["--noise", "MISSING"], "--noise", "no such folder"),
    (["--noise", "NOISE", "--snr", "10,loud"], "--snr", "must be an SNR in dB (-50..100) or 'clean', not 'loud'"),
    (["--noise", "NOISE", "--snr", "nan"], "--snr", "not 'nan'"),
    (["--noise", "NOISE", "--snr", "10,10"], "--snr", "each condition once"),
    (["--noise", "NOISE", "--seed", "-1"], "--seed", "must be an integer"),
])
def test_bad_noise_options_are_one_line_usage_errors(tmp_path, capsys, argv, option, message):
    (tmp_path / "EMPTY").mkdir()
    (tmp_path / "EMPTY" / "readme.txt").write_text("no audio here")
    paths = {"EMPTY": tmp_path / "EMPTY", "MISSING": tmp_path / "MISSING", "NOISE": _noise_dir(tmp_path)}
    argv = [paths.get(a, a) for a in argv]
    code, out, err = _main(capsys, "evaluate", "--manifest", _manifest(tmp_path, 2), *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith("usage: lstm-asr evaluate")  # argparse's usage, then one line of error
    assert [line for line in lines if "error" in line] == lines[-1:]
    assert lines[-1].startswith(f"lstm-asr evaluate: error: argument {option}: ") and message in lines[-1], err


def test_snr_without_noise_is_a_usage_error(tmp_path, capsys):
    code, out, err = _main(capsys, "evaluate", "--manifest", _manifest(tmp_path, 2), "--snr", "10")
    assert code == 2 and out == "" and err == "error: --snr needs --noise DIR (the noise recordings to mix in)\n"


def test_an_unreadable_utterance_is_reported_once_and_the_rest_scored(tmp_path, capsys):
    m = _manifest(tmp_path, 3)
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    with open(m, "a") as f:
        f.write(json.dumps({"audio": "broken.wav", "text": "one"}) + "\n")
    code, out, err = _main(capsys, "evaluate", "--manifest", m, "--noise", _noise_dir(tmp_path), "--snr", "clean,5")
    assert code == 1
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {tmp_path / 'broken.wav'}: ")
    assert all(line.split()[-2:] == ["3", "1"] for line in out.splitlines()[2:])


def test_make_babble_takes_its_talkers_from_a_manifest_and_writes_only_the_kinds_asked(tmp_path):
    """The recipe's training babble: talkers from training speakers (a manifest), babble only."""
    import subprocess
    import sys

    from conftest import ROOT
    script = ROOT / "benchmarks" / "make_babble.py"
    manifest = DATA / "speech_commands" / "manifest.jsonl"
    run = [sys.executable, str(script), "--out", str(tmp_path), "--files", "2", "--seconds", "1.5", "--kinds", "babble",
           "--speech", str(manifest)]
    p = subprocess.run(run, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    files = sorted((tmp_path / "babble").glob("*.wav"))
    assert len(files) == 2 and not (tmp_path / "hum_pink").exists()
    wave, sr = sf.read(str(files[0]))
    assert sr == 16000 and len(wave) == 24000 and np.abs(wave).max() > 0.1
    assert str(manifest) in p.stdout
    again = tmp_path / "again"
    subprocess.run([*run[:3], str(again), *run[4:]], check=True, capture_output=True, timeout=300)
    assert sf.read(str(sorted((again / "babble").glob("*.wav"))[0]))[0].tolist() == wave.tolist()  # seeded
    bad = subprocess.run([*run[:-4], "--kinds", "music"], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "--kinds" in bad.stderr and "Traceback" not in bad.stderr
