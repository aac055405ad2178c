"""Sentence accuracy per synthesis engine from `lstm-asr evaluate --save-hyps` files (speaker = engine/voice).

    python recipes/digits-commands/by_engine.py HYPS.jsonl [...]    -> one JSON line per file: {engine: [right, n, acc]}
"""
import json
import sys
from collections import defaultdict

for path in sys.argv[1:]:
    tally = defaultdict(lambda: [0, 0])
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        t = tally[(r.get("speaker") or "?").split("/")[0]]
        t[0] += r["hyp"] == r["ref"]
        t[1] += 1
    print(json.dumps({"hyps": path, **{e: [k, n, round(k / n, 3)] for e, (k, n) in sorted(tally.items())}}))
