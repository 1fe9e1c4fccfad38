"""Tool-centre-point kinematics of a simulated robot: forward kinematics and damped least-squares IK.

Scripted controllers think in end-effector targets but the recorded action is the robot's absolute
joint targets (`pd_joint_pos`), so every script turns a tcp pose into joints here. The model is
SAPIEN's Pinocchio model of the very articulation in the scene (no URDF path to find, same joint
order as ManiSkill's qpos). The UR10e stick cannot roll about its own axis (wrist_3 is padded), so
its orientation target is only a pointing direction: the solver takes `axis=` for that case and a
full rotation matrix `rot=` for grippers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rla_gym.specs.robots import RobotSpec, get_robot

# joints the IK may move, per robot: the arm joints the action drives (not grippers, not wrist_3)


@dataclass(frozen=True)
class IKConfig:
    """Damped least squares: `iterations` Gauss-Newton steps with damping `damping` (m / rad units)."""

    iterations: int = 40
    damping: float = 1e-3
    tolerance: float = 1e-4  # stop when the weighted error norm is below this
    rot_weight: float = 0.5  # rad of orientation error counts like this many metres of position error
    max_joint_step: float = 0.3  # rad per iteration, keeps the solver on the current branch


def rotation_error(current: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Axis-angle vector (world frame) rotating `current` (3, 3) onto `target` (3, 3)."""
    r = target @ current.T
    cos = np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0)
    angle = float(np.arccos(cos))
    vec = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    if angle < 1e-6:
        return 0.5 * vec
    if np.pi - angle < 1e-4:  # near a half turn the antisymmetric part vanishes
        w, v = np.linalg.eigh((r + r.T) / 2.0)
        return angle * v[:, np.argmax(w)]
    return angle / (2.0 * np.sin(angle)) * vec


class TcpKinematics:
    """FK and IK of the robot's tcp link in the world frame, for one ManiSkill agent (one env)."""

    def __init__(self, agent, robot: RobotSpec | str, config: IKConfig | None = None) -> None:
        self.spec = get_robot(robot) if isinstance(robot, str) else robot
        self.config = config or IKConfig()
        articulation = agent.robot._objs[0]  # the SAPIEN articulation of env 0
        self.model = articulation.create_pinocchio_model()
        names = [link.name for link in agent.robot.links]
        if agent.tcp.name not in names:
            raise ValueError(f"tcp link {agent.tcp.name!r} is not among the robot's links {names}")
        self.link = names.index(agent.tcp.name)
        self.num_joints = len(agent.robot.active_joints)
        self.arm_dof = self.spec.arm_dof
        limits = agent.robot.get_qlimits()[0].cpu().numpy().astype(np.float64)  # (J, 2)
        self.low, self.high = limits[:, 0], limits[:, 1]
        pose = agent.robot.pose.raw_pose[0].cpu().numpy().astype(np.float64)  # base p + wxyz
        self.base_p = pose[:3]
        self.base_r = quat_wxyz_to_matrix(pose[3:])

    def fk(self, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """qpos (J,) -> tcp position (3,) and rotation (3, 3) in the world frame."""
        self.model.compute_forward_kinematics(np.asarray(qpos, dtype=np.float64))
        local = self.model.get_link_pose(self.link)
        pos = self.base_r @ np.asarray(local.p, dtype=np.float64) + self.base_p
        rot = self.base_r @ quat_wxyz_to_matrix(np.asarray(local.q, dtype=np.float64))
        return pos, rot

    def ik(
        self,
        qpos: np.ndarray,
        pos: np.ndarray,
        rot: np.ndarray | None = None,
        axis: np.ndarray | None = None,
    ) -> np.ndarray:
        """Joint positions (J,) that put the tcp at `pos` (world, m), starting from `qpos` (J,).

        `rot` (3, 3): full tcp orientation target; `axis` (3,): only the tcp z axis must point along
        it (the UR10e stick); neither: position only. Only the arm joints move; the result is clipped
        to the joint limits. It is the best iterate, not necessarily an exact solution.
        """
        cfg = self.config
        q = np.asarray(qpos, dtype=np.float64).copy()
        pos = np.asarray(pos, dtype=np.float64)
        axis = None if axis is None else np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
        n = self.arm_dof
        best_q, best_err = q.copy(), np.inf
        for _ in range(cfg.iterations):
            cur_p, cur_r = self.fk(q)
            err_p = pos - cur_p
            jac = self._jacobian(q)  # (6, n): tcp linear and angular velocity, world frame
            rows, errs = [jac[:3]], [err_p]
            if rot is not None:
                rows.append(cfg.rot_weight * jac[3:])
                errs.append(cfg.rot_weight * rotation_error(cur_r, np.asarray(rot)))
            elif axis is not None:
                z = cur_r[:, 2]
                proj = np.eye(3) - np.outer(z, z)  # rolling about the tool axis is free
                rows.append(cfg.rot_weight * proj @ jac[3:])
                errs.append(cfg.rot_weight * np.cross(z, axis))
            a, e = np.vstack(rows), np.concatenate(errs)
            err = float(np.linalg.norm(e))
            if err < best_err:
                best_q, best_err = q.copy(), err
            if err < cfg.tolerance:
                break
            dq = a.T @ np.linalg.solve(a @ a.T + cfg.damping * np.eye(a.shape[0]), e)
            dq = np.clip(dq, -cfg.max_joint_step, cfg.max_joint_step)
            q[:n] = np.clip(q[:n] + dq, self.low[:n], self.high[:n])
        return best_q

    def _jacobian(self, q: np.ndarray) -> np.ndarray:
        """(6, arm_dof) Jacobian of the tcp point's linear and angular velocity, world axes.

        Pinocchio's world-frame Jacobian gives the velocity of the frame point at the base origin;
        the tcp point's velocity adds omega x p_tcp. Call after `fk(q)` (it reuses that pose).
        """
        n = self.arm_dof
        self.model.compute_full_jacobian(q)
        jac = np.asarray(self.model.get_link_jacobian(self.link, local=False), dtype=np.float64)
        p_local = np.asarray(self.model.get_link_pose(self.link).p, dtype=np.float64)
        lin = jac[:3, :n] + np.cross(jac[3:, :n].T, p_local).T  # v_origin + omega x p
        return np.vstack([self.base_r @ lin, self.base_r @ jac[3:, :n]])


def quat_wxyz_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) -> rotation matrix (3, 3)."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def yaw_matrix(yaw: float) -> np.ndarray:
    """Rotation (3, 3) about world z by `yaw` rad."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
