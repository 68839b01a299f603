"""RL^2: a recurrent policy that adapts in its hidden state across the episodes of a trial.

- ``agents.rl2.core``: ``RL2Policy`` (inputs: observation, previous action, previous reward,
  done flag), ``RL2Agent`` and checkpoints of kind ``"rl2"`` (importing this package registers
  the loader with ``agents.load``);
- ``agents.rl2.train``: PPO with truncated BPTT on nonstationary-locomotion trials (one damage
  chain of 7 episodes per trial), resumable runs with lineages.
"""

from agents.rl2.core import KIND, RL2Agent, RL2Config, RL2Policy, load_rl2, save_rl2
from agents.rl2.train import RL2TrainConfig, RL2Trainer, TrialSampler, train_rl2

__all__ = ["KIND", "RL2Agent", "RL2Config", "RL2Policy", "RL2TrainConfig", "RL2Trainer",
           "TrialSampler", "load_rl2", "save_rl2", "train_rl2"]
