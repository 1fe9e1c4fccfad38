"""A scripted controller wearing the policy interface of `rla_gym.sim.evaluate`.

`evaluate` calls `policy(rgb, qpos) -> (K, A)`; a script needs the simulator's state instead of the
image, so this adapter takes the env in `reset(env, seed)` (which `evaluate` calls after every env
reset) and answers each call with a one-step chunk. Useful as a reference policy and in tests.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from rla_gym.sim.scripted.base import ScriptConfig


class ScriptedPolicy:
    """`evaluate`-compatible policy driving a task's scripted controller.

    `fail`: True for every episode, or the seeds whose episodes use the script's failure mode.
    The script's randomness is seeded with the episode seed, so a rollout is reproducible.
    """

    def __init__(self, task: str, config: ScriptConfig | None = None, fail: bool | Collection[int] = False) -> None:
        from rla_gym.sim.scripted import make_script

        self.script = make_script(task, config)
        self.fail = fail
        self._env = None

    def reset(self, env, seed: int | None = None) -> None:
        fail = self.fail if isinstance(self.fail, bool) else seed in self.fail
        self.script.reset(env, rng=seed, fail=fail)
        self._env = env

    def __call__(self, rgb: np.ndarray, qpos: np.ndarray) -> np.ndarray:
        if self._env is None:
            raise RuntimeError("ScriptedPolicy.reset(env, seed) must be called before the first action")
        return self.script.act(self._env)[None]  # (1, A)
