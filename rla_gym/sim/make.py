"""`make_sim_env`: the one entry point to the paper's ManiSkill tasks (demo collection, evaluation).

    env = make_sim_env("ur10e", "PushT", size=128, seed=0)
    obs, info = env.reset()
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    frame = rgb_frames(obs)[0]  # (128, 128, 3) uint8, the front_lower_camera

The env is ManiSkill's (torch tensors with a leading env dimension, `info["success"]`, reward mode
"normalized_dense" unless `reward_mode` is given), wrapped in its time limit (`TASKS[task]`).
Actions are `pd_joint_pos` by default: absolute joint targets, `spec.action_dim` of them.
Speed (2 CPU cores, 128 px): the first env in a process takes 3-5 s (renderer start, UR10e meshes),
later ones 0.2-0.7 s; 30-60 steps/s. The CPU backend holds one env per env object (`num_envs=1`).
Run the simulator with `OMP_NUM_THREADS=1` or `torch.set_num_threads(1)`: no change on an idle
machine, about 1.5x more steps/s when the CPU is shared with other work.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from rla_gym.sim.robots.assets import ensure_robot_assets
from rla_gym.specs.cameras import FRONT_CAMERA
from rla_gym.specs.tasks import TASKS, check_pair

if TYPE_CHECKING:
    import gymnasium as gym

log = logging.getLogger(__name__)


def default_backends(num_envs: int = 1) -> tuple[str, str]:
    """(sim_backend, render_backend) for this machine.

    No CUDA: PhysX on the CPU (one env per process) and CPU rendering (lavapipe, scripts/setup_vulkan.sh).
    CUDA: GPU rendering when SAPIEN finds Vulkan on the GPU (else CPU rendering), and GPU PhysX when
    several envs share one process.
    """
    import torch

    if not torch.cuda.is_available():
        return "physx_cpu", "cpu"
    from rla_gym.sim.vulkan import vulkan_problem

    render = "gpu" if vulkan_problem("cuda") is None else "cpu"
    return ("physx_cuda" if num_envs > 1 else "physx_cpu"), render


def make_sim_env(
    robot: str,
    task: str,
    size: int = 128,
    obs_mode: str = "rgb",
    seed: int | None = None,
    control_mode: str = "pd_joint_pos",
    num_envs: int = 1,
    **kwargs: Any,
) -> gym.Env:
    """Create one of the paper's tasks with its robot, the front camera at `size` x `size` pixels.

    robot: "ur10e", "panda", "xarm6_robotiq" (or the ManiSkill uid); task: a name in `TASKS` (or its
    env id). Raises ValueError for an unknown robot/task or a pair the paper does not use, and
    `RobotAssetsMissing` (naming ManiSkill's download command) when robot files are absent.
    `seed`: if given, the env is reset once with it. Episodes are reproducible: ManiSkill's
    `enhanced_determinism` is on by default here, so every unseeded `reset()` draws its episode
    seed from the env's own seeded RNG instead of torch's global RNG; on the CPU simulator every reset
    rebuilds the scene (`reconfiguration_freq=1`), so an episode does not depend on the ones before it.
    Other keyword arguments go to ManiSkill / the workspace (`camera_names`, `robot_init_high`,
    `reward_mode`, `sim_backend`, `render_backend`, `shader_pack`, ...).
    """
    spec, sim_task = check_pair(robot, task)
    ensure_robot_assets(spec)
    import gymnasium as gym

    import rla_gym.sim.tasks  # noqa: F401  (registers robots and envs)

    kwargs.setdefault("enhanced_determinism", True)
    if "sim_backend" not in kwargs or "render_backend" not in kwargs:
        sim_backend, render_backend = default_backends(num_envs)
        kwargs.setdefault("sim_backend", sim_backend)
        kwargs.setdefault("render_backend", render_backend)
    if kwargs["sim_backend"] in ("physx_cpu", "cpu"):
        # PhysX keeps state across plain resets (which state is not pinned down): a recorded PushT episode replayed
        # after 5 steps of another episode drifts from step 13 (0.4-1 mm, enough to turn its success into a failure).
        # Rebuilding the scene at every reset (~0.2 s) makes an episode a function of its seed and actions, not of
        # what ran before it in this env (tests/test_sim_determinism.py).
        kwargs.setdefault("reconfiguration_freq", 1)
    log.debug("making %s with %s (%s)", sim_task.env_id, spec.name, kwargs)
    env = gym.make(
        sim_task.env_id,
        robot_uids=spec.maniskill_uid,
        obs_mode=obs_mode,
        control_mode=control_mode,
        num_envs=num_envs,
        camera_width=size,
        camera_height=size,
        **kwargs,
    )
    if seed is not None:
        env.reset(seed=seed)
    return env


def rgb_frames(obs: dict, camera: str = FRONT_CAMERA) -> np.ndarray:
    """The camera's RGB images from a ManiSkill observation: `(num_envs, H, W, 3)` uint8 numpy."""
    try:
        rgb = obs["sensor_data"][camera]["rgb"]
    except KeyError as err:
        cams = list(obs.get("sensor_data", {})) if isinstance(obs, dict) else []
        raise KeyError(f"observation has no RGB for camera {camera!r}; it has cameras {cams}") from err
    return rgb.cpu().numpy() if hasattr(rgb, "cpu") else np.asarray(rgb)


__all__ = ["TASKS", "default_backends", "make_sim_env", "rgb_frames"]
