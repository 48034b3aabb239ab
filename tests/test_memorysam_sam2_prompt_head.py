"""SAMPromptHead with SAM2's image encoder (issue 14, item 6): a SAM2 model
name as ``sam_type``; an official-layout SAM2 file loads into the SAM-style
head and is left out of its checkpoints like a SAM file."""
import io
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.runner.checkpoint import (get_state_dict, load_state_dict,
                                        weights_to_cpu)
from mmseg.registry import DATASETS, MODELS
from sam2.build_sam import build_sam2

from conftest import REPO_ROOT
from fusionsam_mmseg.models.decode_heads import SAMPromptHead
from fusionsam_mmseg.models.necks import FusionNeckOutput
from fusionsam_mmseg.models.pretrained_file import RECORD_KEY
from fusionsam_mmseg.models.sam import SAM2_CONFIGS, SAM2ImageEmbedding

TINY = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'memorysam',
                                'memorysam_tiny_demo.py'))
OVERRIDES = list(TINY.sam2_overrides)
WIDTH = TINY.sam2_width
IMAGE_SIZE = 64


def sam2_head(checkpoint=None, seed=0):
    torch.manual_seed(seed)
    head = SAMPromptHead(16, 9, sam_type='sam2_hiera_b+',
                         encoder_cfg=dict(sam2_overrides=OVERRIDES),
                         image_size=IMAGE_SIZE, checkpoint=checkpoint)
    if checkpoint is not None:
        head.init_weights()
    return head


def neck_outputs(batch=2, height=48, width=64):
    generator = torch.Generator().manual_seed(0)
    return FusionNeckOutput(
        torch.randn(batch, 16, height // 4, width // 4, generator=generator),
        torch.randn(batch, 1, height // 4, width // 4,
                    generator=generator) * 3,
        torch.rand(batch, 3, height, width, generator=generator))


def official_sam2_file(path, seed=3) -> dict:
    torch.manual_seed(seed)
    model = build_sam2(SAM2_CONFIGS['sam2_hiera_b+'], ckpt_path=None,
                       device='cpu', mode='eval', apply_postprocessing=False,
                       hydra_overrides_extra=[
                           f'++model.image_size={IMAGE_SIZE}', *OVERRIDES])
    state = model.state_dict()
    torch.save({'model': state}, path)
    return state


def test_sam2_encoder_replaces_the_vit():
    head = sam2_head()
    assert isinstance(head.image_encoder, SAM2ImageEmbedding)
    assert head.arch.prompt_embed_dim == WIDTH
    assert not any(p.requires_grad for p in head.image_encoder.parameters())
    seg_logits = head(neck_outputs())
    # 48x64 placed in the 64x64 frame: 12x16 of the 16x16 mask grid.
    assert seg_logits.shape == (2, 9, 12, 16)
    assert torch.isfinite(seg_logits).all()


def test_official_sam2_file_loads_and_is_left_out(tmp_path):
    path = str(tmp_path / 'sam2_random.pt')
    file_state = official_sam2_file(path)
    head = sam2_head(checkpoint=path)
    encoder = head.image_encoder.state_dict()
    assert torch.equal(encoder['no_mem_embed'], file_state['no_mem_embed'])
    for key, value in encoder.items():
        if key != 'no_mem_embed':
            assert torch.equal(value, file_state[f'image_encoder.{key}'])
    for key, value in head.prompt_encoder.state_dict().items():
        assert torch.equal(value, file_state[f'sam_prompt_encoder.{key}'])
    decoder = head.mask_decoder.state_dict()
    transformer = 'sam_mask_decoder.transformer.layers.0'
    assert torch.equal(decoder['transformer.layers.0.mlp.lin1.weight'],
                       file_state[f'{transformer}.mlp.layers.0.weight'])
    assert torch.equal(decoder['mask_tokens.weight'][:4],
                       file_state['sam_mask_decoder.mask_tokens.weight'])
    buffer = io.BytesIO()
    torch.save(weights_to_cpu(get_state_dict(head)), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert RECORD_KEY in state
    assert not any(key.startswith('image_encoder.') for key in state)
    restored = sam2_head(seed=7)
    restored.checkpoint = path
    load_state_dict(restored, state, strict=True)
    expected = dict(head.named_parameters())
    for key, value in restored.named_parameters():  # the file's included
        assert torch.equal(value, expected[key]), key


def test_a_sam2_file_of_another_size_is_named(tmp_path):
    path = str(tmp_path / 'other.pt')
    wider = [o.replace('neck.d_model=32', 'neck.d_model=64')
             .replace('num_pos_feats=32', 'num_pos_feats=64')
             for o in OVERRIDES]
    torch.manual_seed(0)
    other = build_sam2(SAM2_CONFIGS['sam2_hiera_b+'], ckpt_path=None,
                       device='cpu', mode='eval', apply_postprocessing=False,
                       hydra_overrides_extra=[
                           f'++model.image_size={IMAGE_SIZE}', *wider])
    torch.save({'model': other.state_dict()}, path)
    with pytest.raises(ValueError, match=r"other\.pt.*SAM2, a Hiera trunk"):
        sam2_head(checkpoint=path)


def test_fusionsam_with_sam2_config_trains_one_step(mfnet_demo_root):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'mixing',
                                   'fusionsam_sam2_tiny_demo.py'))
    cfg.train_dataloader.dataset.data_root = mfnet_demo_root
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert isinstance(model.decode_head.image_encoder, SAM2ImageEmbedding)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[0], dataset[1]])
    before = {key: value.clone() for key, value in model.state_dict().items()}
    log_vars = model.train_step(
        batch, build_optim_wrapper(model, cfg.optim_wrapper))
    assert torch.isfinite(log_vars['loss'])
    after = model.state_dict()
    changed = {key for key in before if before[key].is_floating_point()
               and not torch.equal(before[key], after[key])}
    assert any(key.startswith('decode_head.mask_decoder.transformer')
               for key in changed)
    assert not any(key.startswith('decode_head.image_encoder.')
                   for key in changed)
