"""The paper configs' Adam: weight decay on weight matrices only, and the
discriminator's stage-1 settings (betas, no decay)."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS
from torch import nn

from conftest import REPO_ROOT
from test_config_matrix import TINY_SAM

PAPER = osp.join(REPO_ROOT, 'configs', 'fusionsam_vith_mfnet.py')


@pytest.fixture(scope='module')
def param_groups():
    """Trainable parameter name -> its Adam param group (mmengine leaves
    frozen parameters out), for the paper config with a tiny random SAM and
    a learned (not EMA) codebook."""
    cfg = Config.fromfile(PAPER)
    cfg.model.decode_head.update(sam_type='custom', image_size=128,
                                 checkpoint=None, encoder_cfg=TINY_SAM)
    cfg.model.backbone.quantizer_cfg = dict(use_ema=False)
    model = MODELS.build(cfg.model)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    group_of = {id(p): group for group in optimizer.param_groups
                for p in group['params']}
    return model, {name: group_of[id(p)]
                   for name, p in model.named_parameters() if p.requires_grad}


def _is_norm(module: nn.Module) -> bool:
    """BN / GN / LayerNorm, and SAM's LayerNorm2d (not an nn.LayerNorm)."""
    return isinstance(module, (nn.modules.batchnorm._BatchNorm,
                               nn.GroupNorm, nn.LayerNorm)) or \
        type(module).__name__ == 'LayerNorm2d'


def test_no_decay_on_tokens_embeddings_and_norms(param_groups):
    model, groups = param_groups
    exempt = {f'{prefix}.{name}'.lstrip('.')
              for prefix, module in model.named_modules()
              if _is_norm(module) or isinstance(module, nn.Embedding)
              for name, _ in module.named_parameters(recurse=False)}
    exempt = {name for name in groups
              if name in exempt or name.endswith('codebook')}
    assert {'decode_head.mask_decoder.mask_tokens.weight',
            'decode_head.mask_decoder.iou_token.weight',
            'decode_head.prompt_encoder.not_a_point_embed.weight',
            'decode_head.mask_decoder.output_upscaling.1.weight',
            'backbone.quantizers.0.codebook'} <= exempt
    for name in exempt:
        assert groups[name]['weight_decay'] == 0.0, name
    decayed = [name for name, group in groups.items()
               if group['weight_decay'] == 1e-3]
    assert 'backbone.stems.0.weight' in decayed
    assert 'decode_head.mask_decoder.transformer.layers.0.self_attn.' \
        'q_proj.weight' in decayed
    assert set(decayed) == {
        name for name in groups
        if name not in exempt and 'loss_adv.discriminator' not in name}


def test_discriminator_takes_the_stage_1_optimizer(param_groups):
    _, groups = param_groups
    discriminator = [group for name, group in groups.items()
                     if 'loss_adv.discriminator' in name]
    assert discriminator
    for group in discriminator:
        assert tuple(group['betas']) == (0.5, 0.9)
        assert group['weight_decay'] == 0.0
    assert tuple(groups['backbone.stems.0.weight']['betas']) == (0.9, 0.999)
    assert all(group['lr'] == 1e-4 for group in groups.values())
