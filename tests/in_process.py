"""Train briefly and run the command-line scripts inside the test process.

Tests that need a checkpoint of a tiny model, or the output of a script of
demo/ or tools/, use these instead of a new process: the same code, without
a second interpreter start-up (several seconds on the CI machine).
"""
import os.path as osp
import runpy
import sys
import uuid
from typing import List, Optional

from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO_ROOT

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def config_with_data(config: str, data_root: str) -> Config:
    """The repository config ``config`` reading every split from
    ``data_root``."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    cfg.merge_from_dict({
        f'{loader}.dataset.data_root': data_root
        for loader in LOADERS if cfg.get(loader)
    })
    return cfg


def train_briefly(config: str,
                  data_root: str,
                  work_dir: str,
                  iterations: int = 1,
                  options: Optional[dict] = None) -> str:
    """Train ``iterations`` iterations (no validation); return the
    checkpoint path."""
    cfg = config_with_data(config, data_root)
    name = f'{osp.splitext(osp.basename(config))[0]}_{uuid.uuid4().hex[:8]}'
    cfg.merge_from_dict({
        'work_dir': work_dir,
        'experiment_name': name,
        'visualizer.name': name,
        'train_cfg.max_iters': iterations,
        'train_cfg.val_interval': iterations,
        'default_hooks.checkpoint.interval': iterations,
        **(options or {})
    })
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    Runner.from_cfg(cfg).train()
    return osp.join(work_dir, f'iter_{iterations}.pth')


def run_script(script: str, args: List[str]) -> None:
    """Run ``python <script> <args>`` (a path relative to the repository)
    as ``__main__`` in this process."""
    path = osp.join(REPO_ROOT, script)
    argv = sys.argv
    sys.argv = [path, *args]
    try:
        runpy.run_path(path, run_name='__main__')
    finally:
        sys.argv = argv
