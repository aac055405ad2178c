"""Experiment: do several runs of the recipe, asked together, read single words better than each?

    python recipes/digits-commands/ensemble.py --manifest data/digits-commands/test_sc_commands.jsonl \
        --words "yes no up down left right on off stop go" MODEL_DIR [MODEL_DIR ...]

Each model reads each whole clip and scores every listed word by its exact CTC probability (the
one-word decoder, `--one-word`, with the model's own priors); the ensemble's word is the one whose
summed log-probability over the models is highest (a product of the models' likelihoods, free of
their alignments, which differ from run to run). Prints one JSON line: n, each model's accuracy,
the ensemble's and the clips every model gets wrong (whole clips, no speech segmenter, so a model's own figure can differ from
`lstm-asr evaluate --one-word` by a clip or two).
"""
import argparse
import dataclasses
import json
import math

from lstm_asr.audio import load_audio
from lstm_asr.data import read_manifest
from lstm_asr.transcribe import Recognizer

BATCH = 32


def word_scores(rec, waves, words):
    """Each clip's {word: log p(word | clip)} under one model."""
    opts = dataclasses.replace(rec.options, words=words, one_word=True, beam_size=None)
    out = []
    for i in range(0, len(waves), BATCH):
        lp, lengths = rec.posteriors(waves[i:i + BATCH])
        for j in range(lp.shape[0]):
            dec = rec.decoder(opts)
            dec.accept(lp[j, :int(lengths[j])])
            out.append({h.text: h.score for h in dec.finalize(nbest=len(words))})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--words", required=True)
    ap.add_argument("models", nargs="+")
    args = ap.parse_args(argv)
    words = args.words.split()
    utts = list(read_manifest(args.manifest).utterances)
    waves = [load_audio(u.audio) for u in utts]
    refs = [u.text for u in utts]
    per_model = [word_scores(Recognizer.from_dir(m), waves, words) for m in args.models]

    def choices(scores):
        return [max(words, key=lambda w: s.get(w, -math.inf)) for s in scores]

    def accuracy(scores):
        return round(sum(c == r for c, r in zip(choices(scores), refs)) / len(refs), 4)

    summed = [{w: sum(m[k].get(w, -math.inf) for m in per_model) for w in words} for k in range(len(refs))]
    print(json.dumps({"manifest": args.manifest, "n": len(refs), "words": args.words,
                      "models": {m: accuracy(s) for m, s in zip(args.models, per_model)},
                      "ensemble": accuracy(summed),
                      "wrong_in_every_model": sum(all(c != r for c in cs) for cs, r in
                                                  zip(zip(*(choices(s) for s in per_model)), refs))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
