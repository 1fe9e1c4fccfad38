"""Run one scripted episode in the simulator and keep it as an `Episode` (the authors' recording order).

Order per step (reference 8.3): the action is computed from the current observation, then the
frame, qpos, commanded targets and poses of that *current* observation are stored, then the env
steps. So frame t is the observation before action t, and the post-step observation of the last
action is not stored. Success episodes end `post_success_steps` steps after the first success
(the authors stop at once; a few more frames show the settled outcome); failures run to the
authors' collection limit of 150 steps for every task (reference 8.3), longer than the task's own
episode length. When the env's observations carry segmentation (`COLLECT_OBS_MODE`), each frame's
foreground mask is recorded too, with the camera's intrinsics and extrinsics as the authors store them, and a
label image of the task's objects (`SimTask.objects`: ball and goal, cube, T, tool, peg), whose poses are
recorded every frame (goals included, which the authors' `object_poses` leaves out): what decides success is
measured on those pixels and poses, not on the whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rla_gym.data.episode import Episode, object_motion_flags
from rla_gym.sim.make import rgb_frames
from rla_gym.sim.scripted.base import ScriptedController
from rla_gym.specs.cameras import FRONT_CAMERA
from rla_gym.specs.tasks import TASKS

COLLECT_MAX_STEPS = 150  # the authors' collection env limit, all tasks (reference 8.3)
COLLECT_OBS_MODE = "rgb+segmentation"  # segmentation gives the foreground mask at almost no cost
# the authors' mask rule (reference 6): background is segmentation id 0 and the actor named "ground"
BACKGROUND_ACTORS = ("ground",)

# the authors' object_poses filter: actor names containing any of these are not task objects
NOT_OBJECTS = ("table", "ground", "robot", "workspace", "goal_region", "camera", "panda", "xarm")

TASK_DESCRIPTIONS: dict[str, str] = {
    "PushT": "Push the T-shaped block onto the grey T-shaped goal.",
    "RollBall": "Hit the ball so that it rolls into the red and white target.",
    "PullCube": "Pull the cube back onto the red and white target.",
    "PullCubeTool": "Use the L-shaped tool to pull the out-of-reach cube toward the robot.",
    "PokeCube": "Grasp the peg and poke the cube onto the red and white target.",
}


@dataclass(frozen=True)
class RecordConfig:
    """How long an episode runs: the authors' 150 steps unless `max_steps` is given."""

    max_steps: int | None = None
    post_success_steps: int = 5

    def __post_init__(self) -> None:
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1; got {self.max_steps}")
        if self.post_success_steps < 0:
            raise ValueError(f"post_success_steps must be >= 0; got {self.post_success_steps}")


def tracked_objects(u) -> list[tuple[str, object]]:
    """The task's objects (actors not filtered out by the authors' name rule), sorted by name."""
    return sorted(
        ((name, actor) for name, actor in u.scene.actors.items() if not any(w in name.lower() for w in NOT_OBJECTS)),
        key=lambda item: item[0],
    )


def _pose_xyzw(actor) -> np.ndarray:
    p = actor.pose.p[0].cpu().numpy()
    w, x, y, z = actor.pose.q[0].cpu().numpy()
    return np.array([*p, x, y, z, w], dtype=np.float32)  # the authors store object quaternions as xyzw


def background_ids(u) -> np.ndarray:
    """Segmentation ids that are not foreground: 0 (nothing drawn) and the ground actor's ids."""
    ids = [0] + [i for i, obj in u.segmentation_id_map.items() if obj.name in BACKGROUND_ACTORS]
    return np.asarray(sorted(ids), dtype=np.int64)


def foreground_mask(obs: dict, background: np.ndarray, camera: str = FRONT_CAMERA) -> np.ndarray | None:
    """`(H, W)` bool foreground of env 0's camera (robot, objects, table), or None without segmentation."""
    seg = obs.get("sensor_data", {}).get(camera, {}).get("segmentation")
    if seg is None:
        return None
    seg = seg[0, ..., 0].cpu().numpy() if hasattr(seg, "cpu") else np.asarray(seg)[0, ..., 0]
    return ~np.isin(seg, background)


def camera_matrices(obs: dict, camera: str = FRONT_CAMERA) -> tuple[np.ndarray, np.ndarray] | None:
    """Env 0's OpenCV intrinsics `(3, 3)` and world->camera extrinsics `(3, 4)`, or None if absent."""
    param = obs.get("sensor_param", {}).get(camera)
    if not param or "intrinsic_cv" not in param or "extrinsic_cv" not in param:
        return None
    return tuple(np.array(param[k][0].cpu().numpy(), dtype=np.float32) for k in ("intrinsic_cv", "extrinsic_cv"))


def task_object_ids(u, names: tuple[str, ...]) -> list[np.ndarray]:
    """Per task object (`SimTask.objects`, in order): the segmentation ids of the actor of that name."""
    ids: list[list[int]] = [[] for _ in names]
    for seg_id, obj in u.segmentation_id_map.items():
        if obj.name in names:
            ids[names.index(obj.name)].append(int(seg_id))
    missing = [n for n, i in zip(names, ids) if not i]
    if missing:
        raise ValueError(f"{type(u).__name__} has no actor named {missing}; expected the task objects {names}")
    return [np.asarray(i, dtype=np.int64) for i in ids]


def object_labels(obs: dict, object_ids: list[np.ndarray], camera: str = FRONT_CAMERA) -> np.ndarray | None:
    """`(H, W)` uint8 label image of env 0's camera: k + 1 where task object k is seen, 0 elsewhere; None
    without segmentation. An object in front of another keeps its own pixels (segmentation is visible-surface)."""
    seg = obs.get("sensor_data", {}).get(camera, {}).get("segmentation")
    if seg is None:
        return None
    seg = seg[0, ..., 0].cpu().numpy() if hasattr(seg, "cpu") else np.asarray(seg)[0, ..., 0]
    labels = np.zeros(seg.shape, dtype=np.uint8)
    for k, ids in enumerate(object_ids):
        labels[np.isin(seg, ids)] = k + 1
    return labels


def _actor_pose(u, name: str) -> np.ndarray:
    return _pose_xyzw(u.scene.actors[name])


def has_segmentation(env) -> bool:
    """Whether `env`'s observations carry the segmentation the foreground mask is made from."""
    return "segmentation" in str(getattr(env.unwrapped, "obs_mode", ""))


def record_episode(
    env,
    script: ScriptedController,
    seed: int,
    *,
    fail: bool = False,
    rng: np.random.Generator | int | None = None,
    config: RecordConfig | None = None,
) -> Episode:
    """Reset `env` with `seed`, run `script` on it and return the recorded `Episode` (frames included;
    the foreground mask and camera matrices when the observations carry them)."""
    config = config or RecordConfig()
    task = TASKS[script.task]
    max_steps = config.max_steps or COLLECT_MAX_STEPS
    obs, _ = env.reset(seed=seed)
    script.reset(env, rng=seed if rng is None else rng, fail=fail)
    u = env.unwrapped
    objects = tracked_objects(u)
    background = background_ids(u)
    object_ids = task_object_ids(u, task.objects)
    frames, targets, qpos, eef, poses, masks, cams = [], [], [], [], [], [], []
    labels, task_poses = [], []
    first_success: int | None = None
    for t in range(max_steps):
        action = script.act(env)  # (A,) absolute joint targets
        frames.append(np.array(rgb_frames(obs)[0]))  # copies: the sim may reuse its buffers
        masks.append(foreground_mask(obs, background))
        labels.append(object_labels(obs, object_ids))
        task_poses.append([_actor_pose(u, name) for name in task.objects])
        cams.append(camera_matrices(obs))
        qpos.append(np.array(obs["agent"]["qpos"][0].cpu().numpy()))
        targets.append(action)
        eef.append(np.array(u.agent.tcp.pose.raw_pose[0].cpu().numpy()))  # p + wxyz
        poses.append([_pose_xyzw(actor) for _, actor in objects])
        obs, _, _, _, info = env.step(action)
        if first_success is None and bool(info["success"].item()):
            first_success = t
        if first_success is not None and t - first_success >= config.post_success_steps:
            break
    object_poses = np.asarray(poses, dtype=np.float32).reshape(len(frames), len(objects), 7)  # (T, N, 7)
    has_mask, has_cams = all(m is not None for m in masks), all(c is not None for c in cams)
    has_labels = all(lab is not None for lab in labels)
    return Episode(
        frames=np.stack(frames),
        target_qpos=np.stack(targets),
        qpos=np.stack(qpos),
        success=first_success is not None,
        object_moved=object_motion_flags(object_poses),
        task=task.paper_id,
        robot=script.spec.name,
        eef_pose=np.stack(eef),
        object_poses=object_poses,
        task_description=TASK_DESCRIPTIONS[task.name],
        mask=np.stack(masks) if has_mask else None,
        object_names=task.objects,
        object_labels=np.stack(labels) if has_labels else None,
        task_object_poses=np.asarray(task_poses, dtype=np.float32).reshape(len(frames), len(task.objects), 7),
        intrinsics=np.stack([c[0] for c in cams]) if has_cams else None,
        extrinsics=np.stack([c[1] for c in cams]) if has_cams else None,
    )
