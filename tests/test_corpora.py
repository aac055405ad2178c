"""Corpus import (lstm_asr.corpora, `lstm-asr data import`): tiny fake LibriSpeech, Common Voice
and Kaldi corpora with real audio files, their manifests read back by lstm_asr.data.read_manifest,
and the error paths (FILE:LINE messages, piped wav.scp, usage errors with exit 2)."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import run_cli
from lstm_asr.corpora import UsageError, import_corpus
from lstm_asr.data import read_manifest
from lstm_asr.errors import ManifestError

SR = 16000


def tone(path: Path, seconds: float, sr: int = SR, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr, format=fmt)
    return path


def rows(manifest: Path) -> list[dict]:
    return [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]


# -- LibriSpeech ------------------------------------------------------------------------------------

def librispeech(root: Path, subset: str = "dev-clean") -> Path:
    """Three utterances (two speakers, tones of 0.5-1 s) as ROOT/LibriSpeech/SUBSET; returns that folder."""
    subset = root / "LibriSpeech" / subset
    for spk, ch, utts in (("84", "121123", [("0000", "GO DO YOU HEAR", 1.0), ("0001", "BUT IN LESS THAN FIVE MINUTES", 0.5)]),
                          ("174", "50561", [("0000", "FORGOTTEN TOO THE NAME OF GILLIAN'S LOVER", 0.75)])):
        d = subset / spk / ch
        lines = []
        for utt, text, seconds in utts:
            tone(d / f"{spk}-{ch}-{utt}.flac", seconds)
            lines.append(f"{spk}-{ch}-{utt} {text}")
        (d / f"{spk}-{ch}.trans.txt").write_text("\n".join(lines) + "\n")
    return subset


def test_librispeech(tmp_path):
    subset = librispeech(tmp_path)
    out = tmp_path / "manifests" / "dev.jsonl"
    res = import_corpus("librispeech", tmp_path / "LibriSpeech", out)
    assert (res.rows, res.skipped, res.seconds) == (3, 0, 2.25)
    got = rows(out)
    assert got[0] == {"audio": "../LibriSpeech/dev-clean/174/50561/174-50561-0000.flac",
                      "text": "forgotten too the name of gillian's lover", "speaker": "174", "duration": 0.75}
    assert [r["speaker"] for r in got] == ["174", "84", "84"]
    man = read_manifest(out)
    assert [u.text for u in man.utterances][1:] == ["go do you hear", "but in less than five minutes"]
    assert all(u.audio.is_file() for u in man.utterances)
    assert man.utterances[1].audio.samefile(subset / "84" / "121123" / "84-121123-0000.flac")


def test_librispeech_bad_line_and_missing_audio(tmp_path):
    subset = librispeech(tmp_path)
    trans = subset / "84" / "121123" / "84-121123.trans.txt"
    trans.write_text(trans.read_text() + "84-121123-0002\n84-121123-0003 NO AUDIO HERE\n")
    with pytest.raises(ManifestError) as e:
        import_corpus("librispeech", subset, tmp_path / "m.jsonl")
    assert str(e.value).startswith(f"{trans}:3: expected 'UTTERANCE-ID TRANSCRIPT'")
    assert not (tmp_path / "m.jsonl").exists()  # nothing half-written
    logged = []
    res = import_corpus("librispeech", subset, tmp_path / "m.jsonl", on_error="skip", log=logged.append)
    assert (res.rows, res.skipped) == (3, 2)
    assert logged[0].startswith(f"{trans}:3:") and logged[1].startswith(f"{trans}:4: audio file not found")
    assert len(read_manifest(tmp_path / "m.jsonl")) == 3


# -- Common Voice -----------------------------------------------------------------------------------

CV_HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment"


def commonvoice(root: Path) -> Path:
    lang = root / "cv-corpus" / "en"
    tone(lang / "clips" / "common_voice_en_1.mp3", 1.2, sr=48000, fmt="MP3") if "MP3" in sf.available_formats() \
        else tone(lang / "clips" / "common_voice_en_1.mp3", 1.2, sr=48000, fmt="WAV")
    tone(lang / "clips" / "common_voice_en_2.wav", 0.5)
    (lang / "validated.tsv").write_text(
        CV_HEADER + "\n"
        "abc123\tcommon_voice_en_1.mp3\t\"Hello,\" she said — WORLD!\t2\t0\t\t\t\ten\t\n"
        "def456\tcommon_voice_en_2.wav\tThe café's open.\t2\t0\t\t\t\ten\t\n", encoding="utf-8")
    (lang / "test.tsv").write_text(CV_HEADER + "\n" "def456\tcommon_voice_en_2.wav\tTest only.\t2\t0\t\t\t\ten\t\n")
    return lang


def test_commonvoice(tmp_path):
    lang = commonvoice(tmp_path)
    out = lang / "validated.jsonl"
    res = import_corpus("commonvoice", lang, out)
    assert (res.rows, res.skipped) == (2, 0)
    got = rows(out)
    assert got[0]["audio"] == "clips/common_voice_en_1.mp3" and got[0]["speaker"] == "abc123"
    assert got[0]["text"] == "hello she said world"
    assert abs(got[0]["duration"] - 1.2) < 0.06  # an mp3's frame padding
    assert got[1] == {"audio": "clips/common_voice_en_2.wav", "text": "the café's open", "speaker": "def456",
                      "duration": 0.5}
    assert len(read_manifest(out)) == 2
    import_corpus("commonvoice", lang, tmp_path / "test.jsonl", split="test")
    assert [r["text"] for r in rows(tmp_path / "test.jsonl")] == ["test only"]


def test_commonvoice_errors(tmp_path):
    lang = commonvoice(tmp_path)
    tsv = lang / "validated.tsv"
    tsv.write_text(tsv.read_text() + "ghi\tmissing.mp3\tNot there\t1\t0\t\t\t\ten\t\nshort\tline\n")
    logged = []
    res = import_corpus("commonvoice", lang, tmp_path / "m.jsonl", on_error="skip", log=logged.append)
    assert res.rows == 2 and logged == [f"{tsv}:4: audio file not found: {lang / 'clips' / 'missing.mp3'}",
                                        f"{tsv}:5: 2 tab-separated fields, the header has 10"]
    with pytest.raises(UsageError, match="no dev.tsv"):
        import_corpus("commonvoice", lang, tmp_path / "m.jsonl", split="dev")
    (lang / "train.tsv").write_text("client_id\tfile\n")
    with pytest.raises(UsageError, match=r"train.tsv:1: no column path, sentence"):
        import_corpus("commonvoice", lang, tmp_path / "m.jsonl", split="train")


# -- Kaldi ------------------------------------------------------------------------------------------

def kaldi(root: Path, segments: bool = False) -> Path:
    d = root / "data" / "train"
    d.mkdir(parents=True)
    wavs = root / "wav"
    if segments:
        tone(wavs / "rec1.wav", 3.0)
        tone(wavs / "rec2.flac", 2.0)
        (d / "wav.scp").write_text(f"rec1 {wavs / 'rec1.wav'}\nrec2 {wavs / 'rec2.flac'}\n")
        (d / "segments").write_text("a-rec1-000 rec1 0.00 1.25\na-rec1-001 rec1 1.50 3.00\nb-rec2-000 rec2 0.5 -1\n")
        (d / "text").write_text("a-rec1-000 HELLO THERE\na-rec1-001 GENERAL KENOBI\nb-rec2-000 YOU ARE A BOLD ONE\n")
        (d / "utt2spk").write_text("a-rec1-000 a\na-rec1-001 a\nb-rec2-000 b\n")
    else:
        tone(wavs / "u1.wav", 1.0)
        tone(wavs / "u2.wav", 0.25)
        (d / "wav.scp").write_text(f"spk1-u1 {wavs / 'u1.wav'}\nspk2-u2 ../../wav/u2.wav\n")  # relative: to DIR
        (d / "text").write_text("spk1-u1 ONE TWO\nspk2-u2 THREE\n")
        (d / "utt2spk").write_text("spk1-u1 spk1\nspk2-u2 spk2\n")
    return d


def test_kaldi_whole_recordings(tmp_path):
    d = kaldi(tmp_path)
    out = tmp_path / "train.jsonl"
    import_corpus("kaldi", d, out)
    assert rows(out) == [{"audio": "wav/u1.wav", "text": "one two", "speaker": "spk1", "duration": 1.0},
                         {"audio": "wav/u2.wav", "text": "three", "speaker": "spk2", "duration": 0.25}]
    assert len(read_manifest(out)) == 2


def test_kaldi_segments_start_end_and_cut(tmp_path):
    d = kaldi(tmp_path, segments=True)
    out = tmp_path / "seg.jsonl"
    logged = []
    res = import_corpus("kaldi", d, out, log=logged.append)
    assert res.rows == 3 and len(logged) == 1 and "--cut" in logged[0]
    got = rows(out)
    assert got[1] == {"audio": "wav/rec1.wav", "text": "general kenobi", "speaker": "a", "duration": 1.5,
                      "start": 1.5, "end": 3.0}
    assert got[2]["start"] == 0.5 and got[2]["end"] == 2.0 and got[2]["duration"] == 1.5  # end -1: the recording's end
    man = read_manifest(out)
    assert man.utterances[0].extra == {"start": 0.0, "end": 1.25}

    cut = tmp_path / "cut"
    import_corpus("kaldi", d, tmp_path / "cut.jsonl", cut=cut)
    got = rows(tmp_path / "cut.jsonl")
    assert [r["audio"] for r in got] == ["cut/a-rec1-000.flac", "cut/a-rec1-001.flac", "cut/b-rec2-000.flac"]
    assert [r["duration"] for r in got] == [1.25, 1.5, 1.5] and not any("start" in r for r in got)
    original, _ = sf.read(tmp_path / "wav" / "rec1.wav", dtype="int16")
    piece, sr = sf.read(cut / "a-rec1-001.flac", dtype="int16")
    assert sr == SR and np.array_equal(piece, original[24000:48000])
    assert len(read_manifest(tmp_path / "cut.jsonl")) == 3


def test_kaldi_piped_wav_scp_is_refused(tmp_path):
    d = kaldi(tmp_path)
    (d / "wav.scp").write_text(f"spk1-u1 {tmp_path / 'wav' / 'u1.wav'}\nspk2-u2 sox /x/u2.sph -t wav - |\n")
    with pytest.raises(ManifestError) as e:
        import_corpus("kaldi", d, tmp_path / "m.jsonl")
    assert str(e.value).startswith(f"{d / 'wav.scp'}:2: recording spk2-u2 is a piped command")
    assert "\n" not in str(e.value)
    rc, _, err = run_cli("data", "import", "kaldi", d, "--out", tmp_path / "m.jsonl")
    assert rc == 1 and err.startswith(f"error: {d / 'wav.scp'}:2: recording spk2-u2 is a piped command")
    rc, _, err = run_cli("data", "import", "kaldi", d, "--out", tmp_path / "m.jsonl", "--on-bad-line", "skip")
    assert rc == 0 and "1 utterances" in err and "1 bad lines skipped" in err


def test_kaldi_table_errors(tmp_path):
    d = kaldi(tmp_path)
    text = (d / "text").read_text()
    (d / "text").write_text("spk2-u2 THREE\nspk1-u1 ONE TWO\n")  # not sorted
    with pytest.raises(ManifestError, match=r"text:2: key 'spk1-u1' is not after 'spk2-u2'"):
        import_corpus("kaldi", d, tmp_path / "m.jsonl")
    (d / "text").write_text(text)
    (d / "utt2spk").write_text("spk2-u2 spk2\nspk1-u1 spk1\n")
    with pytest.raises(ManifestError, match=r"text:1: utterance spk1-u1 has no line in utt2spk .*sorted"):
        import_corpus("kaldi", d, tmp_path / "m.jsonl")
    (d / "utt2spk").write_text("spk1-u1 spk1\n")
    with pytest.raises(ManifestError, match=r"text:2: utterance spk2-u2 has no line in utt2spk"):
        import_corpus("kaldi", d, tmp_path / "m.jsonl")
    (d / "utt2spk").unlink()  # optional: no speakers then
    import_corpus("kaldi", d, tmp_path / "m.jsonl")
    assert all("speaker" not in r for r in rows(tmp_path / "m.jsonl"))
    (d / "text").write_text("spk1-u1 ONE\nspk2-u2 ?!\n")  # empty after normalisation
    with pytest.raises(ManifestError, match=r"text:2: empty transcript"):
        import_corpus("kaldi", d, tmp_path / "m.jsonl")


# -- usage errors -----------------------------------------------------------------------------------

def test_usage_errors_exit_2(tmp_path):
    d = kaldi(tmp_path)
    cases = [
        (["librispeech", tmp_path / "nope"], "no such directory"),
        (["librispeech", d], "not a LibriSpeech folder"),
        (["commonvoice", d], "not a Common Voice language folder"),
        (["kaldi", tmp_path], "not a Kaldi data directory"),
        (["kaldi", d, "--cut", tmp_path / "c"], "has no segments file"),
        (["librispeech", d, "--cut", tmp_path / "c"], "--cut is for Kaldi"),
        (["kaldi", d, "--split", "test"], "--split is for Common Voice"),
    ]
    for args, message in cases:
        rc, _, err = run_cli("data", "import", *args, "--out", tmp_path / "m.jsonl")
        assert rc == 2 and message in err and err.count("\n") == 1, (args, err)
    rc, _, err = run_cli("data", "import", "kaldi", d, "--out", d / "text")
    assert rc == 2 and "refusing to write over it" in err
    rc, _, _ = run_cli("data", "import", "kaldi")
    assert rc == 2
    assert not (tmp_path / "m.jsonl").exists()


def test_cli_librispeech(tmp_path):
    librispeech(tmp_path)
    out = tmp_path / "m.jsonl"
    rc, _, err = run_cli("data", "import", "librispeech", tmp_path / "LibriSpeech", "--out", out)
    assert rc == 0 and f"{out}: 3 utterances" in err
    assert len(read_manifest(out)) == 3
