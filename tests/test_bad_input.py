"""Every input answered: a corpus of bad and odd inputs (issue 9), built in a temporary folder, and
what each must give -- through the CLI (a subprocess, or ``cli.main`` in this process for the
option checks that never reach a model) and through the Python API.

The rules: a bad option value is a usage error (exit 2, argparse's message naming the option); a
bad file is one ``error: PATH: reason`` line, exit 1, and every other file is still transcribed;
never a traceback, an "internal error", a C library's own message, NaN in JSON, or an output
written over an input. Property-based tests (hypothesis) feed the audio reader and the manifest
parser random bytes and random valid-but-odd files.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATA, ROOT, SAMPLES, cli_in_process, run_cli
from lstm_asr import cli
from lstm_asr.audio import load_audio, to_model_input
from lstm_asr.data import read_manifest, write_manifest
from lstm_asr.errors import AudioError, ConfigError, ManifestError
from lstm_asr.output import dumps, write_atomic
from lstm_asr.train import RunConfig, train
from lstm_asr.transcribe import DecodeOptions

THEO, JACKSON = SAMPLES / "3_theo_4.wav", SAMPLES / "7_jackson_2.wav"   # "three", "seven"


def _clean(err: str) -> None:
    assert "Traceback" not in err and "internal error" not in err and "Warning" not in err, err


def _main(capsys, *argv) -> tuple[int, str, str]:
    return cli_in_process(capsys, *argv)


def _usage_error(capsys, option: str, *argv) -> str:
    code, out, err = _main(capsys, *argv)
    assert code == 2, (argv, out, err)
    last = err.strip().splitlines()[-1]
    assert "error: argument " + option in last, err
    _clean(err)
    return last


@pytest.fixture(scope="module")
def digits():
    import lstm_asr
    return lstm_asr.load_model("digits")


# ---- bad files between good ones -------------------------------------------------------------
def _unreadable(folder: Path) -> Path | None:
    """A file the OS refuses to read: mode 000 for an ordinary user; as root (who may read any
    mode) a link to a write-only sysfs attribute, which refuses reads even to root."""
    if os.geteuid() != 0:
        p = folder / "locked.wav"
        shutil.copy(THEO, p)
        p.chmod(0)
        return p
    target = Path("/sys/bus/pci/rescan")
    if target.exists():
        p = folder / "locked.wav"
        p.symlink_to(target)
        return p
    return None


def test_bad_files_each_give_one_line_and_the_good_ones_are_all_transcribed(tmp_path):
    good = (SAMPLES / "string_3.ogg").read_bytes()
    (tmp_path / "cut.ogg").write_bytes(good[: len(good) * 3 // 4])
    wave, sr = sf.read(SAMPLES / "string_1.wav", dtype="float32")
    sf.write(str(tmp_path / "full.mp3"), wave, sr, format="MP3")
    mp3 = (tmp_path / "full.mp3").read_bytes()
    (tmp_path / "cut.mp3").write_bytes(mp3[: len(mp3) // 2])
    sf.write(str(tmp_path / "huge.wav"), np.full(8000, 1e30, np.float32), 16000, subtype="FLOAT")
    (tmp_path / "dir.wav").mkdir()
    long_name = tmp_path / ("x" * 300 + ".wav")
    cases = [(tmp_path / "cut.ogg", "truncated"), (tmp_path / "cut.mp3", "truncated"),
             (tmp_path / "huge.wav", "samples out of range"), (tmp_path / "dir.wav", "is a directory"),
             (long_name, "File name too long"), (Path("/dev/zero"), "not a regular file")]
    locked = _unreadable(tmp_path)
    if locked is not None:
        cases.append((locked, "Permission denied"))
    args = [THEO]
    for path, _ in cases:
        args += [path, JACKSON]
    code, out, err = run_cli("transcribe", "--model", "digits", "--with-names", *args)
    assert code == 1
    assert out.splitlines() == [f"{THEO}\tthree"] + [f"{JACKSON}\tseven"] * len(cases)
    lines = err.splitlines()
    assert len(lines) == len(cases), err  # nothing else: no libmpg123 warning, no traceback
    for line, (path, reason) in zip(lines, cases):
        assert line.startswith(f"error: {path}: ") and reason in line, line
    _clean(err)


def test_a_file_name_that_is_not_utf8_is_read_and_named(tmp_path):
    name = os.fsdecode(bytes(tmp_path) + b"/caf\xe9 \xff.wav")
    shutil.copy(THEO, name)
    assert load_audio(name).dtype == np.float32
    assert load_audio(os.fsencode(name)).shape == load_audio(THEO).shape
    code, out, err = run_cli("transcribe", "--model", "digits", "--with-names", name, tmp_path / "nope.wav")
    said = run_cli("transcribe", "--model", "digits", THEO)[1].strip()   # what the model says for the clip
    assert code == 1 and out.splitlines() == [f"{tmp_path}/caf\\udce9 \\udcff.wav\t{said}"], (out, err)
    assert err.splitlines() == [f"error: {tmp_path / 'nope.wav'}: no such file"]
    code, out, err = run_cli("transcribe", "--model", "digits", "--json", name)
    assert code == 0 and json.loads(out)["text"] == said


def test_stdout_on_a_full_device_is_one_line_and_exit_1():
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "lstm_asr.cli", "transcribe", "--model", "digits", str(THEO)],
                           stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 1
    assert p.stderr.splitlines() == ["error: cannot write the output: No space left on device"], p.stderr


def test_json_output_is_strict_json():
    code, out, err = run_cli("transcribe", "--model", "digits", "--json", "--nbest", "3", SAMPLES / "string_1.wav")
    assert code == 0, err

    def refuse(name):
        raise AssertionError(f"{name} in JSON output")
    obj = json.loads(out, parse_constant=refuse)
    assert obj["text"] and obj["nbest"]
    assert dumps({"a": math.nan, "b": [math.inf, 1.5], "c": {"d": -math.inf}}) == \
        '{"a": null, "b": [null, 1.5], "c": {"d": null}}'


# ---- options: usage errors naming the option ---------------------------------------------------
@pytest.mark.parametrize("option,value", [
    ("--max-segment", "0"), ("--max-segment", "-5"), ("--max-segment", "nan"), ("--max-segment", "inf"),
    ("--threads", "-1"), ("--threads", "0"), ("--threads", "100000"), ("--threads", "two"),
    ("--beam", "-1"), ("--beam", "0"), ("--nbest", "0"), ("--nbest", "-3"),
    ("--alpha", "nan"), ("--beta", "inf"), ("--beta", "x"), ("--hotword", "seven:nan"), ("--hotword", ":2"),
    ("--words", ""), ("--words", "   "), ("--long-over", "nan"), ("--long-over", "-1"),
])
def test_bad_transcribe_option_values_are_usage_errors(capsys, option, value):
    last = _usage_error(capsys, option, "transcribe", "--model", "digits", option, value, THEO)
    assert last.startswith("lstm-asr transcribe: error:")


@pytest.mark.parametrize("name", [name for name, *_ in cli.SERVE_LIMITS])
@pytest.mark.parametrize("value", ["-1", "1e9"])
def test_serve_flags_and_server_limits_check_one_range(capsys, name, value):
    """Each `serve` limit flag takes its range from its ServerLimits field: both refuse alike."""
    from lstm_asr.server.settings import ServerLimits
    flag = "--" + name.replace("_", "-")
    last = _usage_error(capsys, flag, "serve", flag, value)
    with pytest.raises(ConfigError) as info:
        ServerLimits(**{name: int(float(value)) if "integer" in last else float(value)})
    expected = last.split(": must be ", 1)[1].rsplit(", not ", 1)[0]
    assert str(info.value).startswith(f"server.{name} must be {expected}, not "), (last, str(info.value))


@pytest.mark.parametrize("argv,option", [
    (["train", "--config", "c.yaml", "--epochs", "0"], "--epochs"),
    (["train", "--config", "c.yaml", "--max-minutes", "nan"], "--max-minutes"),
    (["adapt", "--manifest", "m", "--out", "o", "--minutes", "0"], "--minutes"),
    (["adapt", "--manifest", "m", "--out", "o", "--epochs", "-2"], "--epochs"),
    (["adapt", "--manifest", "m", "--out", "o", "--lr", "nan"], "--lr"),
    (["lm", "build", "c.txt", "-o", "x.arpa", "--order", "0"], "--order"),
    (["evaluate", "--manifest", "m", "--worst", "-1"], "--worst"),
    (["--threads", "100000", "transcribe", "x.wav"], "--threads"),
])
def test_bad_option_values_of_other_commands_are_usage_errors(capsys, argv, option):
    _usage_error(capsys, option, *argv)


def test_a_usage_error_through_the_console_command():
    code, out, err = run_cli("transcribe", "--model", "digits", "--beam", "0", THEO)
    assert code == 2 and out == ""
    assert err.splitlines()[0].startswith("usage: lstm-asr transcribe")
    assert err.splitlines()[-1] == "lstm-asr transcribe: error: argument --beam: must be an integer in 1..1024, not '0'"


def test_beam_1_is_greedy_decoding_never_an_empty_transcript(capsys, digits):
    code, beam1, err = _main(capsys, "transcribe", "--model", "digits", "--beam", "1", JACKSON, THEO)
    code_g, greedy, _ = _main(capsys, "transcribe", "--model", "digits", "--greedy", JACKSON, THEO)
    assert code == code_g == 0 and beam1 == greedy and all(beam1.splitlines()), err
    assert digits.transcribe(JACKSON, options=DecodeOptions(beam_size=1)).text == \
        digits.transcribe(JACKSON, options=DecodeOptions()).text != ""
    with pytest.raises(ConfigError, match="beam size 1 is greedy"):
        digits.transcribe(JACKSON, options=DecodeOptions(beam_size=1, words=["seven", "three"]))
    code, out, err = _main(capsys, "transcribe", "--model", "digits", "--beam", "1", "--words", "seven", JACKSON)
    assert code == 1 and err.startswith("error: beam size 1 is greedy") and len(err.splitlines()) == 1


def test_a_words_file_that_is_not_utf8_is_one_line(capsys, tmp_path):
    (tmp_path / "w.txt").write_bytes(b"seven \xff\xfe three\n")
    code, out, err = _main(capsys, "transcribe", "--model", "digits", "--words-file", tmp_path / "w.txt", THEO)
    assert code == 1 and err == f"error: {tmp_path / 'w.txt'}: the word list is not UTF-8 text (byte 7)\n"


# ---- the Python API --------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [math.nan, math.inf, -16000, 0, "abc", "16000", [16000], True, False, 16, 999,
                                  384001, 16000.5, 10**40])
def test_api_sample_rate_outside_1_to_384_khz_is_refused(digits, rate):
    with pytest.raises(AudioError, match=r"sample_rate must be .*1000\.\.384000"):
        digits.transcribe(np.zeros(16000, np.float32), sample_rate=rate)


def test_api_sample_rate_given_in_khz_says_so():
    with pytest.raises(AudioError, match="for 16 kHz write 16000"):
        to_model_input(np.zeros(16000, np.float32), 16)


def test_api_accepted_rates_and_shapes(digits):
    wave, sr = sf.read(JACKSON, dtype="float32")
    said = digits.transcribe(wave, sample_rate=sr).text
    assert said and digits.transcribe(wave, sample_rate=np.int64(sr)).text == said
    assert digits.transcribe(wave, sample_rate=float(sr)).text == said
    assert digits.transcribe(np.stack([wave, wave], axis=1), sample_rate=sr).text == said  # (S, 2)
    assert to_model_input(np.zeros(1000, np.float32), 1000).shape == (16000,)
    assert len(to_model_input(np.zeros(384000, np.float32), 384000)) == 16000


def test_api_channel_first_and_other_bad_arrays(digits):
    with pytest.raises(AudioError, match=r"shape \(2, 48000\) is not \(samples, channels\).*transposed"):
        digits.transcribe(np.zeros((2, 48000), np.float32), sample_rate=16000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no numpy warnings on the way
        with pytest.raises(AudioError, match="samples out of range"):
            digits.transcribe(np.full(16000, 1e30, np.float32), sample_rate=16000)
        with pytest.raises(AudioError, match="samples out of range"):
            digits.transcribe(np.full((16000, 2), -3e38, np.float32))
    for bad, reason in [(np.zeros((4, 4, 4)), "expected \\(samples,\\)"), (np.array(["a", "b"]), "unsupported sample type"),
                        ([[0.0, 1.0], [2.0]], "not an array of samples"), (np.zeros((0, 2)), "no samples"),
                        (np.zeros(10, np.complex64), "unsupported sample type"), (np.zeros(30, bool), "unsupported")]:
        with pytest.raises(AudioError, match=reason):
            digits.transcribe(bad)


@pytest.mark.parametrize("bad", [dict(beam_size=0), dict(beam_size=-1), dict(beam_size=2.5), dict(nbest=0),
                                 dict(alpha=math.nan), dict(beta=math.inf), dict(alpha="0.5"),
                                 dict(hotwords={"seven": math.nan}), dict(hotwords={"seven": "high"}),
                                 dict(words=""), dict(words=[""]), dict(words=[]), dict(words="seven"),
                                 dict(lm="")])
def test_api_bad_decode_options_are_refused(digits, bad):
    with pytest.raises(ConfigError, match="decoding\\."):
        digits.transcribe(THEO, options=DecodeOptions(**bad))
    with pytest.raises(ConfigError, match="decoding\\."):
        digits.set_decoding(**bad)


# ---- configs and model directories -------------------------------------------------------------
@pytest.mark.parametrize("override,reason", [
    ("train.lr=abc", "train.lr must be a finite number in 0..10, not 'abc'"),
    ("model.hidden_size=0", "model.hidden_size must be an integer in 1..65536, not 0"),
    ("model.hidden_size=[64, 0]", "model.hidden_size[1] must be an integer in 1..65536, not 0"),
    ("train.manifests=train.jsonl", "train.manifests must be a list of one or more file paths, not 'train.jsonl'"),
    ("train.epochs=0", "train.epochs must be an integer >= 1, not 0"),
    ("train.epochs=2.5", "train.epochs must be an integer >= 1, not 2.5"),
    ("features.sample_rate=true", "features.sample_rate must be a sample rate"),
    ("model.bidirectional=3", "model.bidirectional must be true or false, not 3"),
    ("train.threads=100000", "train.threads must be an integer in 1..256"),
    ("train.on_bad_line=ignore", "train.on_bad_line must be one of 'stop', 'skip'"),
    ("augment.noise_prob=1.5", "augment.noise_prob must be a finite number in 0..1"),
    ("train.lr=.nan", "train.lr must be a finite number"),
    ("train.lr=[", "not valid YAML"),
    ("train=3", "expected SECTION.KEY=VALUE"),
])
def test_bad_config_values_are_one_line_config_errors(override, reason):
    with pytest.raises(ConfigError) as e:
        RunConfig.load(ROOT / "recipes" / "digits" / "config.yaml", [override])
    assert reason in str(e.value) and "\n" not in str(e.value)


def test_a_bad_value_in_a_config_file_names_the_file(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  hidden_size: -3\ntrain:\n  manifests: [x.jsonl]\n")
    code, out, err = _main(capsys, "train", "--config", bad)
    assert code == 1 and err == f"error: {bad}: model.hidden_size must be an integer in 1..65536, not -3\n"
    bad.write_text("model:\n  hiden_size: 3\n")
    code, out, err = _main(capsys, "train", "--config", bad)
    assert code == 1 and err == f"error: {bad}: unknown model option(s): hiden_size\n"


def test_config_files_that_are_not_utf8_or_not_a_mapping(capsys, tmp_path):
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    code, out, err = _main(capsys, "train", "--config", tmp_path / "latin1.yaml")
    assert code == 1 and err == f"error: {tmp_path / 'latin1.yaml'}: not UTF-8 text (byte 10); save the config as UTF-8\n"
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    code, out, err = _main(capsys, "train", "--config", tmp_path / "list.yaml")
    assert code == 1 and "a config is a mapping of sections" in err and len(err.splitlines()) == 1
    code, out, err = _main(capsys, "train", "--config", ROOT / "recipes" / "digits" / "config.yaml",
                           "--set", "train.lr=abc")
    assert code == 1 and err.startswith("error: ") and "train.lr must be a finite number" in err
    assert len(err.splitlines()) == 1


def _model_copy(tmp_path: Path) -> Path:
    from lstm_asr.checkpoint import resolve_model
    d = tmp_path / "model"
    shutil.copytree(resolve_model("digits"), d)
    return d


@pytest.mark.parametrize("section,key,value", [("model", "hidden_size", "128"), ("model", "num_layers", None),
                                                ("features", "n_mels", 80.5), ("features", "window", 3),
                                                ("decoding", "beam_size", "8"), ("model", "bidirectional", "yes")])
def test_model_config_with_wrong_types_is_a_config_error(capsys, tmp_path, section, key, value):
    import lstm_asr
    d = _model_copy(tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    cfg[section][key] = value
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=f"{section}.{key} must be"):
        lstm_asr.load_model(d)
    code, out, err = _main(capsys, "transcribe", "--model", d, THEO)
    assert code == 1 and len(err.splitlines()) == 1 and f"{section}.{key} must be" in err
    _clean(err)


def test_model_weights_that_are_nan_are_refused_at_load(capsys, tmp_path):
    import lstm_asr
    from safetensors.torch import load_file, save_file
    d = _model_copy(tmp_path)
    state = load_file(str(d / "model.safetensors"))
    name = next(k for k in sorted(state) if state[k].is_floating_point())
    state[name][..., 0] = float("nan")
    save_file(state, str(d / "model.safetensors"))
    with pytest.raises(ConfigError, match=f"weight {name} holds NaN"):
        lstm_asr.load_model(d)
    code, out, err = _main(capsys, "transcribe", "--json", "--model", d, THEO)
    assert code == 1 and out == "" and err.startswith(f"error: {d / 'model.safetensors'}: weight")


# ---- manifests -----------------------------------------------------------------------------------
def test_manifest_bom_crlf_and_line_separators_inside_json_strings(tmp_path):
    wav = DATA / "fsdd" / "3_theo_0.wav"
    lines = [{"audio": str(wav), "text": "three", "note": "a\u2028b"},
             {"audio": str(wav), "text": "three", "note": "c\u0085d\x1ce\u2029"},
             {"audio": str(wav), "text": "three"}]
    body = "\r\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\r\n"
    (tmp_path / "m.jsonl").write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    man = read_manifest(tmp_path / "m.jsonl")
    assert len(man) == 3 and man.skipped == []
    assert man.utterances[1].extra["note"] == "c\u0085d\x1ce\u2029"
    # a bad line keeps its own number (splitting at U+2028 would shift the later ones)
    (tmp_path / "n.jsonl").write_text(body.replace('"text": "three"}', '"text": 3}'), encoding="utf-8")
    with pytest.raises(ManifestError, match=r"n\.jsonl:3: 'text' must be a string"):
        read_manifest(tmp_path / "n.jsonl")


def test_manifest_bad_durations_and_non_utf8_lines_are_bad_lines(tmp_path):
    wav = str(DATA / "fsdd" / "3_theo_0.wav")
    rows = [f'{{"audio": "{wav}", "text": "three", "duration": {d}}}'
            for d in ['"abc"', "-1", "0", "NaN", "Infinity", "true", "[1]", "1e9", "0.5"]]
    (tmp_path / "m.jsonl").write_bytes("\n".join(rows).encode() + b'\n{"audio": "x\xff.wav", "text": "one"}\n')
    man = read_manifest(tmp_path / "m.jsonl", on_error="skip")
    assert [u.duration for u in man.utterances] == [0.5]
    assert len(man.skipped) == 9 and all("'duration' must be a finite number" in m for m in man.skipped[:8])
    assert man.skipped[-1].endswith(":10: not UTF-8 text (byte 13 of the line)")
    with pytest.raises(ManifestError, match=r"m\.jsonl:1: 'duration' must be"):
        read_manifest(tmp_path / "m.jsonl")


def test_train_skip_skips_every_kind_of_bad_line_unreadable_audio_included(tmp_path):
    rows = [json.loads(l) for l in (DATA / "fsdd" / "manifest.jsonl").read_text().splitlines()]
    good = [dict(r, audio=str(DATA / "fsdd" / r["audio"])) for r in rows if r["audio"].endswith("_0.wav")][:12]
    (tmp_path / "noise.wav").write_text("not audio\n" * 50)
    cut = (DATA / "fsdd" / "3_theo_0.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(cut[: len(cut) // 2])
    bad = [{"audio": str(tmp_path / "noise.wav"), "text": "one"}, {"audio": str(tmp_path / "cut.wav"), "text": "two"},
           {"audio": str(tmp_path / "gone.wav"), "text": "three"}, dict(good[0], duration="long"),
           dict(good[1], duration=-3.0), {"text": "four"}]
    write_manifest(tmp_path / "train.jsonl", good[:6] + bad + good[6:])
    config = {"name": "tiny", "features": {"n_mels": 40, "high_freq": 3900},
              "model": {"num_layers": 1, "hidden_size": 16, "conv_channels": 8, "subsample": 4},
              "augment": {"speeds": [1.0], "pad_prob": 0.0},
              "train": {"manifests": [str(tmp_path / "train.jsonl")], "out_dir": str(tmp_path / "run"),
                        "epochs": 1, "threads": 1, "on_bad_line": "skip"}}
    logged = []
    best = train(RunConfig.from_dict(config), progress=False, log=logged.append)
    assert (best / "config.json").is_file() and (best / "model.safetensors").is_file()
    text = "\n".join(logged)
    assert "skipped 4 bad line(s)" in text
    assert f"skipped: {tmp_path / 'noise.wav'}: not a readable audio file" in text
    assert f"skipped: {tmp_path / 'cut.wav'}: truncated" in text
    config["train"].update(on_bad_line="stop", out_dir=str(tmp_path / "run2"))
    with pytest.raises(ManifestError, match=r"train\.jsonl:9: audio file not found"):
        train(RunConfig.from_dict(config), progress=False, log=lambda m: None)


def test_training_never_names_a_model_that_does_not_exist(tmp_path):
    rows = [json.loads(l) for l in (DATA / "fsdd" / "manifest.jsonl").read_text().splitlines()][:4]
    write_manifest(tmp_path / "t.jsonl", [dict(r, audio=str(DATA / "fsdd" / r["audio"])) for r in rows])
    cfg = RunConfig.from_dict({"model": {"num_layers": 1, "hidden_size": 8, "conv_channels": 8},
                               "train": {"manifests": [str(tmp_path / "t.jsonl")], "out_dir": str(tmp_path / "r"),
                                         "epochs": 1, "threads": 1}})
    cfg.train.epochs = 0  # past the config check, as a resumed or edited run could be
    with pytest.raises(ConfigError, match="no model was saved"):
        train(cfg, progress=False, log=lambda m: None)


# ---- outputs: never over an input, always whole -------------------------------------------------
def test_lm_build_output_errors_are_one_line_and_the_corpus_is_never_overwritten(capsys, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("one two three\nfour five six\n")
    before = corpus.read_bytes()
    code, _, err = _main(capsys, "lm", "build", corpus, "-o", "/nonexistent/dir/x.arpa")
    assert code == 1 and err == "error: /nonexistent/dir/x.arpa: cannot write: no such directory /nonexistent/dir\n"
    code, _, err = _main(capsys, "lm", "build", corpus, "-o", tmp_path)
    assert code == 1 and err == f"error: {tmp_path}: is a directory; give a file name to write\n"
    for same in (str(corpus), f"{tmp_path}/./corpus.txt"):
        code, _, err = _main(capsys, "lm", "build", corpus, "-o", same)
        assert code == 2 and err == f"error: {same}: is also an input ({corpus}); refusing to write over it\n"
    (tmp_path / "link.txt").symlink_to(corpus)
    code, _, err = _main(capsys, "lm", "build", tmp_path / "link.txt", "-o", corpus)
    assert code == 2 and "refusing to write over it" in err
    assert corpus.read_bytes() == before
    code, _, err = _main(capsys, "lm", "build", corpus, "-o", tmp_path / "lm.arpa.gz")
    assert code == 0 and [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    from lstm_asr.lm import NgramLM
    assert NgramLM.load(tmp_path / "lm.arpa.gz").order == 3


def test_transcribe_and_evaluate_never_write_over_an_input(capsys, tmp_path):
    shutil.copy(THEO, tmp_path / "clip.wav")
    (tmp_path / "clip.txt").write_text("precious notes\n")
    code, out, err = _main(capsys, "transcribe", "--model", "digits", "-o", tmp_path, tmp_path / "clip.wav",
                           tmp_path / "clip.txt")
    assert code == 2 and err == (f"error: {tmp_path / 'clip.txt'}: is also an input ({tmp_path / 'clip.txt'}); "
                                 "refusing to write over it\n")
    assert (tmp_path / "clip.txt").read_text() == "precious notes\n"
    manifest = tmp_path / "m.jsonl"
    write_manifest(manifest, [{"audio": "clip.wav", "text": "three"}])
    before = manifest.read_bytes()
    code, out, err = _main(capsys, "evaluate", "--model", "digits", "--manifest", manifest, "--save-hyps", manifest)
    assert code == 2 and "refusing to write over it" in err and manifest.read_bytes() == before
    # two inputs with one name would write one output file twice: refused before anything runs
    (tmp_path / "a").mkdir()
    shutil.copy(THEO, tmp_path / "a" / "clip.wav")
    code, out, err = _main(capsys, "transcribe", "--model", "digits", "-o", tmp_path / "out", tmp_path / "clip.wav",
                           tmp_path / "a" / "clip.wav")
    assert code == 2 and err == (f"error: {tmp_path / 'out' / 'clip.txt'}: both {tmp_path / 'clip.wav'} and "
                                 f"{tmp_path / 'a' / 'clip.wav'} would be written there (give them different names)\n")
    assert not (tmp_path / "out").exists()


def test_write_atomic_replaces_whole_files_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "out.txt"
    p.write_text("old\n")
    write_atomic(p, "new\n")
    assert p.read_text() == "new\n" and sorted(x.name for x in tmp_path.iterdir()) == ["out.txt"]
    with pytest.raises(ConfigError, match="no such directory"):
        write_atomic(tmp_path / "no" / "out.txt", "x")
    write_atomic(tmp_path / "a" / "b.jsonl", "x\n", mkdir=True)
    assert (tmp_path / "a" / "b.jsonl").read_text() == "x\n"
    with pytest.raises(ConfigError, match="is an input"):
        write_atomic(p, "x", inputs=[tmp_path / "out.txt"])
    assert p.read_text() == "new\n"


# ---- property-based: the audio reader and the manifest parser -----------------------------------
_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
_SEEDS = [(SAMPLES / n).read_bytes()[:6000] for n in ("3_theo_4.wav", "string_2.flac", "string_3.ogg")]


def _wav_header(fmt: int, channels: int, rate: int, bits: int, data_size: int) -> bytes:
    block = max(1, channels * bits // 8)
    fmt_chunk = (fmt.to_bytes(2, "little") + channels.to_bytes(2, "little") + rate.to_bytes(4, "little")
                 + (rate * block % 2**32).to_bytes(4, "little") + (block % 2**16).to_bytes(2, "little")
                 + bits.to_bytes(2, "little"))
    return (b"RIFF" + ((36 + data_size) % 2**32).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
            + fmt_chunk + b"data" + data_size.to_bytes(4, "little"))


_odd_files = st.one_of(
    st.binary(max_size=4000),  # anything at all
    st.builds(lambda seed, cut, flips: _mutate(_SEEDS[seed], cut, flips),  # real files, cut and damaged
              st.integers(0, len(_SEEDS) - 1), st.integers(0, 6000),
              st.lists(st.tuples(st.integers(0, 5999), st.integers(0, 255)), max_size=8)),
    st.builds(lambda fmt, ch, rate, bits, size, body: _wav_header(fmt, ch, rate, bits, size) + body,  # odd headers
              st.sampled_from([1, 3, 6, 7, 0xFFFE, 0]), st.integers(0, 65535), st.sampled_from([0, 1, 8, 1000, 8000, 16000, 2**31]),
              st.sampled_from([0, 8, 16, 24, 32, 64, 7]), st.integers(0, 2**32 - 1), st.binary(max_size=3000)),
)


def _mutate(data: bytes, cut: int, flips) -> bytes:
    b = bytearray(data[:cut])
    for pos, val in flips:
        if pos < len(b):
            b[pos] = val
    return bytes(b)


@_FUZZ
@given(data=_odd_files, suffix=st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ".bin"]))
def test_property_audio_reader_gives_audio_or_an_audio_error(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            wave = load_audio(path)
        except AudioError as e:
            assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
            return
    assert wave.dtype == np.float32 and wave.ndim == 1 and len(wave) >= 400 and np.all(np.isfinite(wave))


@_FUZZ
@given(shape=st.sampled_from([(0,), (1,), (399,), (2000,), (2000, 1), (2000, 3), (3, 2000), (2, 2), (5, 5, 5)]),
       dtype=st.sampled_from(["float32", "float64", "int16", "uint8", "int32", "float16"]),
       fill=st.sampled_from([0.0, 0.5, -1.0, 1e30, math.nan, math.inf, 40000.0]),
       rate=st.one_of(st.none(), st.integers(-10, 500000), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3)))
def test_property_arrays_give_audio_or_an_audio_error(shape, dtype, fill, rate):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # building the test array itself may overflow a small dtype
        wave = np.full(shape, fill).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            out = to_model_input(wave, rate)
        except AudioError as e:
            assert str(e).startswith("<array>: ") and "\n" not in str(e)
            return
    assert out.dtype == np.float32 and out.ndim == 1 and np.all(np.isfinite(out))


_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                            max_leaves=6)


@_FUZZ
@given(lines=st.lists(st.one_of(st.text(st.characters(blacklist_characters="\n"), max_size=40), st.dictionaries(st.sampled_from(["audio", "text", "duration", "speaker", "x"]),
                                                                       _json_values, max_size=5).map(json.dumps)),
                      max_size=8),
       eol=st.sampled_from(["\n", "\r\n"]), bom=st.booleans(), on_error=st.sampled_from(["stop", "skip"]))
def test_property_manifest_parser_gives_a_manifest_or_a_manifest_error(tmp_path, lines, eol, bom, on_error):
    path = tmp_path / "m.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + eol.join(lines).encode("utf-8", "surrogatepass"))
    try:
        man = read_manifest(path, on_error=on_error, check_audio=False)
    except ManifestError as e:
        assert str(e).startswith(f"{path}:") and "\n" not in str(e)
        return
    assert len(man.utterances) + len(man.skipped) <= len(lines)
    assert all(isinstance(u.text, str) and u.text for u in man.utterances)
    assert all(u.duration is None or (math.isfinite(u.duration) and u.duration > 0) for u in man.utterances)


@_FUZZ
@given(texts=st.lists(st.text(st.characters(codec="utf-8"), min_size=1, max_size=30), min_size=1, max_size=10))
def test_property_every_valid_line_is_one_utterance_whatever_its_characters(tmp_path, texts):
    rows = [{"audio": f"a{k}.wav", "text": "x " + t} for k, t in enumerate(texts)]
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    man = read_manifest(path, check_audio=False)
    assert [u.audio.name for u in man.utterances] == [r["audio"] for r in rows]
