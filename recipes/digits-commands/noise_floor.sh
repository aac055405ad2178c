# The front end's noise floor (features.noise_floor, 2026-12-02): both shipped models scored with
# the floor (1.0, as shipped until the level floor came) and without it (0: Kaldi's float epsilon only, as trained), on the dev
# speakers (where the floor was chosen) and on every test set, plus the same sets with digital
# silence (digital_silence.py). The models' weights are the same; only the front end differs.
#   bash recipes/digits-commands/noise_floor.sh      (about 25 min on 2 cores)
# Needs data/digits-commands (prepare.py here). Writes results/noise_floor_scores.jsonl.
set -euo pipefail
. recipes/digits-commands/front_end_variants.sh
OUT=$R/results/noise_floor_scores.jsonl
derived_sets
for model in digits-commands digits-commands-streaming; do  # the same model with the floor on and off
  for floor in 0 1; do  # (and without the later level floor, level_floor.sh, as measured then)
    model_copy $model runs/noise-floor-$floor/$model "c['features'].update(noise_floor=$floor.0, level_floor_db=None)"
  done
done
: > $OUT
for set in dev dev_sc_seq dev_sc_strings dev_pad dev_seq_zero $(cd $D && ls test*.jsonl | sed 's/.jsonl$//'); do
  for model in digits-commands digits-commands-streaming; do
    score runs/noise-floor-1/$model $set '{"noise_floor": 1.0}' >> $OUT &
    score runs/noise-floor-0/$model $set '{"noise_floor": 0.0}' >> $OUT & wait
  done
  tail -n 4 $OUT
done
