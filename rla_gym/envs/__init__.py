"""The world-model environments: the batched torch vector env, its single-env view, adapters."""
