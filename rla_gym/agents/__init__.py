"""Policies that act in the world model and in ManiSkill: the BC ResNet, its LoRA actor-critic and PPO."""
