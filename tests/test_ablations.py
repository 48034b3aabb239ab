"""The paper's ablations are what the paper says (docs/architecture.md): (A) without
LSTG has no quantizer and no LSTG loss, (B) concat instead of FMP gives SAM
no point, box or mask prompt."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from conftest import REPO_ROOT
from fusionsam_mmseg.models.layers import VectorQuantizer

TINY_SAM = dict(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1, ),
                window_size=4, patch_size=8, prompt_embed_dim=32,
                mask_in_chans=8, decoder_depth=1, decoder_mlp_dim=64,
                decoder_num_heads=2, iou_head_hidden_dim=16)


def build(config: str):
    """The config's model with a tiny random SAM and no VGG (CPU-sized)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, config)).model
    cfg.decode_head.update(sam_type='custom', encoder_cfg=TINY_SAM,
                           image_size=64, checkpoint=None)
    if cfg.backbone.get('loss_perceptual'):
        cfg.backbone.loss_perceptual = None
    torch.manual_seed(0)
    return MODELS.build(cfg)


def batch(height=64, width=96, num_classes=9):
    inputs = torch.randn(2, 4, height, width)
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(
            img_shape=(height, width), pad_shape=(height, width),
            ori_shape=(height, width), padding_size=[0, 0, 0, 0]))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, height, width)))
        samples.append(sample)
    return inputs, samples


@pytest.mark.parametrize('dataset', ['mfnet', 'fmb'])
def test_without_lstg_has_no_quantizer_and_no_lstg_loss(dataset):
    model = build(f'configs/ablations/fusionsam_vith_{dataset}_no_lstg.py')
    paper = build(f'configs/fusionsam_vith_{dataset}.py')
    assert any(isinstance(m, VectorQuantizer) for m in paper.modules())
    assert not any(isinstance(m, VectorQuantizer) for m in model.modules())
    assert not any('decoder' in name or 'discriminator' in name
                   for name, _ in model.backbone.named_modules())
    num_classes = 9 if dataset == 'mfnet' else 15
    losses = model.loss(*batch(num_classes=num_classes))
    assert not [key for key in losses if key.startswith('backbone.')]
    assert {'backbone.loss_vq', 'backbone.loss_recon'} <= set(
        paper.loss(*batch(num_classes=num_classes)))
    tokens = model.backbone(batch()[0])
    assert [tuple(t.shape) for t in tokens] == [(2, 256, 16, 24)] * 2


@pytest.mark.parametrize('dataset', ['mfnet', 'fmb'])
def test_concat_ablation_gives_sam_no_fusion_mask_prompt(dataset):
    model = build(f'configs/ablations/fusionsam_vith_{dataset}_concat.py')
    calls = []
    prompt_encoder = model.decode_head.prompt_encoder
    original = prompt_encoder.forward

    def spy(points, boxes, masks):
        calls.append((points, boxes, masks))
        return original(points, boxes, masks)

    prompt_encoder.forward = spy
    num_classes = 9 if dataset == 'mfnet' else 15
    inputs, samples = batch(num_classes=num_classes)
    losses = model.loss(inputs, samples)
    model.eval()
    with torch.no_grad():
        predictions = model.predict(inputs, samples)
    assert calls and all(call == (None, None, None) for call in calls)
    assert 'loss_fusion_mask' not in losses
    assert model.neck(model.backbone(inputs)).mask_logits is None
    assert predictions[0].fused_image.data.shape == (3, 64, 96)
    assert predictions[0].seg_logits.data.shape == (num_classes, 64, 96)
    # The paper model does prompt SAM with points, a box and the mask.
    paper = build(f'configs/fusionsam_vith_{dataset}.py')
    paper_calls = []
    original_paper = paper.decode_head.prompt_encoder.forward
    paper.decode_head.prompt_encoder.forward = (
        lambda points, boxes, masks: paper_calls.append(
            (points, boxes, masks)) or original_paper(points, boxes, masks))
    paper.loss(inputs, samples)
    points, boxes, masks = paper_calls[0]
    assert points[0].shape == (2, 10, 2) and boxes.shape == (2, 4)
    assert masks is not None
