"""Section 3 of benchmarks/cells.py: vanishing gradients. ||dL/dx_t|| against the number of steps back,
for fresh cells and for section 2's trained ones.

    python benchmarks/cells_gradients.py [--minutes-per-run 3] [--quick] [--out docs] [--noise-dir DIR]

Part of benchmarks/cells.py, which runs every section and writes OUT/cells.md. Run alone, this file
runs section 2 (cells_memory.py) first, since the trained profiles need its models, prints both
sections' part of the report, writes OUT/cells/s2_delay.png and s3_gradients.png and replaces the "s2"
and "s3" entries of OUT/cells.json (cells.md is left as it is). ``cells.py --sections 3`` instead
profiles fresh cells only.
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import torch

import cells_memory
from cells_common import CELL_NAMES, COLORS, Classifier, main, save, sci, table
from cells_memory import DIGITS, S2_DELAYS, DelayData, s2_logits, s2_model_config, s2_noise, s2_plan

SECTION = 3


def grad_profile(model: Classifier, feats: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Mean over the batch of ||dL/dx_t|| (L: cross-entropy at the last step) indexed by the number
    of steps back from the last frame (0 = the last frame itself). In float64, so that gradients
    far below float32's range (1e-45) still show as numbers rather than zeros."""
    model = copy.deepcopy(model).double().eval()
    x = feats.double().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = torch.nn.functional.cross_entropy(s2_logits(model, x), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, x)
    return g.norm(dim=-1).mean(0).flip(0).numpy()  # (T,): steps back 0, 1, ...


def results(ctx: dict, done: dict, earlier: dict) -> dict:
    """The profiles of fresh cells, and of section 2's trained ones when it ran before this."""
    from safetensors.torch import load_file
    s2 = earlier.get("s2")
    _, noise_test, _ = s2_noise(ctx["noise_dir"])
    data = DelayData(ctx["man"]["test"], ctx["sz"]["s3_batch"], 3, noise_test)
    delay = max(S2_DELAYS)
    feats, y = data.batch(np.arange(len(data)), delay, np.random.default_rng(7))
    plan = ctx.get("s2_plan") or s2_plan()
    out = {}
    for cell in CELL_NAMES:
        torch.manual_seed(0)
        model = Classifier(s2_model_config(cell, plan[cell]["hidden"]), len(DIGITS))
        profiles = {"fresh": grad_profile(model, feats, y)}
        if s2 and Path(s2["cells"][cell]["weights"]).is_file():
            model.load_state_dict(load_file(s2["cells"][cell]["weights"]))
            profiles["trained"] = grad_profile(model, feats, y)
        out[cell] = {}
        for kind, g in profiles.items():
            ratio = lambda k: float(g[k] / g[0]) if k < len(g) and g[0] > 0 else None  # noqa: E731
            out[cell][kind] = {"ratio_100": ratio(100), "ratio_300": ratio(300), "g0": float(g[0]),
                               "profile": [float(v) for v in g]}
    plt = ctx["plt"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for cell in CELL_NAMES:
        for kind, ls in (("fresh", "--"), ("trained", "-")):
            if kind in out[cell]:
                g = np.array(out[cell][kind]["profile"])
                ax.semilogy(np.arange(len(g)), np.maximum(g, 1e-300), ls=ls, color=COLORS[cell],
                            label=f"{cell}, {kind}")
    ax.set(xlabel="steps back from the last frame (T - t)", ylabel="||dL/dx_t|| (batch mean)",
           title=f"gradient reaching the input ({delay}-frame delay, T = {feats.shape[1]})")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save(fig, ctx, "s3_gradients.png")
    return {"delay": delay, "batch": len(data), "length": int(feats.shape[1]), "cells": out}


def report(res: dict) -> list[str]:
    """This section's lines of cells.md."""
    s, plots = res["s3"], res["plots_dir"]
    L = ["## 3. Vanishing gradients", "",
         "‖∂L/∂x_t‖: the norm of the gradient of the last-step loss (cross-entropy of the section-2 "
         f"classifier) with respect to the input features at frame t, averaged over {s['batch']} test "
         f"examples with a {s['delay']}-frame delay ({s['length']} frames each), in float64, plotted against the "
         "number of steps back from the last frame. Fresh = PyTorch's default initialisation (seed 0); "
         "trained = the section-2 models. The ratios say what fraction of the gradient at the last step "
         "still reaches the input 100 and 300 steps earlier.", ""]
    rows = []
    for cell, kinds in s["cells"].items():
        for kind, r in kinds.items():
            rows.append([cell, kind, sci(r["g0"]), sci(r["ratio_100"]), sci(r["ratio_300"])])
    L += table(["cell", "weights", "‖∂L/∂x_t‖ at the last step", "ratio 100 steps back / last",
                "ratio 300 steps back / last"], rows)
    L += ["", f"![gradient norms]({plots}/s3_gradients.png)", ""]
    return L


if __name__ == "__main__":
    sys.exit(main(__doc__, [cells_memory, sys.modules[__name__]], alone="gradients"))
