"""benchmarks/cells_*.py's own classifier (the library's models are CTC only): it reads each
utterance's real frames only, has the CTC model's parameters, and section 6's loop trains it."""
import json
import sys
from pathlib import Path

import torch

from conftest import DATA

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import cells_keras  # noqa: E402
import cells_memory  # noqa: E402
from cells_common import Classifier, n_params  # noqa: E402


def test_the_classifier_reads_real_frames_only_and_matches_section_2s_fast_path():
    torch.manual_seed(0)
    m = Classifier({**cells_keras.KERAS_MODEL, "bidirectional": True, "hidden_size": 8, "num_layers": 1}, 3).eval()
    x = torch.randn(1, 16, 80)
    alone = m(x, torch.tensor([16]))
    padded = torch.cat([x, torch.randn(1, 10, 80) * 50], dim=1)  # garbage after the end
    batch = m(torch.cat([padded, torch.randn(1, 26, 80)]), torch.tensor([16, 26]))
    assert alone.shape == (1, 3) and torch.allclose(batch[0], alone[0], atol=1e-5)

    cfg = cells_memory.s2_model_config("gru", 20)
    m = Classifier(cfg, 10).eval()
    assert m.num_parameters() == n_params(cfg)
    x, lengths = torch.randn(2, 30, 40), torch.tensor([30, 30])
    assert torch.allclose(cells_memory.s2_logits(m, m.frontend(x, lengths)[0]), m(x, lengths), atol=1e-5)


def test_section_6_trains_and_scores_its_classifier(tmp_path):
    rows = [json.loads(line) for line in (DATA / "fsdd" / "manifest.jsonl").read_text().splitlines()]
    man = tmp_path / "digits.jsonl"
    man.write_text("".join(json.dumps({**r, "audio": str(DATA / "fsdd" / r["audio"])}) + "\n" for r in rows))
    torch.set_num_threads(1)
    job = cells_keras.keras_job({"minutes": 0.001, "train": str(man), "dev": str(man), "out_dir": str(tmp_path / "k")})
    assert len(job["classes"]) == 10 and len(job["curves"]) == 1 and Path(job["weights"]).is_file()
    waves, labels, classes = cells_keras.labelled(str(man), job["classes"])
    ev = cells_keras.evaluate_classifier(job, waves[:8], [classes[i] for i in labels[:8]])
    assert ev["params"] == 157_994 and 0 <= ev["accuracy"] <= 1 and ev["ms_per_audio_s"] > 0
