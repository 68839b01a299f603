"""NoRML: no-reward meta-learning (Yang et al., AAMAS 2019) and the paper's ablations.

- ``agents.norml.core``: the model (policy theta, learned advantage psi, offset, step size alpha),
  the reward-free inner step, the per-task ridge baseline and the outer loss;
- ``agents.norml.train``: meta-training on the point agent (``PointRotation-v0``), resumable;
- ``agents.norml.locomotion``: meta-training on nonstationary locomotion (consecutive-task
  pairs of the training leg pairs, frozen observation statistics), resumable;
- ``agents.norml.sumo``: meta-training in RoboSumo against consecutive versions (v_k, v_{k+1})
  of a self-play lineage (one bout per arena, masked), resumable;
- ``agents.norml.agent``: ``NoRMLAgent`` and checkpoints of kind ``"norml"`` (importing this
  package registers the loader with ``agents.load``).
"""

from agents.norml.agent import KIND, FrozenNoRMLAgent, NoRMLAgent, load_norml, save_norml
from agents.norml.core import VARIANTS, NoRMLConfig, NoRMLModel, TaskData
from agents.norml.train import MetaTrainConfig, MetaTrainer, evaluate, meta_train

__all__ = ["KIND", "VARIANTS", "FrozenNoRMLAgent", "MetaTrainConfig", "MetaTrainer",
           "NoRMLAgent", "NoRMLConfig", "NoRMLModel", "TaskData", "evaluate", "load_norml",
           "meta_train", "save_norml"]
