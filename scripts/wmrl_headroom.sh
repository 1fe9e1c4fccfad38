#!/usr/bin/env bash
# Issue 17's headroom runs: world-model RL from BC on 25 % of the successful demos (BC at full data leaves no room),
# three RL seeds with the card's settings (16 worlds x 4 chunk steps, 100 iterations, checkpoints scored on the
# selection seeds 42-91 and by the world model, BC and both chosen checkpoints on 200 report seeds), resets and
# references from every successful demo of the bundle; the seeds pooled against BC by `rla-gym wmrl-summary`. Then the
# same seed 1 with the uncertainty penalty (draw disagreement x 5 and x 30; disagreement with the regression baseline x
# 5, seeds 1-3), to see whether it narrows the gap between success inside the world model and in ManiSkill. Last, BC as
# the paper trains it (all demos, 40 epochs, the best epoch on the selection seeds: `rla-gym select-bc`) and RL from it.
# Resumable (rerun it): ~25-40 min an RL run on one core of the 2-core machine, most of it ManiSkill evaluation; the
# 40-epoch BC ~1.5 h and its selection (40 checkpoints x 50 seeds) ~1.5 h. Needs $WORK/runs/bc-frac25
# (scripts/rank_policies.sh trains it) and the training data of scripts/build_default_bundle.sh ($WORK/data/train,
# heldout).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sim_env.sh
WORK=${WORK:-$HOME/rla-work}
BUNDLE=${BUNDLE:-models/ur10e-RollBall-cpu}
RG=.venv/bin/rla-gym
export OMP_NUM_THREADS=1
run() {  # out, BC policy folder, extra flags...
  local out=$1 bc=$2; shift 2
  [ -f "$out/report.json" ] && return 0
  local res=""; [ -d "$out/checkpoints" ] && res=--resume
  $RG wmrl --robot ur10e --task RollBall --bundle "$BUNDLE" --bc "$bc" --out "$out" --num-envs 16 --num-steps 4 \
    --minibatch-size 32 --iterations 100 --eval-every 25 --eval-seeds 42 91 --wm-select-worlds 32 \
    --report-episodes 200 --no-progress $res "$@"
}
BC25=$WORK/runs/bc-frac25/final
for S in 1 2 3; do run "$WORK/wmrl-frac25-s$S" "$BC25" --seed $S; done
$RG wmrl-summary "$WORK"/wmrl-frac25-s{1,2,3} | tee "$WORK/wmrl-frac25-summary.txt"
for P in 5 30; do
  out=$WORK/wmrl-frac25-s1-penalty; [ $P = 5 ] || out=$out$P
  run "$out" "$BC25" --seed 1 --uncertainty draws --uncertainty-penalty $P
done
# the other disagreement: RLA-WM against the regression baseline (~4x the draws' per step, so x5 is ~half the reward)
for S in 1 2 3; do
  run "$WORK/wmrl-frac25-s$S-penalty-reg5" "$BC25" --seed $S --uncertainty regression --uncertainty-penalty 5
done
# the guarded seeds against BC, and against the same seeds unguarded (paired per RL seed, then pooled per scene)
$RG wmrl-summary "$WORK"/wmrl-frac25-s{1,2,3}-penalty-reg5 --versus "$WORK"/wmrl-frac25-s{1,2,3} \
  | tee "$WORK/wmrl-reg5-summary.txt"
for r in "$WORK"/wmrl-frac25-s1{,-penalty,-penalty30,-penalty-reg5}; do
  $RG wmrl-summary "$r"  # one run each: its report against BC and its ManiSkill / world-model gap
done | tee "$WORK/wmrl-penalty-summary.txt"

# BC as the paper trains it, then RL from it.
R=$WORK/runs/bc-paper40
if [ ! -f "$R/final/bc_policy.safetensors" ]; then
  RES=""; [ -d "$R/checkpoints" ] && RES=--resume
  $RG train bc --bundle "$BUNDLE" --data "$WORK/data/train" --heldout "$WORK/data/heldout" --out "$R" \
    --policy-preset cpu --batch-size 64 --epochs 40 --keep-checkpoints 40 --threads 1 --no-progress $RES
fi
[ -f "$R-best/bc_policy.json" ] || $RG select-bc "$R" --bundle "$BUNDLE" --out "$R-best" | tee "$R-selection.txt"
run "$WORK/wmrl-paper40-s1" "$R-best" --seed 1
$RG wmrl-summary "$WORK/wmrl-paper40-s1" | tee "$WORK/wmrl-paper40-summary.txt"
