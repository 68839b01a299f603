"""PPO: the update (``core``: ``PPO``, ``PPOConfig``), its training runs (``train``: ``Trainer``,
``TrainConfig``, ``train``) and PPO tracking at execution time (``tracking``: ``TrackingAgent``)."""

from agents.ppo.core import PPO, PPOConfig

__all__ = ["PPO", "PPOConfig"]
