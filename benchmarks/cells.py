"""Why LSTM or GRU rather than a plain RNN: one benchmark, measured on real speech.

    python benchmarks/cells.py [--data data/digits] [--minutes-per-run 3] [--quick] [--out docs]

Writes ``OUT/cells.md`` (the report), ``OUT/cells.json`` (the raw numbers) and ``OUT/cells/*.png``.
Trainings run under ``--work`` (default ``runs/cells/full``, or ``runs/cells/quick``), which is
emptied first. Every number in the report is measured by this run; nothing is hard-coded.

Sections
  1. RNN vs LSTM vs GRU, equal parameter budgets, equal wall time, CTC on connected digit strings.
  2. Long delays: which digit was said, read from the last step after 0-500 frames of real noise.
  3. Vanishing gradients: ||dL/dx_t|| against the number of steps back, fresh and trained cells.
  4. LSTM hidden-size sweep: parameters, inference speed (batch 1 / 16), accuracy after a short budget.
  5. Overfitting on 150 utterances: no regularisation vs dropout 0.3 + weight decay 0.05.
  6. The seed's Keras classifier (LSTM 128 -> LSTM 64 -> softmax) next to the CTC models.

Every process uses one torch thread. The trainings are independent jobs run by ``--workers``
(default 2) spawned worker processes, one per core; evaluation and inference timing happen
afterwards in the main process, alone, on one thread.

Each section is a file of its own that also runs alone (cells_budget.py, cells_memory.py,
cells_gradients.py, cells_hidden.py, cells_overfit.py, cells_keras.py, in the order above);
cells_common.py holds what they share, this run included.
"""
from __future__ import annotations

import sys

import cells_budget
import cells_gradients
import cells_hidden
import cells_keras
import cells_memory
import cells_overfit
from cells_common import main

EXPERIMENTS = [cells_budget, cells_memory, cells_gradients, cells_hidden, cells_overfit, cells_keras]  # report order


if __name__ == "__main__":
    sys.exit(main(__doc__, EXPERIMENTS))
