"""SAMPromptHead with a tiny random-initialised SAM (issue 4)."""
import importlib
import importlib.util
import os.path as osp
import sys

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import segment_anything.modeling as sam_modeling

from conftest import REPO_ROOT
from fusionsam_mmseg.models import sam
from fusionsam_mmseg.models.decode_heads.sam_prompt_head import SAMPromptHead
from fusionsam_mmseg.models.necks import FusionNeckOutput
from fusionsam_mmseg.models.sam import MaskPromptSampler, SAMInputFrame

TINY_SAM = dict(
    embed_dim=32,
    depth=2,
    num_heads=2,
    global_attn_indexes=(1, ),
    window_size=4,
    prompt_embed_dim=32,
    mask_in_chans=8,
    decoder_depth=2,
    decoder_mlp_dim=64,
    decoder_num_heads=2,
    iou_head_hidden_dim=32)
FEATURE_CHANNELS = 16


def tiny_head(**kwargs) -> SAMPromptHead:
    options = dict(
        in_channels=FEATURE_CHANNELS,
        num_classes=9,
        sam_type='custom',
        encoder_cfg=TINY_SAM,
        image_size=64,
        encoder_attention='stock')
    options.update(kwargs)
    return SAMPromptHead(**options)


def neck_outputs(batch: int, height: int, width: int, seed: int = 0):
    """FMP-like output: features and mask at 1/4, fused image full size."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(batch, FEATURE_CHANNELS, height // 4, width // 4,
                           generator=generator)
    mask_logits = torch.randn(batch, 1, height // 4, width // 4,
                              generator=generator) * 3
    fused_image = torch.rand(batch, 3, height, width, generator=generator)
    return FusionNeckOutput(features.requires_grad_(),
                            mask_logits.requires_grad_(), fused_image)


def data_samples(batch: int, height: int, width: int, num_classes: int = 9,
                 seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(batch):
        label = torch.randint(0, num_classes, (1, height, width),
                              generator=generator)
        sample = SegDataSample(
            metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                          pad_shape=(height, width), img_path='x.png'))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return samples


@pytest.mark.parametrize(
    'height, width, image_size, expected',
    [
        (48, 64, 64, (12, 16)),  # MFNet 480x640 scaled down: 48x64 frame
        (60, 80, 128, (24, 32)),  # FMB 600x800 scaled down: 96x128 frame
        (56, 40, 64, (16, 12)),  # portrait: frame 64x46, ceil(46/4)=12
    ])
def test_output_covers_the_image(height, width, image_size, expected):
    head = tiny_head(image_size=image_size)
    seg_logits = head(neck_outputs(2, height, width))
    assert seg_logits.shape == (2, 9, *expected)
    assert torch.isfinite(seg_logits).all()


def test_loss_and_predict_through_mmseg_hooks():
    head = tiny_head()
    inputs = neck_outputs(2, 48, 64)
    samples = data_samples(2, 48, 64)
    losses = head.loss(inputs, samples, train_cfg={})
    assert losses['loss_ce'].requires_grad and 'acc_seg' in losses
    head.eval()
    metas = [sample.metainfo for sample in samples]
    with torch.no_grad():
        seg_logits = head.predict(inputs, metas, test_cfg={})
    assert seg_logits.shape == (2, 9, 48, 64)


def test_frozen_encoder_and_gradients_of_all_trainable_parameters():
    head = tiny_head()
    head.train()
    assert not head.image_encoder.training
    assert head.mask_decoder.training and head.prompt_encoder.training
    inputs = neck_outputs(2, 48, 64)
    losses = head.loss(inputs, data_samples(2, 48, 64), train_cfg={})
    losses['loss_ce'].backward()

    assert all(not p.requires_grad and p.grad is None
               for p in head.image_encoder.parameters())
    # Every trainable parameter is reached (DDP, find_unused_parameters off).
    missing = [name for name, p in head.named_parameters()
               if p.requires_grad and p.grad is None]
    assert not missing
    for module in (head.dense_prompt_proj,
                   head.prompt_encoder.mask_downscaling,
                   head.prompt_encoder.point_embeddings[1],
                   head.prompt_encoder.point_embeddings[2],
                   head.mask_decoder.transformer,
                   head.mask_decoder.mask_tokens,
                   head.mask_decoder.output_hypernetworks_mlps):
        grads = [p.grad for p in module.parameters()]
        assert grads and any(g.abs().sum() > 0 for g in grads), module
    # The neck outputs are trained through the dense prompt and mask path.
    assert inputs[0].grad is not None and inputs[1].grad.abs().sum() > 0


@pytest.mark.parametrize('grad_to_input', [False, True])
def test_encoder_grad_to_input_reaches_the_fused_image_not_the_encoder(
        grad_to_input):
    head = tiny_head(encoder_grad_to_input=grad_to_input).train()
    features, mask_logits, fused_image = neck_outputs(2, 48, 64)
    fused_image.requires_grad_()
    block_calls = []
    head.image_encoder.blocks[0].register_forward_pre_hook(
        lambda *_: block_calls.append(torch.is_grad_enabled()))
    losses = head.loss(FusionNeckOutput(features, mask_logits, fused_image),
                       data_samples(2, 48, 64), train_cfg={})
    losses['loss_ce'].backward()
    encoder_parameters = list(head.image_encoder.parameters())
    assert all(not p.requires_grad and p.grad is None
               for p in encoder_parameters)
    if grad_to_input:
        assert fused_image.grad is not None
        assert fused_image.grad.abs().sum() > 0
        # Activation checkpointing: the block ran again in the backward.
        assert block_calls == [True, True]
    else:
        assert fused_image.grad is None and block_calls == [False]
    with torch.no_grad():
        head(neck_outputs(1, 48, 64))
    assert block_calls[-1] is False


def test_encoder_grad_benchmark_trains_both_settings_on_equal_weights():
    analysis = osp.join(REPO_ROOT, 'tools', 'analysis')
    spec = importlib.util.spec_from_file_location(
        'benchmark_encoder_grad', osp.join(analysis,
                                           'benchmark_encoder_grad.py'))
    tool = importlib.util.module_from_spec(spec)
    sys.path.insert(0, analysis)
    try:
        spec.loader.exec_module(tool)
    finally:
        sys.path.remove(analysis)
    args = tool.parse_args([
        osp.join(REPO_ROOT, 'configs', 'fusionsam_tiny_demo.py'), '--shape',
        '48', '64', '--iters', '1', '--warmup', '0'])
    models, _ = tool.build_models(args)
    assert [m.decode_head.encoder_grad_to_input
            for m in models.values()] == [False, True]
    for key, value in models['off'].state_dict().items():
        assert torch.equal(models['on'].state_dict()[key], value), key
    result = tool.measure(args)
    assert set(result['peak_step_mib']) == {'off', 'on',
                                             'on, no checkpointing'}
    assert result['ratio'] == pytest.approx(
        result['median_s']['on'] / result['median_s']['off'])


def test_encoder_grad_to_input_needs_a_vit_encoder():
    with pytest.raises(ValueError, match='encoder_grad_to_input=True needs'):
        tiny_head(sam_type='sam2_hiera_t', encoder_grad_to_input=True)


def test_encoder_attention_sdpa_matches_stock():
    stock = tiny_head(encoder_attention='stock')
    fast = tiny_head(encoder_attention='sdpa')
    fast.load_state_dict(stock.state_dict())
    stock.eval(), fast.eval()
    inputs = neck_outputs(1, 48, 64)
    with torch.no_grad():
        torch.testing.assert_close(fast(inputs), stock(inputs), atol=1e-4,
                                   rtol=1e-4)


@pytest.mark.parametrize('num_points, use_box', [(3, False), (0, True)])
def test_prompt_options_keep_every_trainable_parameter_reached(
        num_points, use_box):
    head = tiny_head(num_points=num_points, use_box=use_box)
    losses = head.loss(neck_outputs(2, 48, 64), data_samples(2, 48, 64),
                       train_cfg={})
    losses['loss_ce'].backward()
    point_embeddings = head.prompt_encoder.point_embeddings
    assert point_embeddings[2].weight.requires_grad == use_box
    assert point_embeddings[1].weight.requires_grad == (num_points > 0)
    assert not [name for name, p in head.named_parameters()
                if p.requires_grad and p.grad is None]


def test_stock_backbone_without_mask_and_image():
    head = tiny_head(with_fusion_neck=False)
    features = torch.randn(2, FEATURE_CHANNELS, 12, 16)
    sample_list = data_samples(2, 48, 64)
    losses = head.loss((features, ), sample_list, train_cfg={})
    losses['loss_ce'].backward()
    assert head.mask_from_features.weight.grad.abs().sum() > 0
    assert not head.image_from_features.weight.requires_grad
    assert not [name for name, p in head.named_parameters()
                if p.requires_grad and p.grad is None]


@pytest.mark.parametrize('key', ['in_index', 'mask_index', 'image_index'])
def test_the_old_index_keys_are_refused(key):
    with pytest.raises(TypeError, match=key):
        tiny_head(**{key: 0})


def test_wrong_neck_output_names_the_field():
    head = tiny_head()
    features, mask_logits, fused_image = neck_outputs(1, 48, 64)
    with pytest.raises(ValueError, match=r'fused_image.*\(B, 3, H, W\)'):
        head(FusionNeckOutput(features, mask_logits, fused_image[:, :1]))
    with pytest.raises(ValueError, match=r'mask_logits.*\(B, 1, h, w\)'):
        head(FusionNeckOutput(features, fused_image, fused_image))
    with pytest.raises(ValueError, match=r'no fusion-mask logits.*num_points'):
        head(FusionNeckOutput(features, None, fused_image))
    with pytest.raises(TypeError, match='with_fusion_neck=False'):
        head((features, mask_logits, fused_image))


def test_test_time_prompts_ignore_the_ground_truth():
    head = tiny_head(gt_prompts_in_train=True)
    inputs = neck_outputs(2, 48, 64)
    frame = SAMInputFrame.for_image(48, 64, head.image_size)
    foreground_a = torch.zeros(2, 48, 64, dtype=torch.bool)
    foreground_b = torch.zeros(2, 48, 64, dtype=torch.bool)
    foreground_b[:, 10:20, 5:30] = True

    head.eval()
    prompts_a = head.get_prompts(inputs[1], frame, foreground_a)
    prompts_b = head.get_prompts(inputs[1], frame, foreground_b)
    for a, b in zip((*prompts_a.points, prompts_a.boxes),
                    (*prompts_b.points, prompts_b.boxes)):
        assert torch.equal(a, b)
    with torch.no_grad():
        torch.testing.assert_close(head(inputs, foreground_a),
                                   head(inputs, foreground_b))
    # In training the flag really switches to the ground truth.
    head.train()
    trained_a = head.get_prompts(inputs[1], frame, foreground_a)
    trained_b = head.get_prompts(inputs[1], frame, foreground_b)
    assert not torch.equal(trained_a.boxes, trained_b.boxes)
    assert trained_a.points[1].eq(-1).all() and trained_b.points[1].eq(1).all()


@pytest.mark.parametrize('background, expected', [
    (0, [[False, True, False, True]]),  # MFNet/FMB: unlabeled = 0
    (None, [[True, True, False, True]]),  # FMB 14 classes: 255 only
])
def test_gt_foreground_follows_the_background_setting(background, expected):
    head = tiny_head(gt_prompts_in_train=True, gt_background_index=background)
    sample, = data_samples(1, 1, 4)
    sample.gt_sem_seg = PixelData(data=torch.tensor([[[0, 3, 255, 13]]]))
    foreground = head._gt_foreground([sample])
    assert foreground.tolist() == [expected]


def test_prompts_from_the_fusion_mask():
    frame = SAMInputFrame.for_image(48, 64, 64)  # scale 1: frame == pixels
    logits = torch.full((2, 1, 12, 16), -5.0)
    logits[0, 0, 2, 3] = 4.0  # a peak
    logits[0, 0, 8:10, 11:14] = 1.0  # a plateau region
    logits[0, 0, 9, 12] = 2.0  # its peak
    sampler = MaskPromptSampler(num_points=4, use_box=True)
    (coords, labels), boxes = sampler.from_logits(logits, frame)
    assert coords.shape == (2, 4, 2) and labels.shape == (2, 4)
    # 4x4 input pixels per mask pixel; coordinates at the pixel centres.
    assert coords[0, 0].tolist() == [3 * 4 + 1.5, 2 * 4 + 1.5]
    assert coords[0, 1].tolist() == [12 * 4 + 1.5, 9 * 4 + 1.5]
    assert labels[0].tolist() == [1, 1, -1, -1]
    assert boxes[0].tolist() == [12.0, 8.0, 14 * 4 - 1, 10 * 4 - 1]
    # Empty mask: no points, the box is the whole image.
    assert labels[1].tolist() == [-1] * 4
    assert boxes[1].tolist() == [0.0, 0.0, 63.0, 47.0]


def test_frame_geometry_matches_sam_preprocessing():
    frame = SAMInputFrame.for_image(480, 640, 1024)
    assert (frame.valid_h, frame.valid_w) == (768, 1024)
    assert frame.valid_cells(64) == (48, 64)
    image = torch.rand(1, 3, 48, 64)
    frame = SAMInputFrame.for_image(48, 64, 64)
    padded = frame.to_sam_input(image)
    assert padded.shape == (1, 3, 64, 64)
    assert (padded[..., 48:, :] == 0).all()
    mean = torch.tensor([123.675, 116.28, 103.53])[:, None, None]
    std = torch.tensor([58.395, 57.12, 57.375])[:, None, None]
    torch.testing.assert_close(padded[0, :, :48], (image[0] * 255 - mean) /
                               std)


# --- Official-layout checkpoints --------------------------------------------


def official_layout_state_dict(**arch_overrides) -> dict:
    """A tiny ``Sam`` (stock MaskDecoder, 4 mask tokens) state dict."""
    arch = sam.resolve_sam_architecture(
        'custom', dict(TINY_SAM, **arch_overrides))
    model = sam_modeling.Sam(
        image_encoder=sam.build_sam_image_encoder(arch, 64),
        prompt_encoder=sam.build_sam_prompt_encoder(arch, 64),
        mask_decoder=sam_modeling.MaskDecoder(
            num_multimask_outputs=3,
            transformer=sam_modeling.TwoWayTransformer(
                depth=arch.decoder_depth,
                embedding_dim=arch.prompt_embed_dim,
                mlp_dim=arch.decoder_mlp_dim,
                num_heads=arch.decoder_num_heads),
            transformer_dim=arch.prompt_embed_dim,
            iou_head_hidden_dim=arch.iou_head_hidden_dim))
    return model.state_dict()


@pytest.mark.parametrize('num_classes', [9, 3])
def test_official_checkpoint_round_trip(tmp_path, monkeypatch, num_classes):
    state_dict = official_layout_state_dict()
    path = str(tmp_path / 'sam_tiny.pth')
    torch.save(state_dict, path)
    messages = []
    monkeypatch.setattr(sam.sam_checkpoint, "print_log",
                        lambda message, **_: messages.append(message))
    head = tiny_head(num_classes=num_classes, checkpoint=path)
    head.init_weights()

    # The frozen encoder is left out of the head's own checkpoints
    # (tests/test_pretrained_file.py); read it from the module.
    own = dict(head.state_dict(), **{
        f'image_encoder.{key}': value
        for key, value in head.image_encoder.state_dict().items()})
    assert not [key for key in head.state_dict()
                if key.startswith('image_encoder.')]
    for key, value in state_dict.items():
        if key.startswith(('image_encoder.', 'prompt_encoder.',
                           'mask_decoder.transformer.',
                           'mask_decoder.output_upscaling.',
                           'mask_decoder.iou_token.')):
            assert torch.equal(own[key], value), key
    tokens = min(num_classes, 4)
    assert torch.equal(own['mask_decoder.mask_tokens.weight'][:tokens],
                       state_dict['mask_decoder.mask_tokens.weight'][:tokens])
    for index in range(tokens):
        key = f'mask_decoder.output_hypernetworks_mlps.{index}.layers.0.weight'
        assert torch.equal(own[key], state_dict[key])
    assert len(messages) == 1 and path in messages[0]
    if num_classes == 9:
        assert 'mask_decoder.mask_tokens.weight[4:9]' in messages[0]
        assert 'mask_decoder.output_hypernetworks_mlps.8.*' in messages[0]
    else:
        assert 'dropped' in messages[0]
        assert 'mask_decoder.output_hypernetworks_mlps.3.*' in messages[0]
    # Loading keeps the frozen / trainable split.
    assert not any(p.requires_grad for p in head.image_encoder.parameters())
    assert head.mask_decoder.mask_tokens.weight.requires_grad


def test_checkpoint_of_another_size_names_file_key_shapes_and_type(tmp_path):
    path = str(tmp_path / 'sam_wide.pth')
    torch.save(official_layout_state_dict(embed_dim=48), path)
    head = tiny_head(checkpoint=path)
    with pytest.raises(ValueError) as error:
        head.init_weights()
    message = str(error.value)
    assert path in message
    assert "'image_encoder.pos_embed'" in message
    assert '(1, 4, 4, 48)' in message and '(1, 4, 4, 32)' in message
    assert 'custom (embed_dim=48, depth=2)' in message


def test_guess_sam_type_recognises_official_sizes():
    state_dict = {'image_encoder.patch_embed.proj.weight':
                  torch.empty(768, 3, 16, 16)}
    state_dict.update({f'image_encoder.blocks.{i}.norm1.weight': torch.empty(1)
                       for i in range(12)})
    assert sam.guess_sam_type(state_dict) == "sam_type='vit_b'"
    state_dict['image_encoder.patch_embed.proj.weight'] = torch.empty(
        1280, 3, 16, 16)
    state_dict.update({f'image_encoder.blocks.{i}.norm1.weight': torch.empty(1)
                       for i in range(32)})
    assert sam.guess_sam_type(state_dict) == "sam_type='vit_h'"


def test_missing_checkpoint_names_the_file_and_the_download_tool(tmp_path):
    path = str(tmp_path / 'sam_vit_h_4b8939.pth')
    head = tiny_head(checkpoint=path)
    with pytest.raises(FileNotFoundError) as error:
        head.init_weights()
    message = str(error.value)
    assert path in message
    assert 'sam_vit_b_01ec64.pth' in message
    assert 'tools/misc/download_checkpoints.py --models sam_vit_h' in message


@pytest.mark.parametrize('sam_type', ['vit_b', 'vit_l', 'vit_h'])
def test_builders_match_the_official_layout(sam_type):
    """Key names and shapes equal segment_anything's own build_sam (built on
    the meta device: no memory, no weights)."""
    build_sam = importlib.import_module('segment_anything.build_sam')
    arch = sam.resolve_sam_architecture(sam_type)
    with torch.device('meta'):
        official = build_sam.sam_model_registry[sam_type]().state_dict()
        parts = dict(
            image_encoder=sam.build_sam_image_encoder(arch, 1024),
            prompt_encoder=sam.build_sam_prompt_encoder(arch, 1024),
            mask_decoder=sam.build_class_token_mask_decoder(arch, 4))
    ours = {f'{part}.{key}': value for part, module in parts.items()
            for key, value in module.state_dict().items()}
    assert {key: value.shape for key, value in ours.items()} == {
        key: value.shape for key, value in official.items()}
    assert sam.guess_sam_type(official) == f"sam_type='{sam_type}'"


def test_official_sizes_build_without_weights():
    arch = sam.resolve_sam_architecture('vit_h')
    assert (arch.embed_dim, arch.depth, arch.num_heads) == (1280, 32, 16)
    assert arch.global_attn_indexes == (7, 15, 23, 31)
    with pytest.raises(ValueError, match="sam_type='custom'"):
        sam.resolve_sam_architecture('vit_b', dict(embed_dim=8))
    with pytest.raises(ValueError, match='lacks required keys'):
        sam.resolve_sam_architecture('custom', dict(embed_dim=8))
    with pytest.raises(ValueError, match=r'global_attn_indexes=\(2,\)'):
        sam.resolve_sam_architecture(
            'custom', dict(TINY_SAM, global_attn_indexes=(2, )))
