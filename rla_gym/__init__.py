"""rla-gym: reinforcement learning inside the RLA world model, as a Gymnasium environment.

Importing this package registers `RLAWorldModel-v0` with string entry points and imports no torch.
"""

__version__ = "0.1.0"
