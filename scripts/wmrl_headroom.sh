#!/usr/bin/env bash
# Issue 17's headroom runs: world-model RL from BC on 25 % of the successful demos (BC at full data leaves no room),
# three RL seeds with the card's settings (16 worlds x 4 chunk steps, 100 iterations, checkpoints scored on the
# selection seeds 42-91 and by the world model, BC and both chosen checkpoints on 200 report seeds), resets and
# references from every successful demo of the bundle; the seeds pooled against BC by `rla-gym wmrl-summary`. Then
# the same seed 1 with the uncertainty penalty (draw disagreement x 5), to see whether it narrows the gap between
# success inside the world model and in ManiSkill. Resumable (rerun it); ~25 min a run on one core of the 2-core
# machine, most of it ManiSkill evaluation. Needs $WORK/runs/bc-frac25 (scripts/rank_policies.sh trains it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sim_env.sh
WORK=${WORK:-$HOME/rla-work}
BUNDLE=${BUNDLE:-models/ur10e-RollBall-cpu}
BC=${BC:-$WORK/runs/bc-frac25/final}
RG=.venv/bin/rla-gym
export OMP_NUM_THREADS=1
run() {  # out, extra flags...
  local out=$1; shift
  [ -f "$out/report.json" ] && return 0
  local res=""; [ -d "$out/checkpoints" ] && res=--resume
  $RG wmrl --robot ur10e --task RollBall --bundle "$BUNDLE" --bc "$BC" --out "$out" --num-envs 16 --num-steps 4 \
    --minibatch-size 32 --iterations 100 --eval-every 25 --eval-seeds 42 91 --wm-select-worlds 32 \
    --report-episodes 200 --no-progress $res "$@"
}
for S in 1 2 3; do run "$WORK/wmrl-frac25-s$S" --seed $S; done
$RG wmrl-summary "$WORK"/wmrl-frac25-s{1,2,3} | tee "$WORK/wmrl-frac25-summary.txt"
run "$WORK/wmrl-frac25-s1-penalty" --seed 1 --uncertainty draws --uncertainty-penalty 5
