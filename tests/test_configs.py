"""Every config builds; the paper configs carry the paper's settings; the
ViT-H config refuses to train without the SAM checkpoint."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.optim import build_optim_wrapper

import fusionsam_mmseg  # noqa: F401  (registers the components)
from mmseg.registry import DATASETS, MODELS

from conftest import REPO_ROOT, run_tool
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset
from in_process import run_script

CONFIGS = sorted(
    osp.relpath(path, REPO_ROOT)
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                          recursive=True)
    if '_base_' not in path)
PAPER_CONFIGS = [
    f'configs/fusionsam_vit{size}_{data}.py' for size in 'blh'
    for data in ('mfnet', 'fmb')
]
ABLATIONS = sorted(
    osp.relpath(path, REPO_ROOT)
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', 'ablations', '*')))
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _needs_weights(node) -> bool:
    """Whether a model config names a weights file anywhere (SAM, VGG)."""
    if isinstance(node, dict):
        return bool(node.get('checkpoint')) or any(
            _needs_weights(value) for value in node.values())
    if isinstance(node, (list, tuple)):
        return any(_needs_weights(value) for value in node)
    return False


def _without_build_time_files(node) -> None:
    """Drop the files some models read while they are built (SAGE's SAM
    encoder, the downstream config's SAGE student)."""
    if isinstance(node, dict):
        for key in ('sam_checkpoint', 'fusion_checkpoint'):
            if node.get(key):
                node[key] = None
        for value in node.values():
            _without_build_time_files(value)


def _point_data_at_demo(cfg: Config, roots: dict) -> None:
    for loader in LOADERS:
        if not cfg.get(loader):
            continue
        dataset = cfg[loader].dataset
        dataset.data_root = roots[dataset.type]


def _build_without_weights(model_cfg):
    """Build on the meta device; for real where the code needs values
    (SAM2's Hiera calls ``Tensor.item()`` while it is built)."""
    try:
        with torch.device('meta'):
            return MODELS.build(model_cfg)
    except Exception as error:  # third-party code wraps the RuntimeError
        if 'meta tensors' not in str(error):
            raise
    return MODELS.build(model_cfg)


@pytest.fixture(scope='module')
def own_data_root(tmp_path_factory) -> str:
    """Colour-label RGB-T pairs (configs/own_data/*), with the id labels
    and split files prepare_own_dataset.py writes (docs/own_data.md)."""
    root = make_demo_dataset(
        str(tmp_path_factory.mktemp('demo_own_rgbt')), 'multimodal_folder',
        num_train=4, num_test=2, seed=6, height=48, width=64)
    run_script('tools/dataset_converters/prepare_own_dataset.py', [
        'configs/own_data/fusionsam_tiny_own_rgbt.py', '--color-labels',
        'labels', '--cfg-options',
        *[f'{loader}.dataset.data_root={root}' for loader in LOADERS]])
    return root


@pytest.fixture(scope='module')
def demo_roots(mfnet_demo_root, fmb_demo_root, deliver_demo_root,
               mcubes_demo_root, msrs_demo_root, pst900_demo_root,
               own_data_root):
    return dict(MFNetDataset=mfnet_demo_root, FMBDataset=fmb_demo_root,
                DELIVERDataset=deliver_demo_root,
                MCubeSDataset=mcubes_demo_root, MSRSDataset=msrs_demo_root,
                PST900Dataset=pst900_demo_root,
                MultiModalFolderDataset=own_data_root)


def test_config_list_covers_the_paper_and_ablations():
    for name in PAPER_CONFIGS + [
            'configs/fusionsam_tiny_demo.py',
            'configs/mixing/lstg_fmp_fcnhead_demo.py',
            'configs/mixing/resnet18_samprompthead_demo.py'
    ]:
        assert name in CONFIGS
    assert len(ABLATIONS) == 6


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds_model_and_datasets(config, demo_roots):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    _without_build_time_files(cfg.model)
    if _needs_weights(cfg.model):
        # Models that load weights (official SAM sizes, up to 636M
        # parameters) are built on the meta device: every module is
        # constructed, no memory is allocated, no file is read. The ViT-H
        # training test below builds one for real.
        model = _build_without_weights(cfg.model)
    else:
        model = MODELS.build(cfg.model)
        model.init_weights()
    assert isinstance(model, BaseModel)
    _point_data_at_demo(cfg, demo_roots)
    for loader in [name for name in LOADERS if cfg.get(name)]:
        dataset = DATASETS.build(cfg[loader].dataset)
        if any(step.type == 'LoadSAMMaskPriors'
               for step in cfg[loader].dataset.pipeline):
            # needs the prior cache: tests/test_config_matrix.py makes it
            # with the tool and trains on it
            assert len(dataset) > 0
            continue
        sample = dataset[0]
        channels = tuple((cfg.model.get('backbone') or {}).get(
            'modality_channels', (3, 1)))
        assert sample['inputs'].shape[0] == sum(channels), loader
        assert tuple(sample['data_samples'].modality_channels) == channels


@pytest.mark.parametrize(
    'config, trained, frozen',
    [('configs/mixing/lstg_fmp_fcnhead_demo.py',
      ['backbone.encoders', 'neck.cross_domain_blocks', 'decode_head'], []),
     ('configs/mixing/resnet18_samprompthead_demo.py',
      ['backbone.layer1', 'decode_head.mask_decoder.transformer'],
      ['decode_head.image_encoder'])])
def test_mixing_config_trains_one_step(config, trained, frozen, demo_roots):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    _point_data_at_demo(cfg, demo_roots)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(2)])
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    log_vars = model.train_step(batch, optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
    after = model.state_dict()

    def changed(prefix):
        keys = [k for k in before if k.startswith(prefix)
                and before[k].is_floating_point()]
        assert keys, prefix
        return any(not torch.equal(before[k], after[k]) for k in keys)

    assert all(changed(prefix) for prefix in trained)
    assert not any(changed(prefix) for prefix in frozen)


@pytest.mark.parametrize('config', PAPER_CONFIGS)
def test_paper_settings_at_top_level(config):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    size = config.split('_vit')[1][0]
    assert cfg.sam_type == f'vit_{size}'
    assert cfg.max_epochs == cfg.train_cfg.max_epochs == 100
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
    assert cfg.batch_size == cfg.train_dataloader.batch_size == 4
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'Adam' and optimizer.lr == cfg.lr == 1e-4
    assert optimizer.weight_decay == cfg.weight_decay == 1e-3
    # Precision that runs anywhere: no AMP in the config (mmseg's --amp
    # turns it on); the frozen encoder is bf16 only where CUDA runs it.
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    head = cfg.model.decode_head
    assert head.encoder_autocast == 'auto'
    assert head.sam_type == cfg.sam_type
    assert head.checkpoint == cfg.sam_checkpoint
    assert osp.basename(head.checkpoint).startswith(f'sam_vit_{size}_')
    assert head.num_points == cfg.num_points == 10
    assert head.use_box is cfg.use_box is True
    assert cfg.model.backbone.num_downsamples == 2  # 4x downsampled tokens
    assert head.num_classes == (9 if 'mfnet' in config else 15)
    # The paper's modules: token-to-token attention, F_c + M0, Eq. 7 on.
    assert cfg.model.neck.kv_pool_size is None
    assert cfg.model.neck.attention == 'global'
    assert cfg.model.neck.complementary_unit == 'bidirectional'
    perceptual = cfg.model.backbone.loss_perceptual
    assert perceptual.type == 'PerceptualLoss'
    assert perceptual.init_cfg.checkpoint == cfg.vgg16_checkpoint
    assert cfg.model.data_preprocessor.size == cfg.crop_size


@pytest.mark.parametrize('config', CONFIGS)
def test_training_and_validation_never_read_a_test_split(config, demo_roots):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    _point_data_at_demo(cfg, demo_roots)

    def paths(loader):
        if not cfg.get(loader):
            return set()
        dataset = DATASETS.build(cfg[loader].dataset)
        return {info['img_path'] for info in dataset.load_data_list()}

    test_paths = paths('test_dataloader')
    assert test_paths
    assert not test_paths & (paths('train_dataloader') |
                             paths('val_dataloader'))
    if cfg.default_hooks.checkpoint.get('save_best'):
        assert cfg.get('val_dataloader'), config


@pytest.mark.parametrize('config', PAPER_CONFIGS)
def test_paper_config_headers_state_the_protocol(config):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    dataset = 'mfnet' if 'mfnet' in config else 'fmb'
    header = open(osp.join(REPO_ROOT, 'configs',
                           f'fusionsam_vith_{dataset}.py')).read()
    assert 'Protocol:' in header
    if dataset == 'mfnet':
        assert cfg.val_dataloader.dataset.ann_file == 'val.txt'
        assert cfg.default_hooks.checkpoint.save_best == 'mIoU'
    else:
        assert cfg.val_dataloader is None and cfg.val_cfg is None
        assert not cfg.default_hooks.checkpoint.get('save_best')


def test_ablations_change_only_what_they_name():
    for config in ABLATIONS:
        cfg = Config.fromfile(osp.join(REPO_ROOT, config))
        name = osp.basename(config)
        for suffix in ('_no_lstg.py', '_concat.py', '_shared_codebook.py'):
            name = name.replace(suffix, '.py')
        base = Config.fromfile(osp.join(REPO_ROOT, 'configs', name))
        if config.endswith('no_lstg.py'):
            assert cfg.model.backbone.type == 'ModalityPatchEmbed'
            assert cfg.model.neck == base.model.neck
            assert cfg.model.decode_head == base.model.decode_head
        elif config.endswith('shared_codebook.py'):
            assert cfg.model.backbone == dict(base.model.backbone,
                                              share_codebook=True)
            assert cfg.model.neck == base.model.neck
            assert cfg.model.decode_head == base.model.decode_head
        else:
            assert config.endswith('concat.py')
            assert cfg.model.neck.type == 'ConcatFusion'
            assert cfg.model.backbone == base.model.backbone
            assert cfg.model.loss_fusion_mask is None
        assert cfg.train_dataloader == base.train_dataloader
        assert cfg.optim_wrapper == base.optim_wrapper


def test_vith_model_structure():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'fusionsam_vith_mfnet.py'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    encoder = model.decode_head.image_encoder
    num_params = sum(p.numel() for p in encoder.parameters())
    assert 630e6 < num_params < 640e6  # SAM ViT-H image encoder
    model.train()
    assert not encoder.training
    assert not any(p.requires_grad for p in encoder.parameters())


@pytest.mark.slow
@pytest.mark.parametrize('missing, options, expected', [
    ('vgg16', ['model.decode_head.checkpoint=None'],
     ["VGG16 weights 'checkpoints/vgg16/vgg16-397923af.pth' do not exist",
      'download_checkpoints.py --models vgg16',
      '--cfg-options model.backbone.loss_perceptual=None']),
    ('sam', ['model.backbone.loss_perceptual=None'],
     ["SAM checkpoint 'checkpoints/sam/sam_vit_h_4b8939.pth' does not exist",
      'download_checkpoints.py --models sam_vit_h',
      '--cfg-options model.decode_head.checkpoint=None']),
])
def test_paper_config_refuses_to_start_without_its_weights(
        missing, options, expected, tmp_path, mfnet_demo_root):
    """The shipped ViT-H config, unedited, on the demo data, on CPU."""
    data = [f'{loader}.dataset.data_root={mfnet_demo_root}'
            for loader in LOADERS] + [
                f'{loader}.{key}={value}' for loader in LOADERS
                for key, value in (('num_workers', 0),
                                   ('persistent_workers', False))]
    result = run_tool([
        'tools/train.py', 'configs/fusionsam_vith_mfnet.py', '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', *data, *options
    ], check=False)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    for text in expected:
        assert text in log, missing
    assert 'Epoch(train)' not in log
