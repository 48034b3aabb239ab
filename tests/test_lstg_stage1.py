"""Stage 1: LSTG trained alone as a VQ-GAN (autoencoder model, PSNR/SSIM
metric, config through tools/train.py with resume)."""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.registry import METRICS, MODELS
from mmseg.structures import SegDataSample

import fusionsam_mmseg  # noqa: F401  (registers the components)
from conftest import run_tool
from fusionsam_mmseg.evaluation.metrics.reconstruction_metric import psnr, ssim

CONFIG = 'configs/lstg/lstg_vqgan_mfnet.py'
DEMO_CONFIG = 'configs/lstg/lstg_vqgan_mfnet_demo.py'
TINY_FUSIONSAM = 'configs/fusionsam_tiny_demo.py'
# Paper stage 1 -> the paper config that starts from its checkpoint.
TWO_STAGES = (
    ('configs/lstg/lstg_vqgan_perceptual_mfnet.py',
     'configs/fusionsam_vith_mfnet.py'),
    ('configs/lstg/lstg_vqgan_perceptual_fmb.py',
     'configs/fusionsam_vith_fmb.py'),
)
TINY_BACKBONE = dict(
    type='LSTG',
    modality_channels=(3, 1),
    modality_names=('rgb', 'thermal'),
    embed_dims=16,
    base_channels=8,
    num_codes=32)
PREPROCESSOR = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53, 127.5],
    std=[58.395, 57.12, 57.375, 64.0],
    bgr_to_rgb=False)


def test_psnr_and_ssim_values():
    image = torch.rand(3, 32, 32)
    assert psnr(image, image) == pytest.approx(100.0)
    assert psnr(image + 0.1, image) == pytest.approx(20.0, abs=1e-3)
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(torch.rand(3, 32, 32), image) < 0.2


def test_reconstruction_metric_scores_each_modality():
    metric = METRICS.build(
        dict(type='ReconstructionMetric', modality_names=('rgb', 'thermal')))
    inputs = torch.randint(0, 256, (4, 20, 24), dtype=torch.uint8)
    perfect = inputs.float() / 255.0
    noisy_thermal = perfect.clone()
    noisy_thermal[3] = (noisy_thermal[3] + 0.1).clamp(0, 1)
    samples = [
        SegDataSample(
            metainfo=dict(modality_channels=(3, 1)),
            pred_reconstruction=PixelData(data=pred)).to_dict()
        for pred in (perfect, noisy_thermal)
    ]
    metric.process(dict(inputs=[inputs, inputs]), samples)
    results = metric.compute_metrics(metric.results)
    assert results['PSNR_rgb'] == pytest.approx(100.0)
    assert 20.0 < results['PSNR_thermal'] < 100.0
    assert results['PSNR'] == pytest.approx(
        (results['PSNR_rgb'] + results['PSNR_thermal']) / 2, abs=1e-3)
    assert results['SSIM_rgb'] == pytest.approx(1.0)


def test_reconstruction_metric_rejects_mismatched_channels():
    metric = METRICS.build(dict(type='ReconstructionMetric'))
    sample = SegDataSample(
        metainfo=dict(modality_channels=(3, 2)),
        pred_reconstruction=PixelData(data=torch.rand(4, 8, 8))).to_dict()
    with pytest.raises(ValueError, match=r'modality_channels=\(3, 2\)'):
        metric.process(
            dict(inputs=[torch.zeros(4, 8, 8, dtype=torch.uint8)]),
            [sample])


def test_autoencoder_loss_and_predict():
    model = MODELS.build(
        dict(type='LSTGAutoencoder', backbone=TINY_BACKBONE,
             data_preprocessor=PREPROCESSOR))
    inputs = [torch.randint(0, 256, (4, 24, 32), dtype=torch.uint8)]
    samples = [SegDataSample(metainfo=dict(img_shape=(24, 32)))]
    data = model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), False)
    losses = model(**data, mode='loss')
    assert {'loss_vq', 'loss_recon', 'perplexity_rgb'} <= set(losses)
    with torch.no_grad():
        predictions = model.test_step(
            dict(inputs=inputs, data_samples=samples))
    reconstruction = predictions[0].pred_reconstruction.data
    assert reconstruction.shape == (4, 24, 32)
    assert 0.0 <= float(reconstruction.min()) <= float(
        reconstruction.max()) <= 1.0
    tokens = model(data['inputs'], mode='tensor')
    assert [t.shape for t in tokens] == [(1, 16, 6, 8)] * 2


def test_stage1_configs_build(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    assert cfg.model.type == 'LSTGAutoencoder'
    assert cfg.val_evaluator == dict(
        type='ReconstructionMetric', modality_names=('rgb', 'thermal'))
    demo = Config.fromfile(
        osp.join(repo_root, 'configs/lstg/lstg_vqgan_mfnet_demo.py'))
    assert demo.model.backbone.embed_dims == 64
    assert demo.train_cfg.max_iters == 300
    perceptual = Config.fromfile(
        osp.join(repo_root, 'configs/lstg/lstg_vqgan_perceptual_mfnet.py'))
    model = MODELS.build(perceptual.model)
    assert model.backbone.loss_perceptual.init_cfg['checkpoint'].endswith(
        'vgg16-397923af.pth')


@pytest.fixture(scope='module')
def stage1_run(mfnet_demo_root, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('lstg_stage1'))
    options = [
        f'{loader}.dataset.data_root={mfnet_demo_root}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
    ] + [
        'train_dataloader.batch_size=1',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'val_dataloader.dataset.indices=1',
        'train_dataloader.dataset.pipeline.2.scale=(160,120)',
        'train_dataloader.dataset.pipeline.3.crop_size=(48,64)',
        'model.data_preprocessor.size=(48,64)',
        'model.backbone.embed_dims=16',
        'model.backbone.base_channels=8',
        'model.backbone.num_codes=32',
        'model.backbone.loss_adv.start_iter=0',
        'model.backbone.loss_adv.discriminator.base_channels=8',
        'train_cfg.max_iters=2',
        'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1',
        'env_cfg.cudnn_benchmark=False',
        'env_cfg.dist_cfg.backend=gloo',
    ]
    first = run_tool(['tools/train.py', CONFIG, '--work-dir', work_dir,
                      '--cfg-options', *options])
    return dict(work_dir=work_dir, options=options,
                log=first.stdout + first.stderr)


@pytest.mark.slow
def test_stage1_config_trains_and_reports_psnr(stage1_run):
    log = stage1_run['log']
    assert osp.isfile(osp.join(stage1_run['work_dir'], 'iter_2.pth'))
    assert re.search(r'PSNR: \d+\.\d+', log), log[-3000:]
    assert 'loss_adv_d' in log and 'perplexity_rgb' in log


@pytest.mark.slow
def test_stage1_resumes_and_its_checkpoint_loads_into_lstg(stage1_run):
    work_dir = stage1_run['work_dir']
    options = [o.replace('max_iters=2', 'max_iters=3')
               for o in stage1_run['options']] + ['train_cfg.val_begin=4']
    resumed = run_tool(['tools/train.py', CONFIG, '--work-dir', work_dir,
                        '--resume', '--cfg-options', *options])
    log = resumed.stdout + resumed.stderr
    assert 'resumed' in log.lower()
    assert 'Iter(train) [3/3]' in log and 'Iter(train) [1/3]' not in log
    checkpoint = osp.join(work_dir, 'iter_3.pth')
    assert osp.isfile(checkpoint)

    lstg = MODELS.build(
        dict(TINY_BACKBONE, with_decoder=False,
             init_cfg=dict(type='Pretrained', checkpoint=checkpoint,
                           prefix='backbone.')))
    lstg.init_weights()
    state = torch.load(
        checkpoint, map_location='cpu', weights_only=False)['state_dict']
    assert torch.equal(lstg.stems[1].weight, state['backbone.stems.1.weight'])
    assert torch.equal(lstg.quantizers[0].codebook,
                       state['backbone.quantizers.0.codebook'])


@pytest.mark.parametrize('stage1, stage2', TWO_STAGES)
def test_both_stages_train_the_same_lstg_the_same_way(repo_root, stage1,
                                                      stage2):
    """Same LSTG (so a stage-1 checkpoint loads strictly), same adversarial
    start, perceptual weight and discriminator optimizer in both stages;
    the paper config names its stage-1 file as `lstg_checkpoint`."""
    first = Config.fromfile(osp.join(repo_root, stage1))
    second = Config.fromfile(osp.join(repo_root, stage2))
    assert first.model.backbone == second.model.backbone
    assert second.model.backbone.loss_adv.start_iter == \
        second.adversarial_start_iter == 10000
    assert second.model.backbone.loss_perceptual.loss_weight == \
        second.perceptual_loss_weight == 1.0
    for cfg in (first, second):
        assert cfg.optim_wrapper.paramwise_cfg.custom_keys[
            'loss_adv.discriminator'] == dict(betas=(0.5, 0.9),
                                              decay_mult=0.0)
    stem = osp.splitext(osp.basename(stage1))[0]
    assert second.lstg_checkpoint == f'checkpoints/lstg/{stem}.pth'
    assert second.model.part_checkpoints == dict(
        backbone=second.lstg_checkpoint)


def test_stage1_checkpoint_starts_fusionsam(mfnet_demo_root, tmp_path,
                                            repo_root):
    """Stage 1 (the demo VQ-GAN config, two iterations), then a tiny
    FusionSAM with that LSTG whose `part_checkpoints.backbone` (what
    `lstg_checkpoint` sets) is the stage-1 checkpoint: every LSTG tensor
    arrives."""
    stage1 = Config.fromfile(osp.join(repo_root, DEMO_CONFIG))
    stage1.merge_from_dict({
        'work_dir': str(tmp_path / 'stage1'),
        # in-process: a visualizer of its own, not the global 'visualizer'
        'visualizer.name': f'lstg_stage1_{tmp_path.name}',
        'train_dataloader.dataset.data_root': mfnet_demo_root,
        'train_dataloader.batch_size': 2,
        'model.backbone.loss_adv.start_iter': 0,
        'train_cfg.max_iters': 2,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.checkpoint.save_best': None,
    })
    for loop in ('val', 'test'):
        stage1[f'{loop}_dataloader'] = stage1[f'{loop}_cfg'] = \
            stage1[f'{loop}_evaluator'] = None
    Runner.from_cfg(stage1).train()
    checkpoint = str(tmp_path / 'stage1' / 'iter_2.pth')
    state = torch.load(checkpoint, map_location='cpu',
                       weights_only=False)['state_dict']

    stage2 = Config.fromfile(osp.join(repo_root, TINY_FUSIONSAM))
    lstg = stage1.model.backbone
    stage2.model.backbone = lstg
    stage2.model.neck.update(in_channels=lstg.embed_dims,
                             embed_dims=lstg.embed_dims,
                             out_channels=lstg.embed_dims)
    stage2.model.decode_head.in_channels = lstg.embed_dims
    stage2.model.part_checkpoints = dict(backbone=checkpoint)
    model = MODELS.build(stage2.model)
    lstg_state = {key[len('backbone.'):]: value
                  for key, value in state.items()
                  if key.startswith('backbone.')}
    assert not torch.equal(model.backbone.stems[0].weight,
                           lstg_state['stems.0.weight'])
    model.init_weights()
    loaded = model.backbone.state_dict()
    assert loaded.keys() == lstg_state.keys()
    for key, value in lstg_state.items():
        assert torch.equal(loaded[key], value), key
    assert any('loss_adv.discriminator' in key for key in loaded)
