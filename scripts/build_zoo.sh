#!/usr/bin/env bash
# Issue 20: the whole zoo, every robot and task of the paper, one stage after another: one shared encoder, UNet and
# RLA autoencoder for all five tasks, one RLA-WM (and regression baseline) per robot on its tasks, one task folder
# per task. Resumable: rerun it after a stop and finished stages are kept (each run resumes from its checkpoints).
#
# Starts from the default (scripts/build_default_bundle.sh: RollBall data in $WORK/data/{train,heldout} and the
# shipped stack in models/): its encoder stays frozen (the paper's is a frozen DINOv3; ours, trained on RollBall
# frames, is checked on the other tasks by the UNet's held-out renders below); the UNet and the RLA autoencoder are
# fine-tuned on all five tasks with the object-faithful losses of issue 12 (task-object pixels x31, motion-weighted
# tokens), then the RLA decoder alone on the plain token loss (`--decoder-only`: the latent space kept); the UR10e's
# RLA-WM is fine-tuned on RollBall and PushT, the Panda's and the xArm6's train from scratch on
# the new latents (then fine-tuned with the motion-weighted decoded-token term: the shipped recipe, and last with half
# the flow samples at t = 1, `--t1-prob 0.5`: the one-Euler-step prediction the env deploys, trained directly).
#
# The zoo is written to $ZOO (default $WORK/zoo) as models/ is laid out: shared-cpu/, <robot>-cpu/,
# <robot>-<task>-cpu/; scripts/install_zoo.sh puts it in models/ once every task beats copy-first. On the 2-core
# machine, about: 2 h of collection (RollBall's 448 episodes 25 min, PushT's 40 min), 20 min of token caches, 4 h of
# training (two runs at a time), 1 h of measurement, 2 h of BC and RL. A new machine loses $WORK: all of it again.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sim_env.sh
WORK=${WORK:-$HOME/rla-work}
ZOO=${ZOO:-$WORK/zoo}
# The shipped stack the shared part and the UR10e's dynamics start from. Putting the zoo into models/ replaces it: do
# that after the build, or point BASE at a saved copy (`load_bundle(...).save_pretrained(copy, torch.float16)`).
BASE=${BASE:-models/ur10e-RollBall-cpu}
RG=.venv/bin/rla-gym
T="--threads 1 --no-progress"
# Training lengths (the CPU recipe; a smoke run of the wiring sets them to a few steps) and what to run.
SHARED_STEPS=${SHARED_STEPS:-1600} DEC_STEPS=${DEC_STEPS:-1600}
WM_STEPS=${WM_STEPS:-3000} WM_FT_STEPS=${WM_FT_STEPS:-800} TOKEN_STEPS=${TOKEN_STEPS:-1600} T1_STEPS=${T1_STEPS:-3000}
REG_STEPS=${REG_STEPS:-2400} REG_FT_STEPS=${REG_FT_STEPS:-1200}
COLLECT=${COLLECT:-1}  # 0: the data is already there
MEASURE=${MEASURE:-1}  # 0: stop after the task folders (no benchmarks, BC or RL)
POLL=${POLL:-30}  # seconds a training worker waits for another's run before it looks again
R=$WORK/zoo-runs
V=$WORK/zoo-views
mkdir -p "$R" "$V" "$ZOO"
resume() { [ -d "$1/checkpoints" ] && echo --resume || true; }
done_run() { [ -f "$1/final/$2.safetensors" ]; }
uid() { case $1 in ur10e) echo ur10e_stick ;; *) echo "$1" ;; esac; }
episodes() {  # episodes ROBOT TASK train|heldout: the task's episode folder (RollBall's: build_default_bundle.sh's)
  if [ "$2" = RollBall ]; then echo "$WORK/data/$3"; else ls -d "$WORK/data/zoo-$3/$(uid "$1")/$2"-v*; fi
}

# 1. Data: the four other tasks (RollBall's comes from build_default_bundle.sh, step 1).
[ "$COLLECT" = 0 ] || WORK=$WORK scripts/collect_zoo_data.sh

# 2. Views: roots of links (no copies; each root keeps its own token cache): every task, and each robot's tasks.
view() {  # view NAME SPLIT LINK=TARGET...
  local dir=$V/$1/$2
  shift 2
  mkdir -p "$dir"
  for pair in "$@"; do [ -e "$dir/${pair%%=*}" ] || ln -s "${pair#*=}" "$dir/${pair%%=*}"; done
}
for split in train heldout; do
  zoo=$WORK/data/zoo-$split
  view all $split "RollBall=$WORK/data/$split" "zoo=$zoo"
  view ur10e $split "RollBall=$WORK/data/$split" "PushT=$zoo/ur10e_stick"
  view panda $split "tasks=$zoo/panda"
  view xarm6_robotiq $split "tasks=$zoo/xarm6_robotiq"
done

# 3a. Tokens first, once per view with both cores (each trainer would otherwise encode the same frames itself, the
#     two shared runs racing on one cache). The encoder is BASE's everywhere, so the trainers find these caches.
encode() {  # encode VIEW_ROOT...: cache each root's tokens (a root already cached is read, not encoded); an episode
  # the all-task view holds (the robots' views are links into the same folders) takes its tokens
  .venv/bin/python - "$BASE" "$@" <<'PY'
import sys
from rla_gym.models.bundle import load_bundle
from rla_gym.train.data import load_training_data
stack = load_bundle(sys.argv[1]).stack
views = []  # the all-task view's data (every episode): kept for reuse, the others' only duplicate it
for root in sys.argv[2:]:
    data = load_training_data(root, stack.encoder, stack.image_size, keep_frames=False, progress=False, reuse=views)
    if "/all/" in root:
        views.append(data)
    print(f"build_zoo: tokens of {root} cached", flush=True)
PY
}
encode "$V"/{all,ur10e,panda,xarm6_robotiq}/{train,heldout}

# 3b-5. The training runs, two at a time (one per core), each as soon as what it needs exists: the RLA-WM runs need
#     the shared RLA autoencoder, the decoded-token fine-tunes the shared UNet and their robot's RLA-WM, the
#     baselines only the robot's init. Two workers take the first ready run of $JOBS that nobody has taken.
F="--finetune --batch-size 32"
A="--data $V/all/train --heldout $V/all/heldout"
shared_unet() {  # task objects' pixels x31, fine-tuned from the shipped UNet on all five tasks' frames
  done_run "$R/unet" image_decoder || $RG train unet --init "$BASE" $A $F --object-weight 30 --out "$R/unet" \
    --steps $SHARED_STEPS --checkpoint-every 200 --eval-every 400 $T $(resume "$R/unet")
}
shared_rla() {  # motion-weighted, fine-tuned from the shipped RLA autoencoder on all five tasks' tokens
  done_run "$R/rla" rla_decoder || $RG train rla --init "$BASE" $A $F --motion-weight 8 --out "$R/rla" \
    --steps $SHARED_STEPS --warmup-steps 50 --checkpoint-every 200 --eval-every 400 $T $(resume "$R/rla")
}
shared_rla_dec() {  # then its decoder alone on the plain token loss, the encoder (the latent space) frozen: the
  # motion weighting leaves a floor where the arm holds still, above copy-first (Panda PullCube: true-latent rollout
  # 0.0434 at t+30 against copy's 0.0349; after this stage 0.0292). Every RLA-WM decodes through this decoder.
  done_run "$R/rla-dec" rla_decoder || $RG train rla --init "$BASE" --rla "$R/rla" --decoder-only $A \
    --batch-size 32 --lr 1e-4 --out "$R/rla-dec" --steps $DEC_STEPS --warmup-steps 50 --checkpoint-every 200 \
    --eval-every 400 $T $(resume "$R/rla-dec")
}

# One init per robot on the shared encoder: the UR10e's is the shipped bundle (its dynamics are fine-tuned); the
# others get random dynamics (`make-bundle --random --shared`).
init() { if [ "$1" = ur10e ]; then echo "$BASE"; else echo "$WORK/zoo-init/$1"; fi; }
for robot in panda xarm6_robotiq; do
  [ -f "$(init $robot)/manifest.json" ] || $RG make-bundle --random --robot $robot --preset cpu --shared "$BASE" \
    --out "$(init $robot)"
done

# Dynamics per robot: RLA-WM on the new latents (phase 1), then the motion-weighted decoded-token fine-tune, and the
# regression baseline, then the t = 1 fine-tune the task folders ship. The UR10e's are fine-tuned from the shipped
# ones; the others train from scratch.
data() { echo "--data $V/$1/train --heldout $V/$1/heldout"; }
wm_phase1() {  # wm_phase1 ROBOT
  local robot=$1 first=(--steps "$WM_STEPS" --warmup-steps 200)
  [ "$robot" = ur10e ] && first=(--finetune --steps "$WM_FT_STEPS" --warmup-steps 50)
  done_run "$R/wm-$robot" world_model || $RG train wm --init "$(init $robot)" $(data $robot) --rla "$R/rla-dec" \
    --batch-size 32 "${first[@]}" --checkpoint-every 200 --eval-every 800 --out "$R/wm-$robot" $T \
    $(resume "$R/wm-$robot")
}
wm_token() {  # wm_token ROBOT: the stage-1 bundle (shared UNet and RLA, phase-1 RLA-WM), then the fine-tune
  local robot=$1 stage=$WORK/zoo-init/$1-stage1
  [ -f "$stage/manifest.json" ] || $RG make-bundle --from-runs --init "$(init $robot)" --unet "$R/unet" \
    --rla "$R/rla-dec" --wm "$R/wm-$robot" --demos "$V/$robot/train" --num-demos 16 --euler-steps 1 --out "$stage"
  done_run "$R/wm-$robot-token" world_model || $RG train wm --init "$stage" $(data $robot) --rla "$R/rla-dec" \
    --finetune --batch-size 32 --token-weight 4 --motion-weight 8 --steps "$TOKEN_STEPS" --warmup-steps 100 \
    --checkpoint-every 200 --eval-every 800 --out "$R/wm-$robot-token" $T $(resume "$R/wm-$robot-token")
}
wm_t1() {  # wm_t1 ROBOT: the deployed one-Euler-step prediction trained directly (`--t1-prob 0.5`, half the flow
  # samples at t = 1), fine-tuned from the decoded-token model: without it the RLA-WM invents motion where the arm holds
  # still (Panda's held-out starts mostly do), which is what kept Panda from beating copy-first (issue 20's notes)
  local robot=$1 stage=$WORK/zoo-init/$1-stage2
  [ -f "$stage/manifest.json" ] || $RG make-bundle --from-runs --init "$WORK/zoo-init/$robot-stage1" --unet "$R/unet" \
    --rla "$R/rla-dec" --wm "$R/wm-$robot-token" --demos "$V/$robot/train" --num-demos 16 --euler-steps 1 --out "$stage"
  done_run "$R/wm-$robot-t1" world_model || $RG train wm --init "$stage" $(data $robot) --rla "$R/rla-dec" \
    --finetune --batch-size 32 --token-weight 4 --motion-weight 8 --t1-prob 0.5 --lr 1e-4 --steps "$T1_STEPS" \
    --warmup-steps 50 --checkpoint-every 200 --eval-every 1000 --out "$R/wm-$robot-t1" $T $(resume "$R/wm-$robot-t1")
}
regression() {  # regression ROBOT
  local robot=$1 reg=(--steps "$REG_STEPS" --warmup-steps 200)
  [ "$robot" = ur10e ] && reg=(--finetune --steps "$REG_FT_STEPS" --warmup-steps 50)
  done_run "$R/regression-$robot" regression || $RG train regression --init "$(init $robot)" \
    $(data $robot) --batch-size 32 "${reg[@]}" --checkpoint-every 300 --eval-every 600 \
    --out "$R/regression-$robot" $T $(resume "$R/regression-$robot")
}
JOBS="unet rla rla-dec wm:panda wm:xarm6_robotiq wm:ur10e token:ur10e token:panda token:xarm6_robotiq t1:panda \
t1:xarm6_robotiq t1:ur10e regression:panda regression:xarm6_robotiq regression:ur10e"
finished() {  # finished JOB: its final weights exist
  case $1 in
    unet) done_run "$R/unet" image_decoder ;;
    rla) done_run "$R/rla" rla_decoder ;;
    rla-dec) done_run "$R/rla-dec" rla_decoder ;;
    wm:*) done_run "$R/wm-${1#*:}" world_model ;;
    token:*) done_run "$R/wm-${1#*:}-token" world_model ;;
    t1:*) done_run "$R/wm-${1#*:}-t1" world_model ;;
    regression:*) done_run "$R/regression-${1#*:}" regression ;;
  esac
}
ready() {  # ready JOB: what it needs is finished
  case $1 in
    rla-dec) finished rla ;;
    wm:*) finished rla-dec ;;
    token:*) finished unet && finished "wm:${1#*:}" ;;
    t1:*) finished "token:${1#*:}" ;;
    *) true ;;
  esac
}
run_job() {
  case $1 in
    unet) shared_unet ;;
    rla) shared_rla ;;
    rla-dec) shared_rla_dec ;;
    wm:*) wm_phase1 "${1#*:}" ;;
    token:*) wm_token "${1#*:}" ;;
    t1:*) wm_t1 "${1#*:}" ;;
    regression:*) regression "${1#*:}" ;;
  esac
}
claims=$R/.claims  # one folder per job a worker has taken (mkdir is atomic), with "failed" in it if it failed
rm -rf "$claims" && mkdir -p "$claims"
worker() {  # until every job is finished, or none is left that can run
  local job running unfinished
  while :; do
    running=0 unfinished=0
    for job in $JOBS; do
      finished "$job" && continue
      unfinished=1
      if [ -d "$claims/$job" ]; then
        [ -e "$claims/$job/failed" ] || running=1
        continue
      fi
      ready "$job" || continue
      mkdir "$claims/$job" 2>/dev/null || { running=1 && continue; }
      run_job "$job" &  # in the background, so that set -e stops the job at its first failed command
      wait $! || { touch "$claims/$job/failed" && echo "build_zoo: $job failed" >&2; }
      continue 2
    done
    [ $unfinished = 0 ] && return 0
    if [ $running = 0 ]; then
      echo "build_zoo: stopped, these did not finish: $(for j in $JOBS; do finished "$j" || printf '%s ' "$j"; done)" >&2
      return 1
    fi
    sleep "$POLL"
  done
}
worker &
w1=$!
worker &
w2=$!
wait $w1
wait $w2  # each on its own: a bare `wait` (or `wait && wait` under set -e) would hide a failed worker

# 6. One task folder per task, as a layered zoo under $ZOO (one after another: they write the same shared and
#    per-robot parts): every successful training demo, the threshold calibrated on them. Then, two lanes, prediction
#    quality and the object and outcome metrics (issue 12) on its held-out episodes.
PAIRS="ur10e:RollBall ur10e:PushT panda:PullCube panda:PullCubeTool xarm6_robotiq:PokeCube"
for pair in $PAIRS; do
  robot=${pair%%:*} task=${pair##*:}
  out=$ZOO/$robot-$task-cpu
  [ -f "$out/manifest.json" ] || $RG make-bundle --from-runs --init "$WORK/zoo-init/$robot-stage1" --unet "$R/unet" \
    --rla "$R/rla-dec" --wm "$R/wm-$robot-t1" --regression "$R/regression-$robot" \
    --demos "$(episodes $robot $task train)" --num-demos all --task "$task" --fp16 --euler-steps 1 --out "$out" \
    --layered shared-cpu "$robot-cpu"
  # a calibration cut off by a stop leaves a folder with no threshold: calibrated on the rerun
  grep -q '"success_threshold"' "$out/config.json" 2>/dev/null || OMP_NUM_THREADS=2 $RG calibrate --bundle "$out"
done
[ "$MEASURE" = 0 ] && exit 0
measure() {  # measure ROBOT:TASK...
  for pair in "$@"; do
    local robot=${pair%%:*} task=${pair##*:}
    local out=$ZOO/$robot-$task-cpu train held
    train=$(episodes $robot $task train) held=$(episodes $robot $task heldout)
    [ -f "$WORK/zoo-pq/$robot-$task/prediction_quality.json" ] || .venv/bin/python -m benchmarks.prediction_quality \
      --bundle "$out" --data "$held" --out "$WORK/zoo-pq/$robot-$task" --max-starts 128 --threads 1
    [ -f "$WORK/zoo-objfid/$robot-$task/results.json" ] || .venv/bin/python -m benchmarks.object_fidelity \
      --bundle "$out" --task "$task" --heldout "$held" --train "$train" --threads 1 --probe-episodes 100 \
      --out "$WORK/zoo-objfid/$robot-$task"
  done
}
measure ur10e:RollBall panda:PullCube xarm6_robotiq:PokeCube &
p1=$!
measure ur10e:PushT panda:PullCubeTool &
p2=$!
wait $p1
wait $p2
.venv/bin/python -m benchmarks.zoo_card --zoo "$ZOO" --results "$WORK" --write  # the cards, with what is measured

# 7. Per robot, one BC policy and one world-model RL run, with the RL protocol of the card (checkpoints chosen on
#    ManiSkill's selection seeds and by the world model alone, 200 report seeds paired against BC), two lanes of one
#    thread each. RollBall starts from the default's BC beside $BASE where it is there (the shipped one: trained on the
#    RollBall-only stack's renders, it scores 98.5 % on the report seeds through the zoo's UNet); without it, a new one.
policies() {  # policies ROBOT:TASK...
  export OMP_NUM_THREADS=1
  for pair in "$@"; do
    local robot=${pair%%:*} task=${pair##*:}
    local bc=$R/bc-$robot-$task out=$WORK/zoo-wmrl/$robot-$task policy
    policy=$bc/final
    if [ "$robot-$task" = ur10e-RollBall ] && [ -f "$BASE-bc/bc_policy.safetensors" ]; then
      policy=$BASE-bc
    elif [ ! -f "$bc/final/bc_policy.safetensors" ]; then
      $RG train bc --bundle "$ZOO/$robot-$task-cpu" --data "$(episodes $robot $task train)" \
        --heldout "$(episodes $robot $task heldout)" --out "$bc" --policy-preset cpu --batch-size 64 --epochs 10 $T \
        $(resume "$bc")
    fi
    [ -f "$out/report.json" ] || $RG wmrl --robot $robot --task $task --bundle "$ZOO/$robot-$task-cpu" \
      --bc "$policy" --out "$out" --num-envs 16 --num-steps 4 --minibatch-size 32 --iterations 100 --eval-every 25 \
      --eval-seeds 42 91 --wm-select-worlds 32 --report-episodes 200 --no-progress $(resume "$out")
  done
}
policies panda:PullCube ur10e:PushT &
p1=$!
policies xarm6_robotiq:PokeCube ur10e:RollBall &
p2=$!
wait $p1
wait $p2
.venv/bin/python -m benchmarks.zoo_card --zoo "$ZOO" --results "$WORK" --write  # the cards, with the policies now
