"""A stock mmseg model (in_channels=4) trains, resumes and tests on RGB-T
demo data through our tools and through mmseg's unmodified scripts."""
import glob
import json
import os.path as osp

import pytest

from conftest import run_tool

CONFIG = 'configs/baselines/fcn_tiny_rgbt_demo.py'


def _data_options(root: str):
    return [f'{loader}.dataset.data_root={root}' for loader in
            ('train_dataloader', 'val_dataloader', 'test_dataloader')]


@pytest.fixture(scope='module')
def trained_run(mfnet_demo_root, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('fcn_demo'))
    options = ['--cfg-options', *_data_options(mfnet_demo_root),
               'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
               'default_hooks.checkpoint.interval=2',
               'default_hooks.logger.interval=1']
    first = run_tool(['tools/train.py', CONFIG, '--work-dir', work_dir,
                      *options])
    return dict(work_dir=work_dir, options=options, log=first.stdout +
                first.stderr)


@pytest.mark.slow
def test_train_saves_checkpoints(trained_run):
    work_dir = trained_run['work_dir']
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    assert 'mIoU' in trained_run['log']


@pytest.mark.slow
def test_resume_continues_from_last_checkpoint(trained_run):
    work_dir = trained_run['work_dir']
    options = [o.replace('max_iters=4', 'max_iters=6')
               for o in trained_run['options']]
    resumed = run_tool(['tools/train.py', CONFIG, '--work-dir', work_dir,
                        '--resume', *options])
    log = resumed.stdout + resumed.stderr
    assert 'resumed' in log.lower()
    assert 'Unsupported global' not in log
    assert 'Iter(train) [5/6]' in log and 'Iter(train) [1/6]' not in log
    assert osp.isfile(osp.join(work_dir, 'iter_6.pth'))


@pytest.mark.slow
def test_load_from_and_test_report_miou(trained_run, mfnet_demo_root,
                                        tmp_path):
    checkpoint = osp.join(trained_run['work_dir'], 'iter_4.pth')
    tested = run_tool(['tools/test.py', CONFIG, checkpoint, '--work-dir',
                       str(tmp_path), '--cfg-options',
                       *_data_options(mfnet_demo_root)])
    assert 'mIoU' in tested.stdout + tested.stderr
    results = glob.glob(str(tmp_path / '*' / '*.json'))
    assert results, 'tools/test.py wrote no metrics json'
    metrics = json.load(open(results[0]))
    assert 0.0 <= metrics['mIoU'] <= 100.0


@pytest.mark.slow
def test_mmseg_unmodified_train_script_runs_our_config(
        mfnet_demo_root, tmp_path):
    from fusionsam_mmseg.engine.mmseg_scripts import mmseg_tool_path
    run_tool([mmseg_tool_path('train.py'), CONFIG, '--work-dir',
              str(tmp_path), '--cfg-options', *_data_options(mfnet_demo_root),
              'train_cfg.max_iters=2', 'train_cfg.val_interval=2'])
    assert osp.isfile(osp.join(tmp_path, 'iter_2.pth')) or glob.glob(
        str(tmp_path / '*.pth'))
