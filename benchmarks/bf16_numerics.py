"""Does bf16 autocast change what the world model predicts? fp32 against bf16 rollouts of the same worlds.

Two rollouts of `gym.make_vec("RLAWorldModel-v0", ...)` from the same seed (same demo frames, same flow noise: the
noise is drawn per world from the seed, in fp32) under the same actions, one in float32 and one in `--precision`
(bf16 autocast is the default on CUDA). Per chunk step: the token L1 between the two rollouts' predicted tokens, the
reward difference, and the PSNR between their rendered frames, set against the model's own sampling spread (token L1
between two flow-noise draws of the same fp32 step, the env's `uncertainty="draws"`): bf16 is harmless when its drift
is a small part of what the model already varies by.

    python -m benchmarks.bf16_numerics                                     # the shipped bundle, on this machine
    python -m benchmarks.bf16_numerics --random-preset paper --num-envs 112 --device cuda   # on a GPU
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio

from benchmarks.bundle_choice import add_bundle_args, bundle_from_args


def _rollout(bundle, device: str, num_envs: int, chunk_steps: int, seed: int, precision: str, spread: bool) -> dict:
    import gymnasium as gym

    import rla_gym  # noqa: F401  (registers the env)

    env = gym.make_vec(
        "RLAWorldModel-v0",
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        robot=bundle.robot,
        bundle=bundle,
        device=device,
        precision=precision,
        obs_mode="dict",
        max_chunk_steps=chunk_steps + 1,  # one episode: no auto-reset inside the comparison
        p_initial_frame=1.0,  # from each demo's first frame: the longest episodes the demos allow
        autoreset_mode="NextStep",  # a world's last step shows its own prediction, not the next episode's reset
        uncertainty="draws" if spread else None,
    )
    try:
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        tokens, rgb, rewards, spreads = [obs["tokens"].float().cpu()], [obs["rgb"].cpu()], [], []
        live = [torch.ones(num_envs, dtype=torch.bool)]  # worlds still in their first episode at each step
        for _ in range(chunk_steps):
            action = torch.as_tensor(
                rng.uniform(env.action_space.low, env.action_space.high), dtype=torch.float32, device=env.device
            )
            obs, reward, terminated, truncated, info = env.step(action)
            live.append(live[-1] & ~torch.as_tensor(terminated | truncated).cpu())
            tokens.append(obs["tokens"].float().cpu())
            rgb.append(obs["rgb"].cpu())
            rewards.append(torch.as_tensor(reward).float().cpu())
            if spread:
                spreads.append(torch.as_tensor(info["uncertainty"]).float().cpu())
        # a world that ended at step t still shows step t's prediction; from t + 1 it is a new episode's reset
        shown = [live[0]] + [live[t - 1] for t in range(1, len(live))]
        return {"tokens": tokens, "rgb": rgb, "rewards": rewards, "spread": spreads, "shown": shown}
    finally:
        env.close()


def precision_drift(
    bundle, device: str, num_envs: int = 8, chunk_steps: int = 6, seed: int = 0, precision: str = "bfloat16"
) -> list[dict]:
    """One row per chunk step (0 = the reset frame): token L1 and reward difference between the float32 and the
    `precision` rollouts, the PSNR of their renders, and the fp32 model's own flow-noise spread at that step, over the
    worlds still in their first episode in both rollouts (`live_envs`; a step with none is left out)."""
    ref = _rollout(bundle, device, num_envs, chunk_steps, seed, "float32", spread=True)
    low = _rollout(bundle, device, num_envs, chunk_steps, seed, precision, spread=False)
    rows = []
    for t in range(chunk_steps + 1):
        m = ref["shown"][t] & low["shown"][t]
        if not m.any():
            break
        row = {
            "chunk_step": t,
            "live_envs": int(m.sum()),
            "token_l1": (ref["tokens"][t][m] - low["tokens"][t][m]).abs().mean().item(),
            "token_scale": ref["tokens"][t][m].abs().mean().item(),
            "psnr_db": float(
                peak_signal_noise_ratio(ref["rgb"][t][m].float(), low["rgb"][t][m].float(), data_range=255.0)
            ),
        }
        if t > 0:
            row["reward_abs_diff"] = (ref["rewards"][t - 1][m] - low["rewards"][t - 1][m]).abs().mean().item()
            row["flow_noise_spread"] = ref["spread"][t - 1][m].mean().item()
            row["drift_over_spread"] = row["token_l1"] / max(row["flow_noise_spread"], 1e-12)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bundle_args(parser)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--chunk-steps", type=int, default=6)
    parser.add_argument("--precision", default="bfloat16", choices=["float32", "bfloat16"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the rows here")
    args = parser.parse_args()

    bundle, device, source = bundle_from_args(args)
    rows = precision_drift(bundle, str(device), args.num_envs, args.chunk_steps, args.seed, args.precision)
    print(f"\n## float32 against {args.precision} ({source}, {args.num_envs} envs, on {device})\n")
    print(
        "| chunk step | live envs | token L1 fp32-vs-low | token mean abs | flow-noise spread | drift / spread "
        "| reward diff | render PSNR (dB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        spread = f"{r['flow_noise_spread']:.4f}" if "flow_noise_spread" in r else "-"
        ratio = f"{r['drift_over_spread']:.3f}" if "drift_over_spread" in r else "-"
        reward = f"{r['reward_abs_diff']:.4f}" if "reward_abs_diff" in r else "-"
        print(
            f"| {r['chunk_step']} | {r['live_envs']} | {r['token_l1']:.5f} | {r['token_scale']:.4f} | {spread} | {ratio} | {reward} "
            f"| {r['psnr_db']:.1f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"bundle": source, "device": str(device), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
