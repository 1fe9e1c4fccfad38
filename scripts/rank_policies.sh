#!/usr/bin/env bash
# Issue 17's ranking: can the world model rank policies as ManiSkill does? 12 policies spanning 0-100 % (the scripted
# expert, BC on 100/50/25/10/5 % of the successful demos, BC-50 % after 1/2/5 epochs, BC-100 % with Gaussian action
# noise 0.1/0.2/0.4 rad) and the random policy (reported apart), each on 100 ManiSkill ranking seeds (4 000 000+) and
# 128 world-model episodes (16 worlds x 8 reset seeds); Spearman and Kendall with bootstrap intervals.
# Needs the training data of scripts/build_default_bundle.sh ($WORK/data/train, heldout). Resumable: the BC variants
# are trained once (one thread, ~2-20 min each on the 2-core machine); the ranking itself takes ~40 min.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sim_env.sh
WORK=${WORK:-$HOME/rla-work}
BUNDLE=${BUNDLE:-models/ur10e-RollBall-cpu}
OUT=${OUT:-$WORK/ranking}
RG=.venv/bin/rla-gym

# 1. BC variants on nested subsets of the successful training demos, every epoch's checkpoint kept.
for F in 5 10 25 50; do
  R=$WORK/runs/bc-frac$F
  [ -f "$R/final/bc_policy.safetensors" ] && continue
  RES=""; [ -d "$R/checkpoints" ] && RES=--resume
  $RG train bc --bundle "$BUNDLE" --data "$WORK/data/train" --heldout "$WORK/data/heldout" --out "$R" \
    --policy-preset cpu --batch-size 64 --epochs 10 --bc-fraction "0.$(printf %02d $F)" --threads 1 --no-progress \
    --keep-checkpoints 10 $RES
done

# 2. The policy list (BC-50 %'s checkpoints 1, 2 and 5 are its epochs 1, 2 and 5), then the ranking.
mkdir -p "$OUT"
.venv/bin/python - "$WORK" "$BUNDLE-bc" "$OUT/policies.json" <<'PY'
import json, sys
from pathlib import Path
work, bc, out = Path(sys.argv[1]), Path(sys.argv[2]).resolve(), Path(sys.argv[3])
epochs = sorted((work / "runs/bc-frac50/checkpoints").glob("step_*"))
assert len(epochs) == 10, f"bc-frac50 keeps {len(epochs)} checkpoints; expected one per epoch (10)"
policies = [{"name": "scripted expert", "kind": "expert"}, {"name": "BC 100 %", "kind": "bc", "path": str(bc)}]
policies += [{"name": f"BC 100 % + noise {s}", "kind": "bc", "path": str(bc), "noise": s} for s in (0.1, 0.2, 0.4)]
policies += [{"name": f"BC {f} %", "kind": "bc", "path": str(work / f"runs/bc-frac{f}/final")} for f in (50, 25, 10, 5)]
policies += [{"name": f"BC 50 % epoch {e}", "kind": "bc-checkpoint", "path": str(epochs[e - 1])} for e in (1, 2, 5)]
policies += [{"name": "random", "kind": "random"}]
out.write_text(json.dumps(policies, indent=2) + "\n")
PY
[ -f "$OUT/policy_ranking.json" ] || OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.policy_ranking \
  --bundle "$BUNDLE" --policies "$OUT/policies.json" --sim-seeds 4000000 4000099 --wm-seeds 8 --wm-envs 16 \
  --out "$OUT"
