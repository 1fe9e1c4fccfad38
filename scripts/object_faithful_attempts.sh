#!/usr/bin/env bash
# Issue 16's attempts on an object-faithful stack, from nothing, one command after another (resumable: rerun it).
# Each starts from the base stack, the default bundle as it was before issue 16 (its encoder is kept, so one probe and
# one token space serve all), and is measured by benchmarks.object_fidelity on the same held-out episodes, paired
# against it. B: that base stack; by default the one scripts/build_default_bundle.sh assembles ($WORK/base-bundle);
# the bundle shipped before issue 16 is `git archive c289a6c models/ur10e-RollBall-cpu | tar -x -C DIR`.
# On the 2-core machine: ~35 min of collection, then 15-35 min per training run (one thread each, two at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sim_env.sh
WORK=${WORK:-$HOME/rla-work}
B=${B:-$WORK/base-bundle}
RG=.venv/bin/rla-gym
T="--threads 1 --no-progress --batch-size 32"
resume() { [ -d "$1/checkpoints" ] && echo --resume || true; }
skip() { [ -f "$1/final/$2.safetensors" ]; }

# 1. Data with the task objects' segmentation, from the disjoint seed ranges (rla_gym/specs/seeds.py).
$RG collect --robot ur10e --task RollBall --episodes 48 --seed 2000000 --out "$WORK/data/heldout" --workers 2 --no-progress
$RG collect --robot ur10e --task RollBall --episodes 400 --seed 1000000 --out "$WORK/data/train" --workers 2 --no-progress
D="--init $B --data $WORK/data/train --heldout $WORK/data/heldout $T"

# 2. Attempt 1: the UNet fine-tuned with the ball and goal pixels weighing 31x.
R=$WORK/runs/unet-obj30
skip "$R" image_decoder || $RG train unet $D --finetune --object-weight 30 --out "$R" --steps 800 \
  --checkpoint-every 100 --eval-every 200 $(resume "$R")
# 3. Attempt 2: the regression baseline from scratch with motion-weighted token losses (w = 8).
R=$WORK/runs/regression-motion8
skip "$R" regression || $RG train regression $D --motion-weight 8 --out "$R" --steps 2400 --warmup-steps 200 \
  --checkpoint-every 200 --eval-every 600 $(resume "$R")
# 4. Attempt 3: the RLA autoencoder fine-tuned with motion-weighted losses, then RLA-WM fine-tuned on its latents.
R=$WORK/runs/rla-motion8
skip "$R" rla_decoder || $RG train rla $D --finetune --motion-weight 8 --out "$R" --steps 800 --warmup-steps 50 \
  --checkpoint-every 100 --eval-every 400 $(resume "$R")
M=$WORK/runs/wm-motion8
skip "$M" world_model || $RG train wm $D --finetune --rla "$R" --out "$M" --steps 800 --warmup-steps 50 \
  --checkpoint-every 100 --eval-every 400 $(resume "$M")
# 4b. The three together (the object-weighted UNet, the motion-weighted RLA and its RLA-WM): the combined stack.
C=$WORK/cand-combined
[ -f "$C/manifest.json" ] || $RG make-bundle --from-runs --init "$B" --unet "$WORK/runs/unet-obj30" --rla "$R" \
  --wm "$M" --demos "$WORK/data/train" --num-demos 16 --task RollBall --fp16 --euler-steps 1 --out "$C"
# 4c. Attempt 4: RLA-WM fine-tuned further from the combined stack with the decoded-token term (the x0 its velocity
#     implies, decoded by the frozen RLA decoder, motion-weighted; `--token-weight 4 --motion-weight 8`).
W4=$WORK/runs/wm-token4
skip "$W4" world_model || $RG train wm --init "$C" --data "$WORK/data/train" --heldout "$WORK/data/heldout" $T \
  --finetune --rla "$R" --token-weight 4 --motion-weight 8 --out "$W4" --steps 2400 --warmup-steps 100 \
  --checkpoint-every 200 --eval-every 800 $(resume "$W4")

# 5. Measure: the base stack, then each attempt against it (paired tests in each paired.txt).
O="--bundle $B --heldout $WORK/data/heldout --train $WORK/data/train --threads 1 --probe-episodes 100"
F=.venv/bin/python
[ -f "$WORK/objfid/base/results.json" ] || $F -m benchmarks.object_fidelity $O --out "$WORK/objfid/base"
O="$O --baseline $WORK/objfid/base/results.json"
$F -m benchmarks.object_fidelity $O --out "$WORK/objfid/unet-obj30" --unet "$WORK/runs/unet-obj30"
$F -m benchmarks.object_fidelity $O --out "$WORK/objfid/regression-motion8" --regression "$WORK/runs/regression-motion8"
$F -m benchmarks.object_fidelity $O --out "$WORK/objfid/rla-wm-motion8" --rla "$WORK/runs/rla-motion8" \
  --wm "$WORK/runs/wm-motion8"
$F -m benchmarks.object_fidelity $O --out "$WORK/objfid/combined" --unet "$WORK/runs/unet-obj30" --rla "$R" --wm "$M"
$F -m benchmarks.object_fidelity $O --out "$WORK/objfid/wm-token4" --unet "$WORK/runs/unet-obj30" --rla "$R" --wm "$W4"
