"""recipes/digits-commands/prepare.py: its speaker split and its held-out variants (--holdout, --no-other15).

Built from the bundled real clips, copied under new names and labels: prepare.py splits by the
manifest's speakers and words, so the audio's content does not matter here.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PREPARE = ROOT / "recipes/digits-commands/prepare.py"
DIGITS = "zero one two three four five six seven eight nine".split()
WORDS20 = DIGITS + "yes no up down left right on off stop go".split()
OTHER15 = "bed bird cat dog happy house marvin sheila tree wow backward forward follow learn visual".split()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """A Speech Commands-like set (30 speakers, each saying 4 of the 35 words) and an FSDD-like set."""
    base = tmp_path_factory.mktemp("corpora")
    clips = sorted((ROOT / "tests/data/speech_commands").glob("*.wav"))
    words = WORDS20 + OTHER15
    sc, rows = base / "sc", []
    sc.mkdir()
    for s in range(30):
        for k in range(4):
            n = s * 4 + k
            name = f"c{n}.wav"
            shutil.copy(clips[n % len(clips)], sc / name)
            rows.append({"audio": name, "text": words[n % len(words)], "speaker": f"s{s:02d}"})
    (sc / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    fsdd, rows = base / "fsdd", []
    fsdd.mkdir()
    src = sorted((ROOT / "tests/data/fsdd").glob("*.wav"))
    for j, spk in enumerate(["george", "jackson", "theo"]):
        for index in range(8):
            name = f"{index % 10}_{spk}_{index}.wav"
            shutil.copy(src[(j * 8 + index) % len(src)], fsdd / name)
            rows.append({"audio": name, "text": DIGITS[index % 10], "speaker": spk})
    (fsdd / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return sc, fsdd


def prepare(corpora, out, *args):
    sc, fsdd = corpora
    return subprocess.run([sys.executable, str(PREPARE), "--sc", str(sc), "--fsdd", str(fsdd), "--out", str(out),
                           "--sc-seqs", "20", "--fsdd-seqs", "10", "--test-seqs", "10", *args],
                          capture_output=True, text=True)


def read(out, name):
    return [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]


def words_of(rows):
    return {w for r in rows for w in r["text"].split()}


def test_split_by_speaker_and_held_out_variants(corpora, tmp_path):
    full, held = tmp_path / "full", tmp_path / "held"
    done = prepare(corpora, full)
    assert done.returncode == 0, done.stderr
    done = prepare(corpora, held, "--holdout", "george", "--no-other15")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["no_other15"] is True

    # speakers: train, dev and test never share one
    spk = {name: {r["speaker"] for r in read(full, name)}
           for name in ("sc_train", "dev", "test_sc_commands", "test_sc_digits", "test_sc_other", "dev_sc_other")}
    test = spk["test_sc_commands"] | spk["test_sc_digits"] | spk["test_sc_other"]
    assert not spk["sc_train"] & test and not spk["sc_train"] & (spk["dev"] | spk["dev_sc_other"])

    # the full recipe trains on the 15 other words; the variant on none of them, singles or strings
    assert words_of(read(full, "sc_train")) & set(OTHER15)
    for name in ("sc_train", "sc_seq_train", "fsdd_train", "fsdd_seq_train"):
        assert not words_of(read(held, name)) & set(OTHER15), name
    assert {r["speaker"] for r in read(held, "sc_train")} <= spk["sc_train"]
    # ... and is tested on exactly the same unseen speakers' clips
    for name in ("dev", "dev_sc_other", "test_sc_other", "test_sc_commands", "test_sc_digits"):
        assert [r["audio"] for r in read(held, name)] == [r["audio"] for r in read(full, name)], name

    # FSDD: official split (indices 0-4 test) against one speaker left out entirely
    assert {Path(r["audio"]).name for r in read(full, "test_fsdd")} == \
        {f"{i}_{s}_{i}.wav" for s in ("george", "jackson", "theo") for i in range(5)}
    assert {r["speaker"] for r in read(held, "test_fsdd")} == {"george"} and len(read(held, "test_fsdd")) == 8
    assert "george" not in {r["speaker"] for r in read(held, "fsdd_train")}
    assert len(read(held, "fsdd_train")) == 2 * 3  # indices 5-7 of the other two speakers


def test_unknown_holdout_speaker_is_one_line_error(corpora, tmp_path):
    done = prepare(corpora, tmp_path / "x", "--holdout", "nobody")
    assert done.returncode != 0
    assert "nobody: no such speaker" in done.stderr and "Traceback" not in done.stderr
