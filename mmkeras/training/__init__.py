"""Training: strategies, resumable `train`, configs, training curves."""

from mmkeras.training.callbacks import AtomicModelCheckpoint
from mmkeras.training.callbacks import HistoryLog
from mmkeras.training.callbacks import StepBackup
from mmkeras.training.config import apply_overrides
from mmkeras.training.config import build_datasets
from mmkeras.training.config import build_model
from mmkeras.training.config import list_configs
from mmkeras.training.config import load_config
from mmkeras.training.plots import plot_history
from mmkeras.training.run import is_finished
from mmkeras.training.run import restart_run
from mmkeras.training.run import train
from mmkeras.training.strategies import is_chief
from mmkeras.training.strategies import num_workers
from mmkeras.training.strategies import strategy

__all__ = [
    "AtomicModelCheckpoint",
    "HistoryLog",
    "StepBackup",
    "apply_overrides",
    "build_datasets",
    "build_model",
    "is_chief",
    "is_finished",
    "list_configs",
    "load_config",
    "num_workers",
    "plot_history",
    "restart_run",
    "strategy",
    "train",
]
