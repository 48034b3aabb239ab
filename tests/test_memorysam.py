"""MemorySAM (issue 14): SAM2LoRABackbone, MemorySAMHead and
PrototypeMemoryLoss with tiny random SAM2 models (the Hydra overrides of
configs/memorysam/memorysam_tiny_demo.py)."""
import io
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.runner.checkpoint import (get_state_dict, load_state_dict,
                                        weights_to_cpu)
from mmengine.structures import PixelData
from mmseg.registry import DATASETS, MODELS
from mmseg.structures import SegDataSample
from sam2.build_sam import build_sam2
from torch import nn

from conftest import REPO_ROOT
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset
from fusionsam_mmseg.models.layers import LoRALinear, add_lora
from fusionsam_mmseg.models.losses import PrototypeMemoryLoss
from fusionsam_mmseg.models.pretrained_file import RECORD_KEY
from fusionsam_mmseg.models.sam import SAM2_CONFIGS

TINY_CONFIG = osp.join(REPO_ROOT, 'configs', 'memorysam',
                       'memorysam_tiny_demo.py')
TINY = Config.fromfile(TINY_CONFIG)
TINY_OVERRIDES = list(TINY.sam2_overrides)
WIDTH = TINY.sam2_width
IMAGE_SIZE = 64
NUM_CLASSES = 6
# Tokens of SAM2's official decoder (single-mask token 0 + 3 multimask).
OFFICIAL_TOKENS = 4


def model_cfg(modality_channels, num_classes=NUM_CLASSES, checkpoint=None,
              overrides=TINY_OVERRIDES, head_frames=None):
    frames = len(modality_channels)
    channels = sum(modality_channels)
    sam2 = dict(sam2_overrides=overrides, image_size=IMAGE_SIZE,
                checkpoint=checkpoint)
    return ConfigDict(
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[0.0] * channels,
            std=[1.0] * channels, bgr_to_rgb=False),
        backbone=dict(type='SAM2LoRABackbone',
                      modality_channels=modality_channels, **sam2),
        decode_head=dict(
            type='MemorySAMHead',
            in_channels=[(head_frames or frames) * WIDTH] * 3,
            num_classes=num_classes,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0),
            sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=64),
            **sam2),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def build(modality_channels, seed=0, **kwargs):
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg(modality_channels, **kwargs))
    model.init_weights()
    return model


def samples(batch, height, width, num_classes=NUM_CLASSES, seed=0):
    generator = torch.Generator().manual_seed(seed)
    result = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(
            img_shape=(height, width), pad_shape=(height, width),
            ori_shape=(height, width)))
        sample.gt_sem_seg = PixelData(data=torch.randint(
            0, num_classes, (1, height, width), generator=generator))
        result.append(sample)
    return result


@pytest.fixture
def log_output(request, monkeypatch):
    """Make a fresh logger mmengine's current one; returns a function that
    reads what it logged."""
    stream = io.StringIO()
    logger = MMLogger.get_instance(f'memorysam_{request.node.name}',
                                   log_level='INFO')
    logger.addHandler(logging.StreamHandler(stream))
    monkeypatch.setattr(MMLogger, 'get_current_instance', lambda: logger)
    return stream.getvalue


def frame_logits(model, inputs):
    with torch.no_grad():
        logits, _ = model.decode_head.forward_frames(
            model.extract_feat(inputs))
    return logits


def random_sam2(overrides=TINY_OVERRIDES, seed=1):
    """A random SAM2 from sam2's own builder, as an official file holds."""
    torch.manual_seed(seed)
    return build_sam2(SAM2_CONFIGS['sam2_hiera_b+'], ckpt_path=None,
                      device='cpu', mode='eval', apply_postprocessing=False,
                      hydra_overrides_extra=[
                          f'++model.image_size={IMAGE_SIZE}', *overrides])


# ---- LoRA -------------------------------------------------------------------
def test_lora_linear_starts_as_the_frozen_layer_and_adapts_q_and_v_only():
    torch.manual_seed(0)
    qkv = nn.Linear(8, 24)
    lora = LoRALinear.from_linear(qkv, parts=dict(q=(0, 8), v=(16, 24)),
                                  rank=2, alpha=4.0)
    assert lora.weight is qkv.weight and lora.bias is qkv.bias
    assert sorted(lora.state_dict()) == [
        'bias', 'lora_a.q', 'lora_a.v', 'lora_b.q', 'lora_b.v', 'weight']
    assert not lora.lora_b.q.abs().sum() and lora.lora_a.q.abs().sum() > 0
    x = torch.randn(3, 5, 8)
    assert torch.equal(lora(x), qkv(x))
    with torch.no_grad():
        lora.lora_b.q.normal_()
        lora.lora_b.v.normal_()
    delta = lora(x) - qkv(x)
    expected_q = 2.0 * x @ lora.lora_a.q.t() @ lora.lora_b.q.t()
    assert torch.allclose(delta[..., :8], expected_q, atol=1e-5)
    assert torch.equal(delta[..., 8:16], torch.zeros_like(delta[..., 8:16]))
    assert delta[..., 16:].abs().sum() > 0


def test_add_lora_on_hiera_and_bad_targets():
    trunk = random_sam2().image_encoder.trunk
    wrapped = add_lora(trunk, ('attn.qkv:q', 'attn.qkv:v'), rank=4)
    assert wrapped == [f'blocks.{i}.attn.qkv' for i in range(len(
        trunk.blocks))]
    block = trunk.blocks[1]  # a stage transition: dim 8 -> dim_out 16
    assert block.attn.qkv.parts == dict(q=(0, 16), v=(32, 48))
    with pytest.raises(ValueError, match="'attn.qkvx:q' matches no"):
        add_lora(trunk, ('attn.qkvx:q', ))
    with pytest.raises(ValueError, match="part in \\('q', 'k', 'v'\\)"):
        add_lora(trunk, ('attn.qkv:z', ))


# ---- backbone ---------------------------------------------------------------
@pytest.mark.parametrize('modality_channels', [(3, 1), (3, 2, 1),
                                               (3, 3, 3, 3)])
def test_backbone_gives_per_frame_features(modality_channels):
    model = build(modality_channels)
    frames = len(modality_channels)
    inputs = torch.randn(2, sum(modality_channels), 40, 56)
    levels = model.extract_feat(inputs)
    assert [tuple(level.shape) for level in levels] == [
        (2, frames * WIDTH, IMAGE_SIZE // stride, IMAGE_SIZE // stride)
        for stride in (4, 8, 16)]
    # Frame m's channels are the encoder's features of modality m alone.
    backbone = model.backbone
    frames_in = backbone.to_frames(inputs)
    alone = backbone.image_encoder(frames_in[2:4])['backbone_fpn'][0]
    assert torch.allclose(levels[0][:, WIDTH:2 * WIDTH], alone, atol=1e-5)


def test_one_and_two_channel_modalities_become_three_channel_frames():
    model = build((3, 2, 1), seed=0)
    inputs = torch.arange(2 * 6 * 4 * 4, dtype=torch.float).view(2, 6, 4, 4)
    frames = model.backbone.to_frames(inputs)
    assert frames.shape == (6, 3, IMAGE_SIZE, IMAGE_SIZE)
    resized = nn.functional.interpolate(
        inputs, size=(IMAGE_SIZE, IMAGE_SIZE), mode='bilinear',
        align_corners=False)
    rgb, aolp, dolp = resized[:, :3], resized[:, 3:5], resized[:, 5:]
    assert torch.allclose(frames[:2], rgb)
    assert torch.allclose(frames[2:4], aolp[:, [0, 1, 0]])
    assert torch.allclose(frames[4:], dolp.expand(-1, 3, -1, -1))


def test_trunk_trains_lora_only():
    model = build((3, 3))
    trainable = [name for name, param in model.backbone.named_parameters()
                 if param.requires_grad]
    assert trainable and all('.lora_' in name for name in trainable)
    assert all(name.startswith('image_encoder.trunk.blocks.')
               for name in trainable)
    model.train()
    assert not model.backbone.image_encoder.training


# ---- head: gradients, memory, N ---------------------------------------------
@pytest.mark.parametrize('modality_channels', [(3, ), (3, 1), (3, 3, 1),
                                               (3, 2, 1, 1)])
def test_loss_and_gradients_reach_lora_decoder_and_new_tokens_only(
        modality_channels):
    model = build(modality_channels)
    with torch.no_grad():  # non-zero B, so that A receives gradients too
        for name, param in model.named_parameters():
            if '.lora_b.' in name:
                param.normal_(std=0.1)
    model.train()
    losses = model.loss(torch.randn(2, sum(modality_channels), 40, 56),
                        samples(2, 40, 56))
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg',
                           'decode.loss_prototype'}
    sum(value for key, value in losses.items() if 'loss' in key).backward()
    with_grad = {name for name, param in model.named_parameters()
                 if param.grad is not None and param.grad.abs().sum() > 0}
    trainable = {name for name, param in model.named_parameters()
                 if param.requires_grad}
    assert with_grad == trainable
    decoder = 'decode_head.sam2.sam_mask_decoder.'
    assert all('.lora_' in name or name.startswith(decoder)
               for name in trainable)
    assert any('.lora_a.' in name for name in with_grad)
    for part in ('transformer.', 'conv_s0.', 'conv_s1.', 'output_upscaling.',
                 f'output_hypernetworks_mlps.{NUM_CLASSES}.'):
        assert any(name.startswith(decoder + part) for name in with_grad)
    # The class tokens the official file lacks (rows >= 4) learn as well.
    tokens = model.decode_head.sam2.sam_mask_decoder.mask_tokens.weight
    assert tokens.shape[0] == NUM_CLASSES + 1
    assert (tokens.grad[OFFICIAL_TOKENS:].abs().sum(dim=1) > 0).all()
    for frozen in ('memory_attention', 'memory_encoder', 'sam_prompt_encoder',
                   'obj_ptr_proj', 'sam_mask_decoder.iou_prediction_head',
                   'sam_mask_decoder.pred_obj_score_head',
                   'sam_mask_decoder.output_hypernetworks_mlps.0.'):
        assert not any(name.startswith(f'decode_head.sam2.{frozen}')
                       for name in trainable), frozen
    assert not any(name.startswith('backbone.image_encoder.neck')
                   for name in trainable)


@pytest.mark.parametrize('changed', [0, 1, 2])
def test_memory_flows_forward_only(changed):
    model = build((3, 1, 3), num_classes=4)
    model.eval()
    inputs = torch.randn(1, 7, 48, 48)
    before = frame_logits(model, inputs)
    start = [0, 3, 4][changed]
    width = [3, 1, 3][changed]
    altered = inputs.clone()
    altered[:, start:start + width] = torch.randn(1, width, 48, 48)
    after = frame_logits(model, altered)
    for frame, (old, new) in enumerate(zip(before, after)):
        if frame < changed:
            assert torch.equal(old, new), frame
        else:
            assert (old - new).abs().max() > 1e-4, frame


def test_prediction_is_the_mean_of_the_frame_logits():
    model = build((3, 1))
    model.eval()
    inputs = torch.randn(2, 4, 40, 56)
    per_frame = frame_logits(model, inputs)
    with torch.no_grad():
        mean = model.decode_head(model.extract_feat(inputs))
    assert mean.shape == (2, NUM_CLASSES, IMAGE_SIZE // 4, IMAGE_SIZE // 4)
    assert torch.allclose(mean, (per_frame[0] + per_frame[1]) / 2)
    results = model.predict(inputs, samples(2, 40, 56))
    assert results[0].seg_logits.data.shape == (NUM_CLASSES, 40, 56)


def test_head_logs_what_trains(log_output):
    build((3, 1))
    output = log_output()
    assert 'MemorySAMHead (2 frames, 6 class tokens): trained: ' \
        'sam_mask_decoder.transformer' in output
    frozen = output.split('frozen: ')[-1]
    for part in ('memory_attention', 'memory_encoder', 'sam_prompt_encoder',
                 'obj_ptr_proj', 'sam_mask_decoder.iou_prediction_head'):
        assert part in frozen
    assert 'SAM2LoRABackbone' in output and 'trained: LoRA' in output


# ---- prototype loss ---------------------------------------------------------
def test_prototypes_update_and_compare_present_classes_only():
    loss_fn = PrototypeMemoryLoss(num_classes=4, feature_channels=2,
                                  momentum=0.8, loss_weight=1.0)
    labels = torch.tensor([[[0, 0, 2, 2], [0, 255, 2, 2]]])  # (1, 2, 4)
    first = torch.tensor([[[1., 3., 5., 7.], [2., 9., 6., 8.]],
                          [[0., 1., 0., 1.], [1., 9., 1., 0.]]])[None]
    loss = loss_fn(first, labels)
    assert loss.item() == 0.0  # a class seen first starts at its batch mean
    mean_0 = torch.tensor([(1 + 3 + 2) / 3, (0 + 1 + 1) / 3])
    mean_2 = torch.tensor([(5 + 7 + 6 + 8) / 4, (0 + 1 + 1 + 0) / 4])
    assert torch.allclose(loss_fn.prototypes[0], mean_0)
    assert torch.allclose(loss_fn.prototypes[2], mean_2)
    assert loss_fn.initialised.tolist() == [True, False, True, False]
    assert not loss_fn.prototypes[[1, 3]].any()

    second = torch.full((1, 2, 2, 4), 2.0, requires_grad=True)
    labels_2 = torch.tensor([[[0, 0, 0, 0], [0, 0, 1, 1]]])
    loss = loss_fn(second, labels_2)
    new_0 = 0.8 * mean_0 + 0.2 * torch.tensor([2.0, 2.0])
    assert torch.allclose(loss_fn.prototypes[0], new_0)
    assert torch.allclose(loss_fn.prototypes[1], torch.tensor([2.0, 2.0]))
    assert torch.allclose(loss_fn.prototypes[2], mean_2)  # absent: unchanged
    expected = ((torch.tensor([2.0, 2.0]) - new_0)**2).sum() / 4
    assert torch.allclose(loss, expected)
    loss.backward()
    assert second.grad.abs().sum() > 0


def test_prototype_labels_are_resized_to_the_features():
    loss_fn = PrototypeMemoryLoss(num_classes=3, feature_channels=1)
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[:, :, 4:] = 1
    features = torch.tensor([[[[1.0, 5.0]]]]).expand(1, 1, 2, 2)
    loss_fn(features, labels)
    assert loss_fn.prototypes[:2, 0].tolist() == [1.0, 5.0]
    with pytest.raises(ValueError, match='feature_channels=1'):
        loss_fn(torch.zeros(1, 2, 2, 2), labels)


# ---- checkpoints ------------------------------------------------------------
def test_official_layout_checkpoint_round_trip(tmp_path, log_output):
    file_state = random_sam2(seed=3).state_dict()
    path = str(tmp_path / 'sam2_hiera_tiny_random.pt')
    torch.save({'model': file_state}, path)
    fresh = build((3, 1), seed=0)  # what init_weights starts from
    loaded = build((3, 1), seed=0, checkpoint=path)
    for key, value in loaded.backbone.image_encoder.state_dict().items():
        if '.lora_' in key:  # not in the file: initialisation kept
            assert torch.equal(value, fresh.backbone.image_encoder
                               .state_dict()[key]), key
        else:
            assert torch.equal(value, file_state[f'image_encoder.{key}']), key
    decoder = 'sam_mask_decoder.'
    token_rows = [decoder + key for key in (
        'mask_tokens.weight', 'iou_prediction_head.layers.2.weight',
        'iou_prediction_head.layers.2.bias')]
    initial = fresh.decode_head.sam2.state_dict()
    for key, value in loaded.decode_head.sam2.state_dict().items():
        if key in token_rows:
            assert torch.equal(value[:OFFICIAL_TOKENS], file_state[key])
            assert torch.equal(value[OFFICIAL_TOKENS:],
                               initial[key][OFFICIAL_TOKENS:])
        elif key.startswith(decoder + 'output_hypernetworks_mlps.') and int(
                key.split('.')[2]) >= OFFICIAL_TOKENS:
            assert torch.equal(value, initial[key]), key
        else:
            assert torch.equal(value, file_state[key]), key
    assert not torch.equal(file_state[token_rows[0]],
                           initial[token_rows[0]][:OFFICIAL_TOKENS])
    output = log_output()
    assert f'{decoder}mask_tokens.weight[4:7]' in output
    assert f'{decoder}output_hypernetworks_mlps.4.*' in output


def test_checkpoints_leave_out_the_sam2_file_and_reload_from_it(tmp_path):
    path = str(tmp_path / 'sam2_random.pt')
    torch.save({'model': random_sam2(seed=3).state_dict()}, path)
    trained = build((3, 1), seed=0, checkpoint=path)
    with torch.no_grad():  # stand-in for training
        for param in trained.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param))
    buffer = io.BytesIO()
    torch.save(weights_to_cpu(get_state_dict(trained)), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    backbone = [key for key in state if key.startswith('backbone.')]
    assert backbone and all('.lora_' in key for key in backbone
                            if not key.endswith(RECORD_KEY))
    head = [key for key in state if key.startswith('decode_head.')]
    kept = ('decode_head.sam2.sam_mask_decoder.', 'decode_head.loss_prototype')
    assert all(key.startswith(kept) for key in head
               if not key.endswith(RECORD_KEY))
    assert not any('pred_obj_score_head' in key for key in head)
    # tools/test.py: built with the file configured, no init_weights.
    torch.manual_seed(5)
    restored = MODELS.build(model_cfg((3, 1), checkpoint=path))
    load_state_dict(restored, state, strict=True)
    expected = dict(trained.named_parameters())
    for key, value in restored.named_parameters():  # file weights included
        assert torch.equal(value, expected[key]), key
    assert torch.equal(restored.decode_head.loss_prototype.prototypes,
                       trained.decode_head.loss_prototype.prototypes)


def test_bplus_keys_match_the_official_layout():
    official = build_sam2(SAM2_CONFIGS['sam2_hiera_b+'], ckpt_path=None,
                          device='cpu', mode='eval',
                          apply_postprocessing=False).state_dict()
    cfg = Config.fromfile(osp.join(
        REPO_ROOT, 'configs', 'memorysam',
        'memorysam_hiera_bplus_deliver_rgbdel.py'))
    cfg.model.backbone.checkpoint = cfg.model.decode_head.checkpoint = None
    model = MODELS.build(cfg.model)
    backbone = {f'image_encoder.{key}': tuple(value.shape) for key, value in
                model.backbone.image_encoder.state_dict().items()
                if '.lora_' not in key}
    head = {key: tuple(value.shape)
            for key, value in model.decode_head.sam2.state_dict().items()}
    expected = {key: tuple(value.shape) for key, value in official.items()}
    token_rows = {'sam_mask_decoder.mask_tokens.weight',
                  'sam_mask_decoder.iou_prediction_head.layers.2.weight',
                  'sam_mask_decoder.iou_prediction_head.layers.2.bias'}
    new_mlps = {key for key in head
                if key.startswith('sam_mask_decoder.output_hypernetworks')
                and int(key.split('.')[2]) >= OFFICIAL_TOKENS}
    assert set(backbone) | set(head) == set(expected) | new_mlps
    for key, shape in {**backbone, **head}.items():
        if key in token_rows:
            assert shape[0] == 26 and shape[1:] == expected[key][1:]
        elif key not in new_mlps:
            assert shape == expected[key], key
    trainable = [name for name, param in model.backbone.named_parameters()
                 if param.requires_grad]
    assert len(trainable) == 4 * 24  # q, v: A and B in 24 Hiera-B+ blocks
    assert all('.lora_' in name for name in trainable)


def test_missing_or_other_size_checkpoint_is_named(tmp_path):
    missing = str(tmp_path / 'sam2_hiera_base_plus.pt')
    with pytest.raises(FileNotFoundError, match='sam2_hiera_base_plus.pt'):
        build((3, 1), checkpoint=missing)
    wider = [o.replace('trunk.embed_dim=8', 'trunk.embed_dim=16')
             .replace('list=[64,32,16,8]', 'list=[128,64,32,16]')
             for o in TINY_OVERRIDES]
    other = str(tmp_path / 'other.pt')
    torch.save({'model': random_sam2(overrides=wider).state_dict()}, other)
    with pytest.raises(ValueError, match=r"other\.pt.*embed_dim=16"):
        build((3, 1), checkpoint=other)
    not_sam2 = str(tmp_path / 'flat.pt')
    torch.save({'image_encoder.x': torch.zeros(1)}, not_sam2)
    with pytest.raises(ValueError, match="flat.pt' is not an official SAM2"):
        build((3, 1), checkpoint=not_sam2)


# ---- mixing -----------------------------------------------------------------
def test_backbone_under_a_stock_segformer_head_trains(tmp_path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'mixing',
                                   'sam2lora_segformerhead_demo.py'))
    root = make_demo_dataset(str(tmp_path), 'deliver', num_train=2,
                             num_test=1, seed=0)
    cfg.train_dataloader.dataset.data_root = root
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[0], dataset[1]])
    before = {key: value.clone() for key, value in model.state_dict().items()}
    for _ in range(2):  # LoRA's B starts at zero, A moves from step 2
        model.train_step(batch, build_optim_wrapper(model, cfg.optim_wrapper))
    after = model.state_dict()
    changed = {key for key in before if before[key].is_floating_point()
               and not torch.equal(before[key], after[key])}
    assert any('.lora_a.' in key for key in changed)
    assert any(key.startswith('decode_head.fusion_conv') for key in changed)
    assert not any(key.startswith('backbone.') and '.lora_' not in key
                   for key in changed)


# ---- bad input --------------------------------------------------------------
def test_modality_mismatches_are_named():
    model = build((3, 1))
    with pytest.raises(ValueError, match=r'modality_channels=\(3, 1\)'):
        model.extract_feat(torch.randn(1, 6, 32, 32))
    with pytest.raises(ValueError, match='more than 3 channels'):
        build((3, 4))
    mismatched = build((3, 1, 1), head_frames=2)
    with pytest.raises(ValueError, match=r'in_channels=\[64, 64, 64\]'):
        mismatched.decode_head(mismatched.extract_feat(
            torch.randn(1, 5, 32, 32)))
    with pytest.raises(ValueError, match="'sam2_hiera_xl' is not one of"):
        MODELS.build(dict(type='SAM2LoRABackbone',
                          sam2_config='sam2_hiera_xl'))
