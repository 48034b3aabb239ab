"""torch >= 2.6 ``weights_only`` loading of mmengine checkpoints."""
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import _load_checkpoint

import fusionsam_mmseg  # noqa: F401  (registers the allow-list)


class _Payload:
    """Unpickling this object would create a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def _training_checkpoint() -> dict:
    hub = MessageHub.get_instance('safe_checkpoint_test')
    for step in range(3):
        hub.update_scalar('train/loss', np.float64(1.0 / (step + 1)))
    hub.update_info('iter', 3)
    return dict(
        meta=dict(message_hub=hub.state_dict(), iter=3, seed=np.int64(0),
                  dataset_meta=dict(classes=('a', 'b'),
                                    palette=[[0, 0, 0], [1, 1, 1]])),
        state_dict=dict(weight=torch.ones(2)),
        optimizer=dict(state={}, param_groups=[dict(lr=1e-3, params=[0])]))


def test_training_checkpoint_loads_with_weights_only(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    torch.save(_training_checkpoint(), path)
    loaded = torch.load(path, weights_only=True)
    buffer = loaded['meta']['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.current() == pytest.approx(1.0 / 3)
    assert loaded['meta']['seed'] == 0
    # mmengine's own loader (used by load_from and --resume).
    via_mmengine = _load_checkpoint(path, map_location='cpu')
    assert torch.equal(via_mmengine['state_dict']['weight'], torch.ones(2))


def test_pickled_payload_is_refused_and_never_runs(tmp_path):
    marker = str(tmp_path / 'payload_ran')
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict=dict(w=torch.zeros(1)),
                    meta=dict(extra=_Payload(marker))), path)
    with pytest.raises(pickle.UnpicklingError, match='weights_only'):
        torch.load(path)
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(path, map_location='cpu')
    assert not osp.exists(marker)


# --- The tools and the SAM head refuse such a file too (issue 8).

FCN_CONFIG = 'configs/baselines/fcn_tiny_rgbt_demo.py'


def _evil_checkpoint(path: str, marker: str) -> None:
    """A training-checkpoint-shaped file whose unpickling opens ``marker``."""
    checkpoint = _training_checkpoint()
    checkpoint['meta']['extra'] = _Payload(marker)
    torch.save(checkpoint, path)


@pytest.mark.slow
@pytest.mark.parametrize('tool', ['train --resume', 'test'])
def test_tools_refuse_a_pickled_payload(tool, mfnet_demo_root, tmp_path):
    from conftest import run_tool
    marker, evil = str(tmp_path / 'payload_ran'), str(tmp_path / 'evil.pth')
    _evil_checkpoint(evil, marker)
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    data = [f'{loader}.dataset.data_root={mfnet_demo_root}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')]
    if tool == 'test':
        args = ['tools/test.py', FCN_CONFIG, evil]
    else:  # --resume picks the file named in <work_dir>/last_checkpoint
        (work_dir / 'last_checkpoint').write_text(evil)
        args = ['tools/train.py', FCN_CONFIG, '--resume']
    proc = run_tool(args + ['--work-dir', str(work_dir), '--cfg-options',
                            *data, 'train_cfg.max_iters=1'], check=False)
    assert proc.returncode != 0
    assert 'Weights only load failed' in proc.stderr
    assert 'Unsupported global: GLOBAL io.open' in proc.stderr
    assert not osp.exists(marker)


def test_sam_checkpoint_with_a_pickled_payload_is_refused(tmp_path):
    from test_bad_input import _tiny_sam_head, _tiny_sam_state_dict
    marker, evil = str(tmp_path / 'payload_ran'), str(tmp_path / 'sam.pth')
    state_dict = _tiny_sam_state_dict(embed_dim=16)
    state_dict['mask_decoder.extra'] = _Payload(marker)
    torch.save(state_dict, evil)
    head = _tiny_sam_head(evil, embed_dim=16)
    with pytest.raises(pickle.UnpicklingError, match='weights_only'):
        head.init_weights()
    assert not osp.exists(marker)


class _Attacker:
    """Pickles as getattr(HistoryBuffer, '__init__'): a non-statistics attr."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    path = str(tmp_path / 'getattr.pth')
    torch.save(dict(meta=dict(sneaky=_Attacker())), path)
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer'):
        torch.load(path)
