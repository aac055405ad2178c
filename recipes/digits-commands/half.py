"""Model weights to float16 and back, to carry models in half the bytes (gpu.sh's return trip).

    python recipes/digits-commands/half.py MODEL_DIR...            model.safetensors -> model.fp16.safetensors
    python recipes/digits-commands/half.py --back MODEL_DIR...     model.fp16.safetensors -> model.safetensors (float32)
"""
from __future__ import annotations

import sys
from pathlib import Path

from safetensors.torch import load_file, save_file


def main(argv: list[str]) -> int:
    back = argv[:1] == ["--back"]
    for d in map(Path, argv[1:] if back else argv):
        src, dst = ("model.fp16.safetensors", "model.safetensors") if back else ("model.safetensors", "model.fp16.safetensors")
        state = load_file(d / src)
        dtype = "float" if back else "half"
        save_file({k: getattr(v, dtype)() if v.is_floating_point() else v for k, v in state.items()}, d / dst)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
