"""rla-gym: reinforcement learning inside the RLA world model, as a Gymnasium environment.

Importing this package registers `RLAWorldModel-v0` with string entry points and imports no torch:

    env = gym.make("RLAWorldModel-v0", robot="ur10e", bundle=PATH)
    envs = gym.make_vec("RLAWorldModel-v0", num_envs=8, vectorization_mode="vector_entry_point", bundle=PATH)
"""

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

ENV_ID = "RLAWorldModel-v0"

if ENV_ID not in registry:
    register(
        id=ENV_ID,
        entry_point="rla_gym.envs.single:RLAWorldModelEnv",
        vector_entry_point="rla_gym.envs.vector:RLAWorldModelVectorEnv",
        disable_env_checker=True,  # outputs are torch tensors in the vector env; the single env passes check_env
    )

__all__ = ["ENV_ID", "__version__"]
