#!/usr/bin/env bash
# What only a GPU shows, in one short run (the lent machine has ~15 minutes all told): the paper-size stack on CUDA
# at 1, 8 and 112 envs in bf16 autocast and fp32, how far bf16 moves the predictions (paper preset, random
# weights; and the shipped trained bundle), and one PPO iteration of the LoRA-ResNet agent at the paper's 112 envs. Writes the tables and JSON to OUTDIR (default ./gpu-checks).
# CHECKS picks some (default: all); BUNDLE replaces the shipped UR10e RollBall bundle (the lent machine has no
# ffmpeg to decode a bundle's h264 demos: give it a copy whose demos are stored as frames).
#
# On the lent machine (torch, transformers, peft... are there; gymnasium is carried as wheels in .whl/):
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && PYTHONPATH=/tmp/site:. \
#     scripts/gpu_checks.sh "$OUT"
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR=${1:-gpu-checks}
PY=${PY:-python3}
mkdir -p "$OUTDIR"
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-.}
CHECKS=${CHECKS:-throughput_paper bf16_paper bf16_shipped throughput_shipped ppo_paper ppo_cpu}
SHIPPED=(--robot ur10e)
[ -n "${BUNDLE:-}" ] && SHIPPED=(--bundle "$BUNDLE")
run() {  # run NAME CMD...: one check; a failure is recorded and the next check still runs
  local name=$1
  shift
  [[ " $CHECKS " == *" $name "* ]] || return 0
  echo "== $name: $*"
  local start=$SECONDS
  timeout "${CHECK_TIMEOUT:-200}" "$@" > "$OUTDIR/$name.txt" 2>&1
  local rc=$?
  tail -n 25 "$OUTDIR/$name.txt"
  echo "== $name: exit $rc after $((SECONDS - start)) s"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUTDIR/gpu.txt" 2>&1
cat "$OUTDIR/gpu.txt"
$PY -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'transformers', transformers.__version__, torch.cuda.get_device_name(0))"
run throughput_paper $PY -m benchmarks.throughput --random-preset paper --num-envs 1 8 112 --device cuda --no-sim \
  --precision default float32 --steps 10 --json "$OUTDIR/throughput_paper.json"
run bf16_paper $PY -m benchmarks.bf16_numerics --random-preset paper --num-envs 16 --device cuda \
  --json "$OUTDIR/bf16_paper.json"
run bf16_shipped $PY -m benchmarks.bf16_numerics "${SHIPPED[@]}" --num-envs 32 --device cuda \
  --json "$OUTDIR/bf16_shipped.json"
run throughput_shipped $PY -m benchmarks.throughput "${SHIPPED[@]}" --num-envs 8 112 --device cuda --no-sim \
  --precision default float32 --steps 20 --json "$OUTDIR/throughput_shipped.json"
run ppo_paper $PY -m benchmarks.ppo_iteration --random-preset paper --policy-preset paper --num-envs 112 \
  --device cuda --json "$OUTDIR/ppo_paper.json"
run ppo_cpu $PY -m benchmarks.ppo_iteration --random-preset cpu --policy-preset cpu --num-envs 112 \
  --device cuda --json "$OUTDIR/ppo_cpu.json"
