"""FusionSAM segmentor: shapes, losses, frozen encoder, prediction extras,
and the tiny demo trained with the stock tools (fused vs single modality)."""
import copy
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from mmengine.config import Config
from mmengine.structures import PixelData

import fusionsam_mmseg  # noqa: F401  (registers the components)
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset
from fusionsam_mmseg.datasets.mfnet import MFNetDataset
from fusionsam_mmseg.models.layers.image_space import to_unit_range
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from conftest import REPO_ROOT

TINY_CONFIG = osp.join(REPO_ROOT, 'configs', 'fusionsam_tiny_demo.py')


def _model_cfg(num_classes=9, **overrides):
    """The tiny demo model, with the LSTG decoders (all LSTG losses) on."""
    cfg = copy.deepcopy(Config.fromfile(TINY_CONFIG).model)
    cfg.decode_head.num_classes = num_classes
    cfg.backbone.with_decoder = True
    for key, value in overrides.items():
        cfg[key] = value
    return cfg


@pytest.fixture(scope='module')
def tiny_model():
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg())
    model.init_weights()
    return model


def _samples(labels, ori_shape=None, modality_channels=(3, 1), **meta):
    samples = []
    for label in labels:
        shape = tuple(label.shape)
        sample = SegDataSample(
            metainfo=dict(
                img_shape=shape,
                pad_shape=shape,
                ori_shape=ori_shape or shape,
                padding_size=[0, 0, 0, 0],
                modality_channels=modality_channels,
                **meta))
        sample.gt_sem_seg = PixelData(data=label[None].long())
        samples.append(sample)
    return samples


def _batch(batch, height, width, num_classes=9, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, 4, height, width, generator=generator)
    labels = torch.randint(0, num_classes, (batch, height, width),
                           generator=generator)
    labels[:, :2] = 255
    return inputs, labels


@pytest.mark.parametrize(
    'num_classes, size', [(9, (48, 64)), (15, (60, 80))],
    ids=['mfnet-like', 'fmb-like'])
def test_loss_and_predict_shapes(num_classes, size):
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg(num_classes))
    model.init_weights()
    inputs, labels = _batch(2, *size, num_classes)
    losses = model.loss(inputs, _samples(labels))
    for key in ('decode.loss_ce', 'backbone.loss_vq', 'backbone.loss_recon',
                'loss_fusion_mask', 'loss_fusion_image'):
        assert torch.isfinite(losses[key]) and losses[key].dim() == 0, key
    assert 'backbone.perplexity_rgb' in losses

    model.eval()
    ori_shape = (size[0] * 2, size[1] * 2)
    with torch.no_grad():
        results = model.predict(inputs, _samples(labels, ori_shape))
        logits = model._forward(inputs)
    assert logits.shape[:2] == (2, num_classes)
    for result in results:
        assert result.seg_logits.data.shape == (num_classes, *ori_shape)
        assert result.pred_sem_seg.data.shape == (1, *ori_shape)
        fused = result.fused_image.data
        assert fused.shape == (3, *ori_shape)
        assert fused.min() >= 0 and fused.max() <= 1


def test_predict_without_data_samples(tiny_model):
    tiny_model.eval()
    with torch.no_grad():
        results = tiny_model.predict(torch.randn(1, 4, 32, 40))
    assert results[0].pred_sem_seg.data.shape[0] == 1
    assert results[0].fused_image.data.shape == (3, 32, 40)


def test_fused_image_follows_padding_and_flip(tiny_model):
    tiny_model.eval()
    inputs = torch.randn(1, 4, 32, 40)
    with torch.no_grad():
        fused = tiny_model.extract_feat(inputs).fused_image
    meta = dict(padding_size=[0, 8, 0, 4], flip=True,
                flip_direction='horizontal', ori_shape=(28, 32))
    restored = tiny_model._restore_geometry(fused, meta)
    torch.testing.assert_close(restored, fused[..., :28, :32].flip(-1))


def test_encoder_frozen_and_trainable_parts_get_gradients(tiny_model):
    model = tiny_model
    model.train()
    head = model.decode_head
    assert not head.image_encoder.training
    assert head.prompt_encoder.training and model.neck.training
    model.zero_grad()
    inputs, labels = _batch(2, 48, 64)
    losses = model.loss(inputs, _samples(labels))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is None for p in head.image_encoder.parameters())
    assert all(not p.requires_grad for p in head.image_encoder.parameters())
    for name, module in [('backbone', model.backbone), ('neck', model.neck),
                         ('prompt_encoder', head.prompt_encoder),
                         ('mask_decoder', head.mask_decoder)]:
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name
    neck_missing = [n for n, p in model.neck.named_parameters()
                    if p.grad is None]
    assert not neck_missing


def test_the_fusion_losses_read_the_neck_output_by_name():
    """A neck without fusion mask needs loss_fusion_mask=None; a model
    without a fusion neck is refused, naming what is expected."""
    inputs, labels = _batch(2, 48, 64)
    cfg = _model_cfg()
    cfg.neck = dict(type='ConcatFusion', in_channels=32, embed_dims=32,
                    out_channels=32, image_channels=8, with_mask_logits=False)
    cfg.decode_head.update(num_points=0, use_box=False, use_mask_prompt=False)
    model = MODELS.build(cfg)
    with pytest.raises(ValueError, match='loss_fusion_mask=None'):
        model.loss(inputs, _samples(labels))
    model.loss_fusion_mask = None
    losses = model.loss(inputs, _samples(labels))
    assert 'loss_fusion_mask' not in losses and 'loss_fusion_image' in losses
    cfg.neck = None
    with pytest.raises(TypeError, match='FusionNeckOutput.*no neck'):
        MODELS.build(cfg).loss(inputs, _samples(labels))


def test_modality_channels_mismatch_is_reported(tiny_model):
    inputs, labels = _batch(1, 32, 32)
    with pytest.raises(ValueError, match=r'modality_channels=\(3, 2\)'):
        tiny_model.loss(inputs, _samples(labels, modality_channels=(3, 2)))
    with pytest.raises(ValueError, match='inputs have 3 channels'):
        tiny_model.loss(inputs[:, :3], _samples(labels))


def test_zeroed_modality_hides_it_from_the_model():
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg(zeroed_modalities=(1, )))
    model.init_weights()
    model.eval()
    inputs, labels = _batch(1, 32, 40)
    other = inputs.clone()
    other[:, 3] = torch.randn(1, 32, 40)
    with torch.no_grad():
        first = model.predict(inputs, _samples(labels))[0]
        second = model.predict(other, _samples(labels))[0]
    torch.testing.assert_close(first.seg_logits.data, second.seg_logits.data)
    prepared = model._prepare_inputs(inputs, None)
    torch.testing.assert_close(prepared[:, :3], inputs[:, :3])
    assert to_unit_range(prepared,
                         model.data_preprocessor)[:, 3].abs().max() == 0
    with pytest.raises(ValueError, match='zeroed_modalities'):
        MODELS.build(_model_cfg(zeroed_modalities=(2, )))


def test_fusion_mask_target_is_any_labelled_object():
    dice = dict(type='DiceLoss', use_sigmoid=False, loss_name='loss_dice')
    model = MODELS.build(
        _model_cfg(loss_fusion_mask=[
            dict(type='CrossEntropyLoss', use_sigmoid=False,
                 avg_non_ignore=True, loss_name='loss_fusion_mask'), dice
        ]))
    labels = torch.tensor([[[0, 3], [255, 7]]])
    perfect = torch.tensor([[[[-20.0, 20.0], [0.0, 20.0]]]])
    samples = _samples(labels)
    good = model._fusion_mask_losses(perfect, samples)
    bad = model._fusion_mask_losses(-perfect, samples)
    for key in ('loss_fusion_mask', 'loss_dice'):
        assert good[key] < 0.1 and bad[key] > 0.5, key
    # softmax CE on [0, x] is BCE on x, averaged over the labelled pixels
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        -perfect.flatten()[[0, 1, 3]], torch.tensor([0.0, 1.0, 1.0]))
    torch.testing.assert_close(bad['loss_fusion_mask'], expected)
    with pytest.raises(ValueError, match='use_sigmoid=False'):
        MODELS.build(_model_cfg(loss_fusion_mask=dict(dice, use_sigmoid=True)))


def test_to_unit_range_inverts_the_preprocessor(tiny_model):
    raw = torch.randint(0, 256, (1, 4, 4, 4)).float()
    preprocessor = tiny_model.data_preprocessor
    normalized = (raw - preprocessor.mean) / preprocessor.std
    torch.testing.assert_close(
        to_unit_range(normalized, preprocessor), raw / 255.0)
    torch.testing.assert_close(to_unit_range(raw, None), raw / 255.0)


# --- the tiny demo through the stock tools -----------------------------------
# One training + test run per variant, shared by the tests below. The demo
# generator draws person/bike in thermal only and curve/car_stop/color_cone in
# visible only, so a single-modality model cannot separate those classes.
# The three variants run side by side, one thread each (better use of two
# cores than one process with two threads on these small tensors).
VARIANTS = dict(
    fused=[], rgb_only=['model.zeroed_modalities=[1]'],
    thermal_only=['model.zeroed_modalities=[0]'])
MIOU_MARGIN = 8.0
FLOOR_MARGIN = 20.0  # mIoU points above an all-background prediction
THERMAL_ONLY_CLASSES = ('person', 'bike')
VISIBLE_ONLY_CLASSES = ('curve', 'car_stop', 'color_cone')
LOST_CLASS_IOU = 5.0
CLASS_MARGIN = 15.0


def _run_in_parallel(commands: dict, log_dir: str) -> dict:
    """Run ``{name: [args]}`` as ``python args`` side by side; return logs."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    procs = {}
    for name, args in commands.items():
        log = open(osp.join(log_dir, f'{name}.log'), 'w')
        procs[name] = (subprocess.Popen([sys.executable, *args],
                                        cwd=REPO_ROOT,
                                        env=env,
                                        stdout=log,
                                        stderr=subprocess.STDOUT), log)
    logs = {}
    for name, (proc, log) in procs.items():
        returncode = proc.wait(timeout=900)
        log.close()
        logs[name] = open(log.name).read()
        assert returncode == 0, (
            f'`python {" ".join(commands[name])}` exited {returncode}:\n'
            f'{logs[name][-6000:]}')
    return logs


def _data_options(root):
    return [
        f'{loader}.dataset.data_root={root}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
    ]


@pytest.fixture(scope='module')
def demo_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp('fusionsam_demo')
    root = make_demo_dataset(
        str(base / 'data'), 'mfnet', num_train=24, num_test=8, seed=0)
    options = {
        name: ['--cfg-options', *_data_options(root), *extra]
        for name, extra in VARIANTS.items()
    }
    work_dirs = {name: str(base / name) for name in VARIANTS}
    train_logs = _run_in_parallel(
        {
            name: ['tools/train.py', TINY_CONFIG, '--work-dir',
                   work_dirs[name], *options[name]]
            for name in VARIANTS
        }, str(base))
    test_logs = _run_in_parallel(
        {
            name: ['tools/test.py', TINY_CONFIG,
                   open(osp.join(work_dirs[name],
                                 'last_checkpoint')).read().strip(),
                   '--work-dir', osp.join(work_dirs[name], 'test'),
                   *options[name]]
            for name in VARIANTS
        }, str(base))
    runs = {}
    for name, work_dir in work_dirs.items():
        scalars = [
            json.loads(line) for path in glob.glob(
                osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
            for line in open(path)
        ]
        metrics, = glob.glob(osp.join(work_dir, 'test', '*', '*.json'))
        runs[name] = dict(
            data_root=root,
            train_log=train_logs[name],
            test_log=test_logs[name],
            losses=[s['decode.loss_ce'] for s in scalars
                    if 'decode.loss_ce' in s],
            metrics=json.load(open(metrics)))
    return runs


@pytest.mark.slow
def test_demo_training_loss_falls_and_test_reports_miou(demo_runs):
    run = demo_runs['fused']
    assert len(run['losses']) >= 3
    assert run['losses'][-1] < 0.5 * run['losses'][0], run['losses']
    assert 'mIoU' in run['test_log']
    assert 0 < run['metrics']['mIoU'] <= 100


def _all_background_miou(data_root: str) -> float:
    """mIoU (%) of a model that predicts ``unlabeled`` everywhere on the
    demo test split, computed from the label files."""
    labels = np.concatenate([
        np.array(Image.open(osp.join(data_root, 'labels', f'{stem}.png')))
        .ravel() for stem in open(osp.join(data_root, 'test.txt')).read()
        .split()])
    background_iou = (labels == 0).mean()  # the other classes score 0
    return 100.0 * background_iou / len(MFNetDataset.METAINFO['classes'])


@pytest.mark.slow
def test_demo_fused_beats_single_modalities(demo_runs):
    miou = {name: run['metrics']['mIoU'] for name, run in demo_runs.items()}
    print(f'FusionSAM-tiny demo test mIoU: {miou}')
    assert miou['fused'] > miou['rgb_only'] + MIOU_MARGIN, miou
    assert miou['fused'] > miou['thermal_only'] + MIOU_MARGIN, miou
    floor = _all_background_miou(demo_runs['fused']['data_root'])
    assert miou['fused'] > floor + FLOOR_MARGIN, (miou, floor)


@pytest.mark.slow
def test_demo_single_modality_models_lose_the_other_modalitys_classes(
        demo_runs):
    """Classes drawn in one modality only (tools/dataset_converters/
    make_demo_rgbt.py) are lost by the model that does not see it, each one;
    the fused model keeps them, on average over the group. (Per class the
    fused IoU is training noise on the smallest class: car_stop scored 18.16
    at e71db3d and 6.82 after a float-level change to the same computation;
    the RGB-only model, which sees it, 10.61 and 0.74.)"""
    iou = {name: run['metrics'] for name, run in demo_runs.items()}
    for missing, classes in (('rgb_only', THERMAL_ONLY_CLASSES),
                             ('thermal_only', VISIBLE_ONLY_CLASSES)):
        keys = [f'IoU.{name}' for name in classes]
        for key in keys:
            assert iou[missing][key] < LOST_CLASS_IOU, (missing, key, iou)
        group_iou = {
            name: np.mean([iou[name][key] for key in keys])
            for name in ('fused', missing)
        }
        assert group_iou['fused'] > group_iou[missing] + CLASS_MARGIN, (
            missing, classes, group_iou)
