# The front end's level floor (features.level_floor_db, 2026-12-02): both shipped models scored
# with the floor they ship with and without it (the 1-LSB noise floor alone, as shipped before),
# on the dev speakers and on every test set, plus the sets with digital silence or 20 dB quieter
# (digital_silence.py). The weights are the same; only the front end differs.
#   bash recipes/digits-commands/level_floor.sh          (about 15 min on 2 cores)
#   bash recipes/digits-commands/level_floor.sh sweep    (the dev sweep that chose the values)
# Needs data/digits-commands (prepare.py here). Writes results/level_floor_scores.jsonl, or
# results/level_floor_sweep.jsonl: each candidate floor on the six dev sets; per model, the one
# with the lowest mean WER over them ships (30 dB for digits-commands, 35 dB for the streaming one),
# then the streaming model's look-ahead likewise (100/100 ships). "lsb1" is each model as shipped
# before the level floor (the streaming one at 25/75).
set -euo pipefail
. recipes/digits-commands/front_end_variants.sh
derived_sets
variant() {  # MODEL NAME LEVEL_DB NOISE_FLOOR [CHUNK RIGHT_CONTEXT] -> a copy of the model with
  # that front end (and, for the streaming model, that look-ahead), in runs/floors
  model_copy $1 runs/floors/$1-$2 "c['features'].update(level_floor_db=$3, noise_floor=$4)
if len(sys.argv) > 2: c['model'].update(chunk=int(sys.argv[2]), right_context=int(sys.argv[3]))" ${5:-} ${6:-}
  echo runs/floors/$1-$2
}
LC_BEFORE="25 75"  # the streaming model's look-ahead when the floors were swept (chunk, right context)
if [ "${1:-}" = sweep ]; then
  OUT=$R/results/level_floor_sweep.jsonl
  : > $OUT
  for model in digits-commands digits-commands-streaming; do
    lc=$([ $model = digits-commands ] || echo $LC_BEFORE)
    for c in "level20 20 1.0" "level25 25 1.0" "level30 30 1.0" "level35 35 1.0" "level40 40 1.0" \
             "level50 50 1.0" "lsb1 None 1.0" "lsb10 None 10.0" "lsb30 None 30.0"; do
      set -- $c
      m=$(variant $model $1 $2 $3 $lc)
      for set in $DEV; do score $m $set "{\"floor\": \"$1\"}" >> $OUT & in_parallel; done
    done
  done
  # then, with its floor chosen, the streaming model's look-ahead (chunk / right context in output
  # frames of 20 ms: 25/75 as trained, 1.5-2.0 s; 50/100, 2-3 s; 100/100, 2-4 s); lowest mean ships
  for c in "level35-lc50x100 50 100" "level35-lc100x100 100 100"; do
    set -- $c
    m=$(variant digits-commands-streaming $1 35 1.0 $2 $3)
    for set in $DEV; do score $m $set "{\"floor\": \"$1\"}" >> $OUT & in_parallel; done
  done
  wait
  exit 0
fi
OUT=$R/results/level_floor_scores.jsonl
: > $OUT
for model in digits-commands digits-commands-streaming; do
  variant $model lsb1 None 1.0 $([ $model = digits-commands ] || echo $LC_BEFORE) > /dev/null
done
for set in $DEV $(cd $D && ls test*.jsonl | sed 's/.jsonl$//'); do
  for model in digits-commands digits-commands-streaming; do
    score $model $set '{"floor": "shipped"}' >> $OUT & score runs/floors/$model-lsb1 $set '{"floor": "lsb1"}' >> $OUT & wait
  done
  tail -n 4 $OUT
done
