"""MAML for continuous adaptation (Al-Shedivat et al., ICLR 2018).

``core``: the adaptation rule (importance-weighted inner steps with learned step sizes);
``train``: meta-training on pairs of consecutive locomotion tasks (``MetaTrainer``) and what
every MAML run shares (``MAMLRun``); ``sumo``: the same on consecutive versions of a RoboSumo
opponent lineage (``SumoMetaTrainer``); ``agent``: ``MAMLAgent``, adapting between rounds.
"""

from agents.episodes import Episodes
from agents.maml.core import (
    AdaptConfig,
    Evaluation,
    Params,
    StepSizes,
    act_step,
    adapt,
    discounted_returns,
    evaluate_episodes,
    importance_weights,
    inner_loss,
    parameters_of,
    task_advantages,
)

__all__ = ["AdaptConfig", "Episodes", "Evaluation", "Params", "StepSizes", "act_step", "adapt",
           "discounted_returns", "evaluate_episodes", "importance_weights", "inner_loss",
           "parameters_of", "task_advantages"]
