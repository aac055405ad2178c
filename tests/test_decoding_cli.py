"""Beam search, word lists, hotwords, n-best, LM building, word timestamps and long audio, through
the CLI and the Python API with the bundled model on real FSDD recordings shipped in the repo."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import DATA, ROOT, SAMPLES, run_cli
from lstm_asr.data import make_sequences, read_manifest
from lstm_asr.errors import ConfigError


@pytest.fixture(scope="module")
def strings(tmp_path_factory):
    """12 connected digit strings (2-7 digits) built from the shipped FSDD test clips, with the
    exact span of every word."""
    out = tmp_path_factory.mktemp("strings")
    rows = make_sequences(read_manifest(DATA / "fsdd" / "manifest.jsonl").utterances, out, 12, seed=3)
    return out, rows


def test_word_timestamps_land_within_a_tenth_of_a_second(digits_model, strings):
    out, rows = strings
    errors, n = [], 0
    for row in rows:
        t = digits_model.transcribe(out / row["audio"])
        if t.text != row["text"]:
            continue
        n += 1
        for w, ref in zip(t.words, row["words"]):
            assert w["word"] == ref["word"] and 0 <= w["confidence"] <= 1
            errors += [abs(w["start"] - ref["start"]), abs(w["end"] - ref["end"])]
    assert n >= 10
    errors = np.array(errors)
    assert np.mean(errors <= 0.1) >= 0.95, f"boundary errors: median {np.median(errors):.3f}s, max {errors.max():.3f}s"


def test_json_words_nbest_and_word_list(strings):
    out, rows = strings
    path = out / rows[0]["audio"]
    rc, stdout, err = run_cli("transcribe", "--model", "digits", "--json", "--nbest", "3", "--beam", "8", path)
    assert rc == 0, err
    obj = json.loads(stdout)
    assert obj["text"] == rows[0]["text"]
    assert [w["word"] for w in obj["words"]] == rows[0]["text"].split()
    assert all(set(w) == {"word", "start", "end", "confidence"} for w in obj["words"])
    texts = [h["text"] for h in obj["nbest"]]
    assert len(texts) == 3 and len(set(texts)) == 3 and texts[0] == obj["text"]
    scores = [h["score"] for h in obj["nbest"]]
    assert scores == sorted(scores, reverse=True)
    # a word list: every output word is one of them
    rc, stdout, err = run_cli("transcribe", "--beam", "8", "--words", "one two three", *[out / r["audio"] for r in rows[:4]])
    assert rc == 0, err
    assert all(w in {"one", "two", "three"} for line in stdout.splitlines() for w in line.split())


def test_word_list_file_hotwords_and_bad_decoding_options(tmp_path, strings):
    out, rows = strings
    (tmp_path / "words.txt").write_text("zero one two three four five six seven eight nine\n")
    rc, stdout, err = run_cli("transcribe", "--words-file", tmp_path / "words.txt", "--hotword", "seven:2",
                              out / rows[1]["audio"])
    assert rc == 0, err
    assert stdout.strip() == rows[1]["text"]
    rc, _, err = run_cli("transcribe", "--words", "日本", out / rows[1]["audio"])
    assert rc == 1 and "cannot output" in err and "Traceback" not in err
    rc, _, err = run_cli("transcribe", "--lm", tmp_path / "none.arpa", out / rows[1]["audio"])
    assert rc == 1 and err.strip() == f"error: {tmp_path / 'none.arpa'}: no such LM file"
    rc, _, err = run_cli("transcribe", "--hotword", "seven:lots", out / rows[1]["audio"])
    assert rc == 2 and "argument --hotword: 'seven:lots': the bonus must be a finite number" in err


def test_lm_build_and_decode_with_it(tmp_path, strings):
    out, rows = strings
    (tmp_path / "corpus.txt").write_text("\n".join(r["text"] for r in rows) + "\n")
    rc, _, err = run_cli("lm", "build", tmp_path / "corpus.txt", "-o", tmp_path / "lm.arpa", "--order", "2")
    assert rc == 0, err
    assert (tmp_path / "lm.arpa").read_text().startswith("\\data\\")
    rc, stdout, err = run_cli("transcribe", "--beam", "8", "--lm", tmp_path / "lm.arpa", "--alpha", "0.3",
                              out / rows[2]["audio"])
    assert rc == 0, err
    assert stdout.strip() == rows[2]["text"]
    rc, _, err = run_cli("lm", "build", tmp_path / "missing.txt", "-o", tmp_path / "x.arpa")
    assert rc == 1 and "cannot read corpus" in err


def test_long_audio_gives_one_json_line_per_segment(tmp_path):
    wav, ref = tmp_path / "long.wav", tmp_path / "long.jsonl"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_long_audio.py"), "--minutes", "1.5", "--out",
                    str(wav), "--ref", str(ref), "--fsdd", str(DATA / "fsdd")], check=True, capture_output=True)
    rc, stdout, err = run_cli("transcribe", "--json", "--long-over", "30", wav)
    assert rc == 0, err
    segs = [json.loads(line) for line in stdout.splitlines()]
    assert len(segs) >= 10
    assert all(s["audio"] == str(wav) and s["text"] for s in segs)
    starts = [s["start"] for s in segs]
    assert starts == sorted(starts) and all(s["end"] > s["start"] for s in segs)
    assert segs[-1]["end"] <= 90.5
    for s in segs:  # word timestamps are absolute (seconds from the start of the file)
        for w in s.get("words", []):
            assert s["start"] - 0.05 <= w["start"] < w["end"] <= s["end"] + 0.05
    from lstm_asr.metrics import wer
    refs = [json.loads(line)["text"] for line in ref.read_text().splitlines()]
    assert wer([" ".join(refs)], [" ".join(s["text"] for s in segs)]) < 0.1
    rc, stdout, err = run_cli("transcribe", "--long-over", "30", wav)   # plain: one line for the file
    assert rc == 0 and len(stdout.splitlines()) == 1


DIGITS = ["eight", "five", "four", "nine", "one", "seven", "six", "three", "two", "zero"]


def test_python_api_decoding_options_and_the_models_default(digits_model, strings):
    out, rows = strings
    rec = digits_model
    # the bundled model decodes by default with beam search over its ten words (config.json "decoding")
    assert rec.default_options.beam_size == 8 and rec.default_options.words == DIGITS
    assert rec.options == rec.default_options
    try:
        rec.set_decoding(beam_size=8, nbest=2)
        t = rec.transcribe(out / rows[3]["audio"])
        assert t.text == rows[3]["text"] and len(t.nbest) == 2
        rec.set_decoding()
        assert rec.options.greedy
        assert rec.transcribe(out / rows[3]["audio"]).text.split()[0][:2] == rows[3]["text"][:2]
    finally:
        rec.set_decoding(rec.default_options)


def test_greedy_flag_overrides_the_models_default_decoder(strings):
    out, rows = strings
    rc, stdout, err = run_cli("transcribe", "--json", "--greedy", "--nbest", "2", out / rows[4]["audio"])
    assert rc == 0, err
    obj = json.loads(stdout)
    assert len(obj["nbest"]) == 2  # --nbest switches beam search on over greedy, without the word list
    rc, stdout, err = run_cli("transcribe", "--greedy", out / rows[4]["audio"])
    assert rc == 0 and stdout.strip()


def test_cli_and_api_decode_alike_and_per_call_options_leave_the_model_alone(digits_model, strings):
    from lstm_asr import DecodeOptions
    out, rows = strings
    paths = [out / r["audio"] for r in rows[:6]]
    for flags, opts in ((["--words", "one two three"], DecodeOptions(words=["one", "two", "three"])),
                        (["--greedy"], DecodeOptions()),
                        (["--greedy", "--hotword", "seven"], DecodeOptions(hotwords={"seven": DecodeOptions.HOTWORD_BONUS})),
                        (["--greedy", "--beam", "3", "--nbest", "2"], DecodeOptions(beam_size=3, nbest=2))):
        rc, stdout, err = run_cli("transcribe", "--json", "--model", "digits", *flags, *paths)
        assert rc == 0, err
        cli = [json.loads(line) for line in stdout.splitlines()]
        before = digits_model.options
        api = [digits_model.transcribe(p, options=opts) for p in paths]
        assert digits_model.options is before  # a per-call option changes nothing for later calls
        assert [c["text"] for c in cli] == [a.text for a in api], flags
        assert [c.get("words") for c in cli] == [a.words or None for a in api]
        assert [c.get("nbest") for c in cli] == [a.nbest or None for a in api]
    assert DecodeOptions(words=["a"]).beam == DecodeOptions.AUTO_BEAM and DecodeOptions().beam == 1
    assert DecodeOptions(words=["a"], beam_size=2).beam == 2 and DecodeOptions().greedy


def test_one_word_gives_one_listed_word_per_segment_ranked(default_model, tmp_path):
    yes = SAMPLES / "yes_0ea0e2f4_0.wav"
    rc, stdout, err = run_cli("transcribe", "--one-word", "--nbest", "3", "--json", yes)
    assert rc == 0, err
    out = json.loads(stdout)
    words = default_model.default_options.words  # the model's own list when --words is not given
    assert out["text"] == "yes" and len(out["words"]) == 1 and out["words"][0]["word"] == "yes"
    ranked = [h["text"] for h in out["nbest"]]
    assert ranked[0] == "yes" and len(set(ranked)) == 3 and set(ranked) <= set(words)
    assert [h["score"] for h in out["nbest"]] == sorted((h["score"] for h in out["nbest"]), reverse=True)
    # words it was not given are never the answer, and there always is one
    rc, stdout, err = run_cli("transcribe", "--one-word", "--words", "dog cat", yes)
    assert rc == 0 and stdout.strip() in {"dog", "cat"}, err
    # a digit string is one word per stretch of speech, so pauses make several
    from lstm_asr import DecodeOptions
    t = default_model.transcribe(SAMPLES / "commands_1.wav", options=DecodeOptions(words=words, one_word=True))
    assert t.text and set(t.text.split()) <= set(words)
    # what it cannot do is a one-line error
    with pytest.raises(ConfigError, match="needs a word list"):
        default_model.transcribe(yes, options=DecodeOptions(one_word=True))
    (tmp_path / "lm.arpa").write_text("\\data\\\nngram 1=1\n\n\\1-grams:\n-1.0 yes\n\n\\end\\\n")
    rc, _, err = run_cli("transcribe", "--one-word", "--lm", tmp_path / "lm.arpa", yes)
    assert rc == 1 and err.strip() == "error: one word per segment chooses from the word list alone: an LM does not apply"
