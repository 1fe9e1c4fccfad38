#!/usr/bin/env bash
# Issue 20's data: scripted ManiSkill episodes of the paper's other four tasks (PushT on the UR10e, PullCube and
# PullCubeTool on the Panda, PokeCube on the xArm6), collected as scripts/build_default_bundle.sh collects RollBall:
# 128 px, training scenes from seed 1 000 000 (every third episode the script's failure mode: the paper's ~2:1
# success:failure; PushT every sixth, as its script already misses ~1 in 4 within the 150 steps), held-out scenes
# from 2 000 000, none overlapping the evaluation seeds. Kept apart from RollBall's
# folders (whose token caches the default's BC runs read). Resumable: rerun it and only missing episodes are
# recorded. On the 2-core machine ~35 min per 400 episodes with both cores (PushT, up to 150 steps an episode: longer).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sim_env.sh
WORK=${WORK:-$HOME/rla-work}
EPISODES=${EPISODES:-400}
HELDOUT=${HELDOUT:-48}
WORKERS=${WORKERS:-2}
RG=.venv/bin/rla-gym
for pair in ur10e:PushT panda:PullCube panda:PullCubeTool xarm6_robotiq:PokeCube; do
  robot=${pair%%:*} task=${pair##*:}
  every=3; [ "$task" = PushT ] && every=6
  $RG collect --robot "$robot" --task "$task" --episodes "$HELDOUT" --size 128 --workers "$WORKERS" --seed 2000000 \
    --fail-every $every --out "$WORK/data/zoo-heldout" --no-progress
  $RG collect --robot "$robot" --task "$task" --episodes "$EPISODES" --size 128 --workers "$WORKERS" --seed 1000000 \
    --fail-every $every --out "$WORK/data/zoo-train" --no-progress
done
