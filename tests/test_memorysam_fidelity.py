"""MemorySAM as its authors ran it (issue 22): the official prototype-loss
formula beside ours, OHEM cross-entropy over the kept pixels, the authors'
augmentations on named modalities, event frames resized to RGB on request,
and the head flags of the official-compat config. Every expected value is
computed by hand (or by another library) in the test."""
import importlib.util
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import set_random_seed
from mmengine.structures import PixelData
from mmseg.registry import MODELS, TRANSFORMS
from mmseg.structures import SegDataSample
from PIL import Image

from conftest import REPO_ROOT
from fusionsam_mmseg.models.losses import PrototypeMemoryLoss

TINY = Config.fromfile(
    osp.join(REPO_ROOT, 'configs', 'memorysam', 'memorysam_tiny_demo.py'))
OFFICIAL_FLAGS = Config.fromfile(osp.join(
    REPO_ROOT, 'configs', 'memorysam',
    'memorysam_hiera_bplus_deliver_rgbd_official.py')).model.decode_head
EMBEDDINGS = ('no_mem_embed', 'maskmem_tpos_enc', 'no_obj_ptr')
IMAGE_SIZE = 64


# ---- prototype loss: ours and the official formula ----------------------
def _prototype_batch():
    """Features (1, 2, 2, 2) and labels: class 0 on two pixels, class 1 on
    one, one ignored pixel; class 2 absent."""
    features = torch.tensor([[[[1., 3.], [5., 7.]], [[2., 4.], [6., 8.]]]],
                            requires_grad=True)
    labels = torch.tensor([[[0, 0], [1, 255]]])
    return features, labels


def _memory(official: bool, loss_weight: float) -> PrototypeMemoryLoss:
    loss_fn = PrototypeMemoryLoss(num_classes=3, feature_channels=2,
                                  momentum=0.8, loss_weight=loss_weight,
                                  official_compat=official)
    loss_fn.prototypes.copy_(torch.tensor([[1., 1.], [2., 2.], [10., -5.]]))
    loss_fn.initialised.fill_(True)
    return loss_fn


def test_prototype_loss_ours_and_official_by_hand():
    # Class means: class 0 (1+3, 2+4) / 2 = (2, 3); class 1 (5, 6).
    features, labels = _prototype_batch()
    ours = _memory(official=False, loss_weight=0.5)
    loss = ours(features, labels)
    # g <- 0.8 g + 0.2 mean for the present classes 0 and 1 only.
    assert torch.allclose(ours.prototypes, torch.tensor(
        [[1.2, 1.4], [2.6, 2.8], [10., -5.]]))
    # 0.5 * mean over 2 classes x 2 channels of (mean - g)^2.
    assert math.isclose(loss.item(),
                        0.5 * (0.8**2 + 1.6**2 + 2.4**2 + 3.2**2) / 4,
                        rel_tol=1e-6)
    loss.backward()
    # d/d pixel (0, 0), channel 1: 0.5 * 2 * (3 - 1.4) / 4 / 2 pixels.
    assert math.isclose(features.grad[0, 1, 0, 0].item(),
                        0.5 * 2 * 1.6 / 4 / 2, rel_tol=1e-6)

    features, labels = _prototype_batch()
    official = _memory(official=True, loss_weight=1.0)
    loss = official(features, labels)
    # b = mean / count: class 0 (1, 1.5), class 1 (5, 6), class 2 absent 0;
    # every class updated, the absent one towards 0.
    assert torch.allclose(official.prototypes, torch.tensor(
        [[1.0, 1.1], [2.6, 2.8], [8., -4.]]))
    # 65536 * mean over 3 classes x 2 channels of (b - g_updated)^2.
    assert math.isclose(loss.item(),
                        65536 * (0.4**2 + 2.4**2 + 3.2**2 + 8**2 + 4**2) / 6,
                        rel_tol=1e-6)
    loss.backward()
    # d/d pixel (0, 0), channel 1: 65536 * 2 * 0.4 / 6 / 2^2 pixels.
    assert math.isclose(features.grad[0, 1, 0, 0].item(),
                        65536 * 2 * 0.4 / 6 / 4, rel_tol=1e-5)
    assert features.grad[0, :, 1, 1].abs().sum() == 0  # ignored pixel


# ---- OHEM cross-entropy over the kept pixels ----------------------------
@pytest.fixture(scope='module')
def tiny_head_cfg():
    """The tiny demo's MemorySAMHead (the shipped base model's sampler and
    loss), 3 classes, 2 frames."""
    head = TINY.model.decode_head.copy()
    width = TINY.sam2_width
    head.update(num_classes=3, in_channels=[2 * width] * 3,
                image_size=IMAGE_SIZE)
    return head


def test_ohem_cross_entropy_is_the_mean_over_the_kept_pixels(tiny_head_cfg):
    head = MODELS.build(dict(tiny_head_cfg, sampler=dict(
        type='OHEMPixelSampler', thresh=0.7, min_kept=2)))
    assert type(head.loss_decode).__name__ == 'SampledCrossEntropyLoss'
    easy = (10.0, 0.0, 0.0)  # class 0 at p > 0.999: not kept
    # (logits, label): p(label) 1/4, 1/3 and 1/5 -> CE ln 4, ln 3, ln 5.
    hard = [((0.0, math.log(2), 0.0), 0), ((0.0, 0.0, 0.0), 1),
            ((math.log(3), 0.0, 0.0), 2)]
    pixels = [(logits, label) for logits, label in hard] + [(easy, 0)] * 4 \
        + [(easy, 255)]
    logits = torch.tensor([p[0] for p in pixels]).t().reshape(1, 3, 2, 4)
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=torch.tensor(
        [p[1] for p in pixels]).reshape(1, 2, 4))
    losses = head.loss_by_feat(logits, [sample])
    # The official OhemCrossEntropy: mean of the 3 kept pixels' losses.
    expected = (math.log(4) + math.log(3) + math.log(5)) / 3
    assert math.isclose(losses['loss_ce'].item(), expected, rel_tol=1e-5)


# ---- the authors' augmentations on named modalities ---------------------
def _stack(dtype):
    """A 6 x 7 stack: rgb (3), depth (1), nir (2 channels, for the test)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (6, 7, 6)).astype(dtype)
    return dict(img=image, img_path='sample.png',
                modality_names=('rgb', 'depth', 'nir'),
                modality_channels=(3, 1, 2))


@pytest.mark.parametrize('dtype', [np.uint8, np.float32])
def test_blur_changes_the_named_modalities_only(dtype):
    results = _stack(dtype)
    original = results['img'].copy()
    blur = TRANSFORMS.build(dict(type='ModalityGaussianBlur',
                                 modalities=('rgb', 'nir'), prob=1.0,
                                 kernel_size=None, sigma_range=(0.5, 0.5)))
    out = blur(results)['img']
    assert out.dtype == original.dtype
    assert np.array_equal(out[..., 3], original[..., 3])  # depth untouched
    for group in (slice(0, 3), slice(4, 6)):
        # sigma 0.5 -> kernel round(8 * 0.5 + 1) | 1 = 5
        assert np.array_equal(out[..., group], cv2.GaussianBlur(
            np.ascontiguousarray(original[..., group]), (5, 5), 0.5))
        assert not np.array_equal(out[..., group], original[..., group])
    skipped = TRANSFORMS.build(dict(type='ModalityGaussianBlur', prob=0.0))
    assert np.array_equal(skipped(_stack(dtype))['img'], original)
    with pytest.raises(ValueError, match="modalities \\('event',\\)"):
        TRANSFORMS.build(dict(type='ModalityGaussianBlur', modalities=(
            'event', )))(_stack(dtype))


def test_colour_jitter_changes_rgb_only():
    results = _stack(np.uint8)
    original = results['img'].copy()
    jitter = TRANSFORMS.build(dict(type='ModalityColorJitter', prob=1.0,
                                   brightness=(1.5, 1.5), contrast=(1, 1),
                                   saturation=(1, 1)))
    out = jitter(results)['img']
    assert np.array_equal(out[..., 3:], original[..., 3:])
    # Brightness 1.5: 1.5 x value, clipped to 255, truncated to uint8.
    expected = np.clip(original[..., :3] * 1.5, 0, 255).astype(np.uint8)
    assert np.array_equal(out[..., :3], expected)
    with pytest.raises(ValueError, match="2 channel\\(s\\) of 'nir'"):
        TRANSFORMS.build(dict(type='ModalityColorJitter', modality='nir'))(
            _stack(np.uint8))


# ---- event frames of another size ---------------------------------------
def test_event_frames_resized_to_rgb_only_on_request(tmp_path):
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    event = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    Image.fromarray(rgb).save(tmp_path / 'rgb.png')
    Image.fromarray(event).save(tmp_path / 'event.png')
    results = dict(img_path=str(tmp_path / 'rgb.png'),
                   modality_paths=[str(tmp_path / 'event.png')],
                   modality_names=('rgb', 'event'), modality_channels=(3, 3))
    with pytest.raises(ValueError, match=r'is \(4, 6\) .* is \(2, 3\)'):
        TRANSFORMS.build(
            dict(type='LoadMultiModalImageFromFile'))(dict(results))
    load = TRANSFORMS.build(dict(type='LoadMultiModalImageFromFile',
                                 resize_to_visible=dict(event='nearest')))
    image = load(dict(results))['img']
    assert image.shape == (4, 6, 6)
    assert np.array_equal(image[..., :3], rgb)
    # Nearest, x2 both ways: every event pixel becomes a 2 x 2 block.
    assert np.array_equal(image[..., 3:], event.repeat(2, 0).repeat(2, 1))
    with pytest.raises(ValueError, match="resize_to_visible={'event': 'x'}"):
        TRANSFORMS.build(dict(type='LoadMultiModalImageFromFile',
                              resize_to_visible=dict(event='x')))


# ---- the official-compat head flags -------------------------------------
def _tiny_model(head_cfg: dict, **flags):
    torch.manual_seed(0)
    width = TINY.sam2_width
    sam2 = dict(sam2_overrides=list(TINY.sam2_overrides),
                image_size=IMAGE_SIZE, checkpoint=None)
    model = MODELS.build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0] * 4,
                               std=[1.0] * 4, bgr_to_rgb=False),
        backbone=dict(type='SAM2LoRABackbone', modality_channels=(3, 1),
                      **sam2),
        decode_head=dict(head_cfg, in_channels=[2 * width] * 3, **flags),
        train_cfg=dict(), test_cfg=dict(mode='whole')))
    model.init_weights()
    return model


def _frame_logits(model, inputs):
    return model.decode_head.forward_frames(model.extract_feat(inputs))[0]


def _samples(batch=1, size=32):
    result = []
    for index in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=(size, size)))
        sample.gt_sem_seg = PixelData(data=torch.randint(
            0, 3, (1, size, size), generator=torch.Generator().manual_seed(
                index)))
        result.append(sample)
    return result


@pytest.mark.parametrize('bias', [-50.0, 50.0])
def test_object_score_gate(tiny_head_cfg, bias):
    gated = _tiny_model(tiny_head_cfg, object_score_gate=True)
    plain = _tiny_model(tiny_head_cfg)
    for model in (gated, plain):
        score = model.decode_head.sam2.sam_mask_decoder.pred_obj_score_head
        last = score.layers[-1] if hasattr(score, 'layers') else score
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.constant_(last.bias, bias)
        model.eval()
    inputs = torch.randn(1, 4, 32, 32)
    with torch.no_grad():
        gated_frames = _frame_logits(gated, inputs)
        plain_frames = _frame_logits(plain, inputs)
    if bias < 0:  # "no object" everywhere: SAM2's -1024 in every frame
        assert all((frame == -1024.0).all() for frame in gated_frames)
        assert not any((frame == -1024.0).all() for frame in plain_frames)
    else:
        for gated_frame, plain_frame in zip(gated_frames, plain_frames):
            assert torch.equal(gated_frame, plain_frame)


def test_official_flags_train_the_embeddings_with_memory_dropout(
        tiny_head_cfg):
    assert OFFICIAL_FLAGS.trainable_embeddings == EMBEDDINGS
    flags = {key: OFFICIAL_FLAGS[key] for key in (
        'object_score_gate', 'trainable_embeddings',
        'memory_attention_dropout', 'loss_prototype')}
    official = _tiny_model(tiny_head_cfg, **flags)
    plain = _tiny_model(tiny_head_cfg)
    head = official.decode_head
    assert head.loss_prototype.official_compat
    assert not plain.decode_head.loss_prototype.official_compat
    copied = set(head.file_copied_keys())
    for name in EMBEDDINGS:
        assert getattr(head.sam2, name).requires_grad
        assert not getattr(plain.decode_head.sam2, name).requires_grad
        assert f'sam2.{name}' not in copied  # checkpoints keep them
        assert f'sam2.{name}' in plain.decode_head.file_copied_keys()
    official.train()
    plain.train()
    assert head.sam2.memory_attention.training
    assert not plain.decode_head.sam2.memory_attention.training
    losses = official.loss(torch.randn(2, 4, 32, 32), _samples(2))
    sum(value for key, value in losses.items() if 'loss' in key).backward()
    for name in EMBEDDINGS:
        assert getattr(head.sam2, name).grad is not None, name
    inputs = torch.randn(1, 4, 32, 32)
    with torch.no_grad():
        # Dropout in the memory attention: frame 1 differs between two
        # training passes; frame 0 (no memory) and the plain head do not.
        first, second = (_frame_logits(official, inputs) for _ in range(2))
        assert torch.equal(first[0], second[0])
        assert not torch.equal(first[1], second[1])
        plain_runs = [_frame_logits(plain, inputs) for _ in range(2)]
        assert torch.equal(plain_runs[0][1], plain_runs[1][1])
    with pytest.raises(ValueError, match="\\['no_such'\\] are not"):
        _tiny_model(tiny_head_cfg, trainable_embeddings=('no_such', ))


# ---- the measurement behind the default loss_weight ---------------------
def test_gradient_ratio_tool_measures_both_forms(deliver_demo_root):
    """tools/analysis/prototype_gradient_ratio.py on the tiny demo: one
    counted batch, both forms against the OHEM cross-entropy; at 32 x 32
    features the official form (x 65536 / n^2) pulls harder than ours."""
    spec = importlib.util.spec_from_file_location(
        'prototype_gradient_ratio', osp.join(
            REPO_ROOT, 'tools', 'analysis', 'prototype_gradient_ratio.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    args = tool.parse_args([
        osp.join(REPO_ROOT, 'configs', 'memorysam', 'memorysam_tiny_demo.py'),
        '--data-root', deliver_demo_root, '--batches', '2'])
    set_random_seed(args.seed)
    ratios = tool.measure(tool.load_config(args), args.batches, args.seed)
    assert len(ratios) == 1
    assert 0 < ratios[0]['ours'] < ratios[0]['official'] < math.inf
