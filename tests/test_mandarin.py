"""The bundled Mandarin model: characters in, characters out, end to end (CLI, evaluate)."""
import json
from pathlib import Path

from conftest import run_cli

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "mandarin"
TEXTS = {"digits_1.flac": "五二八三三七三一", "commands_1.flac": "一走六六不七上不"}


def test_mandarin_model_transcribes_held_out_voices_in_characters():
    code, out, err = run_cli("transcribe", "--model", "mandarin", "--json", *(SAMPLES / f for f in TEXTS))
    assert code == 0, err
    got = {Path(d["audio"]).name: d["text"] for d in map(json.loads, out.splitlines())}
    assert got == TEXTS  # no spaces between the characters, as Chinese is written


def test_mandarin_evaluate_scores_characters(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"audio": str(SAMPLES / f), "text": t}, ensure_ascii=False) + "\n"
                                for f, t in TEXTS.items()), encoding="utf-8")
    code, out, err = run_cli("evaluate", "--model", "mandarin", "--manifest", manifest, "--json", "--no-progress")
    assert code == 0, err
    report = json.loads(out)
    assert report["n"] == 2 and report["cer"] == 0.0 and report["sent_acc"] == 1.0


def test_mandarin_word_list_of_english_words_is_refused_clearly():
    code, out, err = run_cli("transcribe", "--model", "mandarin", "--words", "yes no", SAMPLES / "digits_1.flac")
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
