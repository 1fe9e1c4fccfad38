"""ManiSkill robot classes for the paper's robots (the facts about them live in `rla_gym.specs`).

Import `rla_gym.sim.robots.maniskill_agents` to register `ur10e_stick`, `xarm6_robotiq` and `panda`."""
