#!/usr/bin/env bash
# Issue 20: put the zoo scripts/build_zoo.sh built ($ZOO) into models/, once it has earned it:
#   1. every task folder's held-out prediction beats copy-first at t+30 (token L1 and SSIM), or nothing is installed
#      (FORCE=1 installs anyway; the cards say which task does not);
#   2. the zoo's parts replace models/'s of the same name (the shared part and the UR10e's dynamics: other weights);
#   3. each task's BC policy from build_zoo.sh's stage 7, in fp16, beside its task folder (<task folder>-bc/);
#   4. the cards again, in models/ (EXTRA=FOLDER=FILE appends a file to one task's card: RollBall's results measured
#      on the stack before the zoo);
#   5. every task folder loads with its checksums verified, and the whole zoo fits its 200 MB.
# Then commit models/ (git add -A models): the old parts' files go, the new ones come.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-$HOME/rla-work}
ZOO=${ZOO:-$WORK/zoo}
MODELS=${MODELS:-models}
FORCE=${FORCE:-0}
EXTRA=${EXTRA:-}
PY=${PY:-.venv/bin/python}

# 1. Earned: beats copy-first at t+30 on held-out episodes, every task.
$PY - "$ZOO" "$WORK" <<'CHECK' || [ "$FORCE" = 1 ]
import sys
from pathlib import Path

from benchmarks.zoo_card import beats_copy, read_results, task_folders

zoo, work = Path(sys.argv[1]), Path(sys.argv[2])
folders = task_folders(zoo) if zoo.is_dir() else []
problems = [] if folders else [f"no task folder of a layered zoo under {zoo}"]
for folder in folders:
    measured = read_results(folder, work).prediction
    if measured is None:
        problems.append(f"{folder.name}: held-out prediction not measured (build_zoo.sh stage 6)")
    elif not all(beats_copy(measured)):
        problems.append(f"{folder.name}: does not beat copy-first at t+30")
for line in problems:
    print(f"install_zoo: {line}", file=sys.stderr)
sys.exit(1 if problems else 0)
CHECK

# 2. The parts, each replacing the folder of its name.
mkdir -p "$MODELS"
for part in "$ZOO"/*/; do
  name=$(basename "$part")
  rm -rf "${MODELS:?}/$name"
  cp -r "$part" "$MODELS/$name"
  echo "install_zoo: $MODELS/$name"
done

# 3. The BC policies, fp16.
for run in "$WORK"/zoo-runs/bc-*/; do
  pair=$(basename "$run")
  pair=${pair#bc-}
  if [ -d "$MODELS/$pair-cpu" ] && [ -f "$run/final/bc_policy.safetensors" ]; then
    rm -rf "${MODELS:?}/$pair-cpu-bc"
    $PY -c "import sys, torch; from rla_gym.agents.bc import BCPolicy; \
BCPolicy.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[2], torch.float16)" "$run/final" "$MODELS/$pair-cpu-bc"
    echo "install_zoo: $MODELS/$pair-cpu-bc"
  fi
done

# 4. The cards.
$PY -m benchmarks.zoo_card --zoo "$MODELS" --results "$WORK" --write ${EXTRA:+--extra "$EXTRA"}

# 5. Every task folder loads, checksums verified; the size.
$PY - "$MODELS" <<'VERIFY'
import sys
from pathlib import Path

from benchmarks.zoo_card import task_folders
from rla_gym.models.bundle import load_bundle

models = Path(sys.argv[1])
for folder in task_folders(models):
    bundle = load_bundle(folder, verify=True)
    print(f"install_zoo: {folder.name} loads ({bundle.robot} {bundle.task}, checksums verified)")
total = sum(f.stat().st_size for f in models.rglob("*") if f.is_file())
print(f"install_zoo: {models} holds {total / 1e6:.1f} MB (budget 200 MB)")
sys.exit(0 if total <= 200e6 else 1)
VERIFY
