"""Baselines of the SAM-on-fused table and the MFNet day/night configs."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from conftest import REPO_ROOT
from segment_anything.modeling import MaskDecoder
from test_config_matrix import TINY_SAM, TINY_SAM2_CONFIG

from fusionsam_mmseg.models.sam import MaskReadout, SAMInputFrame

SAM_TINY = osp.join(REPO_ROOT, 'configs', 'baselines',
                    'sam_tiny_fused_demo.py')
SAM2_TINY = osp.join(REPO_ROOT, 'configs', 'baselines',
                     'sam2_tiny_fused_demo.py')
FUSIONSAM_TINY = osp.join(REPO_ROOT, 'configs', 'fusionsam_tiny_demo.py')
FUSED_BASELINES = sorted(
    glob.glob(osp.join(REPO_ROOT, 'configs', 'baselines', 'sam*_fused_*.py')))


def _build(config: str):
    cfg = Config.fromfile(config)
    init_default_scope('mmseg')
    return MODELS.build(cfg.model), cfg


def _batch(height=48, width=64, batch_size=2):
    generator = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (4, height, width),
                                    dtype=torch.uint8, generator=generator))
        sample = SegDataSample(metainfo=dict(
            ori_shape=(height, width), img_shape=(height, width),
            pad_shape=(height, width), modality_channels=(3, 1)))
        sample.gt_sem_seg = PixelData(data=torch.randint(
            0, 9, (1, height, width), generator=generator))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _train_step_grads(model):
    """Parameters of the decode head that get a gradient from the loss."""
    model.train()
    data = model.data_preprocessor(_batch(), True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if k.endswith('loss_ce')).backward()
    return {name for name, p in model.decode_head.named_parameters()
            if p.grad is not None and p.grad.abs().sum() > 0}


@pytest.fixture(scope='module')
def stock_sam_model():
    return _build(SAM_TINY)[0]


def test_stock_sam_head_trains_only_the_readout(stock_sam_model):
    head = stock_sam_model.decode_head
    assert head.mask_decoder.num_mask_tokens == 4
    assert not hasattr(head, 'dense_prompt_proj')
    trainable = {n for n, p in head.named_parameters() if p.requires_grad}
    assert trainable == {'readout.conv.weight', 'readout.conv.bias',
                         'conv_seg.weight', 'conv_seg.bias'}
    assert _train_step_grads(stock_sam_model) == trainable
    assert not head.image_encoder.training
    assert not head.mask_decoder.training and head.readout.training

    stock_sam_model.eval()
    with torch.no_grad():
        predictions = stock_sam_model.test_step(_batch(batch_size=1))
    assert predictions[0].pred_sem_seg.data.shape == (1, 48, 64)
    assert predictions[0].seg_logits.data.shape == (9, 48, 64)


def test_stock_sam_masks_are_segment_anythings(stock_sam_model):
    """The baseline's 4 masks equal segment_anything's MaskDecoder output."""
    head = stock_sam_model.decode_head.eval()
    iou_hidden = head.mask_decoder.iou_prediction_head.layers[0].out_features
    stock = MaskDecoder(
        transformer_dim=head.mask_decoder.transformer_dim,
        transformer=head.mask_decoder.transformer,
        num_multimask_outputs=3,
        iou_head_depth=3,
        iou_head_hidden_dim=iou_hidden)
    stock.load_state_dict(head.mask_decoder.state_dict())
    stock.eval()
    grid_h, grid_w = head.prompt_encoder.image_embedding_size
    embedding = torch.randn(1, head.prompt_encoder.embed_dim, grid_h,
                            grid_w)
    mask_logits = torch.randn(1, 1, 12, 16)
    frame = SAMInputFrame.for_image(48, 64, 128)
    with torch.no_grad():
        ours = head.stock_masks(embedding, frame, mask_logits)
        prompts = head.get_prompts(mask_logits, frame)
        sparse, dense = head.prompt_encoder(
            points=prompts.points, boxes=prompts.boxes, masks=None)
        pe = head.prompt_encoder.get_dense_pe()
        multi, _ = stock(embedding, pe, sparse, dense, multimask_output=True)
        single, _ = stock(embedding, pe, sparse, dense,
                          multimask_output=False)
    torch.testing.assert_close(ours, torch.cat([single, multi], dim=1))


def test_stock_sam_head_loads_official_layout(stock_sam_model, tmp_path):
    head = stock_sam_model.decode_head
    state = {}
    for part in ('image_encoder', 'prompt_encoder', 'mask_decoder'):
        for key, value in getattr(head, part).state_dict().items():
            state[f'{part}.{key}'] = torch.randn_like(value) \
                if value.is_floating_point() else value
    path = tmp_path / 'sam_tiny.pth'
    torch.save(state, path)
    cfg = Config.fromfile(SAM_TINY)
    cfg.model.decode_head.checkpoint = str(path)
    fresh = MODELS.build(cfg.model).decode_head
    fresh.init_weights()
    for key, value in fresh.mask_decoder.state_dict().items():
        torch.testing.assert_close(value, state[f'mask_decoder.{key}'])


def test_baseline_and_day_night_configs():
    for dataset, classes in (('mfnet', 9), ('fmb', 15)):
        sam = Config.fromfile(osp.join(
            REPO_ROOT, 'configs', 'baselines',
            f'sam_vith_fused_{dataset}.py'))
        assert sam.model.decode_head.type == 'StockSAMHead'
        assert sam.model.decode_head.sam_type == 'vit_h'
        assert sam.model.decode_head.num_classes == classes
        sam2 = Config.fromfile(osp.join(
            REPO_ROOT, 'configs', 'baselines',
            f'sam2_hiera_l_fused_{dataset}.py'))
        assert sam2.model.decode_head.type == 'StockSAM2Head'
        assert 'sam_type' not in sam2.model.decode_head
        assert sam2.model.decode_head.num_classes == classes
        assert sam2.test_evaluator.type == 'PerClassIoUMetric'
    for split in ('day', 'night'):
        cfg = Config.fromfile(osp.join(
            REPO_ROOT, 'configs', f'fusionsam_vith_mfnet_{split}.py'))
        assert cfg.test_dataloader.dataset.ann_file == f'test_{split}.txt'
        assert cfg.train_dataloader.dataset.ann_file == 'train.txt'
        assert cfg.val_dataloader.dataset.ann_file == 'val.txt'


def test_day_split_dataset_lists_only_day_images(mfnet_demo_root):
    from fusionsam_mmseg.datasets import MFNetDataset
    dataset = MFNetDataset(ann_file='test_day.txt', data_root=mfnet_demo_root,
                           pipeline=[])
    stems = [osp.basename(info['img_path']) for info in dataset]
    assert stems and all(stem.endswith('D.png') for stem in stems)


def test_sam2_baseline_trains_only_the_readout():
    model, _ = _build(SAM2_TINY)
    head = model.decode_head
    trainable = {n for n, p in head.named_parameters() if p.requires_grad}
    assert trainable == {'readout.conv.weight', 'readout.conv.bias',
                         'conv_seg.weight', 'conv_seg.bias'}
    assert _train_step_grads(model) == trainable
    assert not head.sam2.training
    model.eval()
    with torch.no_grad():
        predictions = model.test_step(_batch(batch_size=1))
    assert predictions[0].pred_sem_seg.data.shape == (1, 48, 64)

    head.checkpoint = '/nonexistent/sam2.1_hiera_tiny.pt'
    with pytest.raises(FileNotFoundError, match='sam2.1_hiera_tiny.pt'):
        head.init_weights()


def test_mask_readout_reads_the_embedding_only_when_asked():
    frame = SAMInputFrame.for_image(48, 64, 64)  # image is 48x64 of 64x64
    masks = torch.randn(2, 4, 16, 16)  # SAM's 4x-embedding mask grid
    embedding, other_embedding = torch.randn(2, 2, 8, 4, 4)
    masks_only = MaskReadout(4, 0, 6).eval()
    with_embedding = MaskReadout(4, 8, 6).eval()
    assert masks_only.conv.in_channels == 4
    assert with_embedding.conv.in_channels == 12
    out = masks_only(masks, embedding, frame)
    assert out.shape == (2, 6, 12, 16)  # cropped to the image's 48x64
    torch.testing.assert_close(out, masks_only(masks, other_embedding, frame))
    assert not torch.allclose(with_embedding(masks, embedding, frame),
                              with_embedding(masks, other_embedding, frame))


def _tiny_sam_head(cfg: Config) -> None:
    """A tiny random SAM / SAM2 in the baseline's head (the parts under
    test, LSTG + FMP, keep the config's sizes)."""
    head = cfg.model.decode_head
    if head.type == 'StockSAMHead' and head.get('sam_type') != 'custom':
        head.update(sam_type='custom', image_size=128, checkpoint=None,
                    encoder_cfg=TINY_SAM)
    elif head.type == 'StockSAM2Head' and 'hiera_t' not in head.sam2_config:
        head.update(sam2_config=TINY_SAM2_CONFIG, image_size=256,
                    checkpoint=None)


@pytest.mark.parametrize('config', FUSED_BASELINES,
                         ids=[osp.basename(c) for c in FUSED_BASELINES])
def test_fused_baselines_freeze_lstg_and_fmp(config):
    """LSTG + FMP of every SAM / SAM2 baseline come from
    `fusionsam_checkpoint`, train nothing and stay in eval mode."""
    cfg = Config.fromfile(config)
    assert cfg.model.part_checkpoints == dict(
        backbone=cfg.fusionsam_checkpoint, neck=cfg.fusionsam_checkpoint)
    _tiny_sam_head(cfg)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model).train()
    for part in (model.backbone, model.neck):
        assert not any(p.requires_grad for p in part.parameters())
        assert not any(module.training for module in part.modules())
    assert any(p.requires_grad for p in model.decode_head.parameters())


def test_sam2_baselines_run_sam_2_0_hiera_l():
    for dataset in ('mfnet', 'fmb'):
        cfg = Config.fromfile(osp.join(
            REPO_ROOT, 'configs', 'baselines',
            f'sam2_hiera_l_fused_{dataset}.py'))
        assert cfg.model.decode_head.sam2_config == \
            'configs/sam2/sam2_hiera_l.yaml'
        assert cfg.model.decode_head.checkpoint == \
            'checkpoints/sam2/sam2_hiera_large.pt'


def _train_steps(model, steps: int) -> None:
    """A few Adam steps on random batches (a trained, not a random model)."""
    wrapper = OptimWrapper(torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2))
    model.train()
    for _ in range(steps):
        model.train_step(_batch(), wrapper)


def _fused_image(model, data):
    model.eval()
    with torch.no_grad():
        return model.test_step(data)[0].fused_image.data


@pytest.fixture(scope='module')
def trained_fusionsam(tmp_path_factory):
    """configs/fusionsam_tiny_demo.py after 3 training steps, saved as a
    checkpoint."""
    torch.manual_seed(0)
    model = _build(FUSIONSAM_TINY)[0]
    _train_steps(model, 3)
    path = str(tmp_path_factory.mktemp('fusionsam') / 'fusionsam_tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return model, path


def test_baseline_fuses_like_the_trained_fusionsam(trained_fusionsam):
    fusionsam, path = trained_fusionsam
    cfg = Config.fromfile(SAM_TINY)
    cfg.model.part_checkpoints = dict(backbone=path, neck=path)
    baseline = MODELS.build(cfg.model)
    data = _batch(batch_size=1)
    expected = _fused_image(fusionsam, data)
    assert not torch.allclose(_fused_image(baseline, data), expected)
    baseline.init_weights()
    torch.testing.assert_close(_fused_image(baseline, data), expected,
                               rtol=0, atol=0)
    # Training the readout leaves LSTG + FMP (BN statistics, codebook) as
    # loaded.
    _train_steps(baseline, 2)
    torch.testing.assert_close(_fused_image(baseline, data), expected,
                               rtol=0, atol=0)


def test_part_checkpoints_load_strictly_and_name_the_file(
        trained_fusionsam, tmp_path):
    _, path = trained_fusionsam
    cfg = Config.fromfile(SAM_TINY)
    state = torch.load(path, weights_only=False)['state_dict']
    del state['neck.outputs.mask_logits.weight']
    partial = str(tmp_path / 'partial.pth')
    torch.save(dict(state_dict=state), partial)
    cfg.model.part_checkpoints = dict(neck=partial)
    with pytest.raises(ValueError, match=r'partial\.pth.*missing.*'
                       r'outputs\.mask_logits\.weight'):
        MODELS.build(cfg.model).init_weights()
    cfg.model.part_checkpoints = dict(backbone=str(tmp_path / 'absent.pth'))
    with pytest.raises(FileNotFoundError, match='absent.pth.*docs/lstg.md.*'
                       'model.part_checkpoints.backbone=None'):
        MODELS.build(cfg.model).init_weights()
