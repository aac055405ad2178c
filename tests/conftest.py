import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SAMPLES = ROOT / "samples"
SHARED = ROOT.parent / "shared" / "data"
ARCTIC = DATA / "arctic_a0001.wav"  # real 16 kHz speech from CMU ARCTIC (tests/data/LICENSE.cmu_arctic)


def run_cli(*args, cwd=None):
    """Run `lstm-asr ARGS` in a subprocess: (returncode, stdout, stderr)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "lstm_asr.cli", *map(str, args)], capture_output=True, text=True,
                       cwd=cwd or ROOT, env=env, timeout=600)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="session")
def digits_model():
    """The earlier digits-only bundled model (tests tied to its outputs name it explicitly)."""
    import lstm_asr
    return lstm_asr.load_model("digits")


@pytest.fixture(scope="session")
def default_model():
    """The bundled default model (digits and commands)."""
    import lstm_asr
    return lstm_asr.load_model()


def needs_shared(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"needs the full data set at {path} (not in a fresh clone)")


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    """The CMU ARCTIC clip as float32 at 16 kHz."""
    wave, sr = sf.read(ARCTIC, dtype="float32")
    assert sr == 16000 and wave.ndim == 1
    return wave


def cli_in_process(capsys, *argv) -> tuple[int, str, str]:
    """``lstm-asr ARGV`` in this process (the same entry point as the console script) -> (exit
    status, stdout, stderr)."""
    from lstm_asr import cli
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
