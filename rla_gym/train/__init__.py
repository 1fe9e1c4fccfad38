"""Trainers: one loop (`rla_gym.train.loop`, accelerate) and one module per model.

    rla-gym train unet       --init BUNDLE --data DIR --out RUN   # token -> RGB decoder
    rla-gym train rla        --init BUNDLE --data DIR --out RUN   # RLA autoencoder
    rla-gym train wm         --init BUNDLE --rla RUN --data DIR --out RUN   # RLA-WM on the frozen RLA latents
    rla-gym train regression --init BUNDLE --data DIR --out RUN   # direct-regression baseline

`--init` names the bundle whose config and encoder the run uses (a random `cpu`-preset bundle to start a
CPU stack from scratch); each run exports its component(s) to RUN/final, and `rla-gym make-bundle --from-runs`
assembles a bundle from them.
"""

from rla_gym.train.loop import TrainConfig, TrainResult, latest_checkpoint, plot_losses, train

__all__ = ["TrainConfig", "TrainResult", "latest_checkpoint", "plot_losses", "train"]
