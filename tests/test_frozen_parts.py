"""One frozen-parts mechanism (issue 25b): every module that keeps parts
frozen names them in ``frozen_modules()``; after ``model.train()`` those
are in eval mode and train no parameter, while the module itself trains."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from conftest import REPO_ROOT
from fusionsam_mmseg.models.layers.frozen_parts import FrozenPartsMixin

TINY_SAM = dict(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(),
                window_size=4, patch_size=8)
# Every class that keeps frozen parts (SAMHeadBase through its heads).
FROZEN_PART_CLASSES = {
    'SAM2LoRABackbone', 'LSTG', 'FusedImageBackbone', 'FusionSAM',
    'SAMPromptHead', 'StockSAMHead', 'MemorySAMHead', 'StockSAM2Head',
    'PerceptualLoss', 'ContrastiveSemanticLoss'
}
# Parameters that train inside a frozen module: LoRA on SAM2's frozen trunk.
TRAINED_INSIDE_FROZEN = {'SAM2LoRABackbone': 'lora_'}


def _config_model(config: str, **updates) -> dict:
    model = Config.fromfile(osp.join(REPO_ROOT, 'configs', config)).model
    model.update(updates)
    return model


def _tiny_models():
    """Tiny models that hold every class of FROZEN_PART_CLASSES with
    something frozen."""
    fused_sam2 = _config_model('baselines/sam2_tiny_fused_demo.py')
    fused_sam2.backbone.update(
        frozen_stages=1, with_decoder=True,
        loss_perceptual=dict(type='PerceptualLoss', allow_random_init=True,
                             layer_weights=(1.0, 0.0, 0.0, 0.0, 0.0)))
    yield fused_sam2
    yield _config_model('baselines/sam_tiny_fused_demo.py')
    yield _config_model('fusionsam_tiny_demo.py')
    yield _config_model('memorysam/memorysam_tiny_demo.py')
    yield dict(
        type='FusedImageBackbone',
        fusion=dict(type='SAGEStudent', channels=8),
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=8,
                      base_channels=8, num_stages=2, out_indices=(0, 1),
                      strides=(1, 2), dilations=(1, 1)))
    yield dict(type='ContrastiveSemanticLoss', sam_type='custom',
               encoder_cfg=TINY_SAM)


@pytest.fixture(scope='module')
def trained_models():
    """The tiny models, built and put in train mode."""
    torch.manual_seed(0)
    return [MODELS.build(cfg).train() for cfg in _tiny_models()]


def _frozen_part_owners(models):
    return [module for model in models for module in model.modules()
            if isinstance(module, FrozenPartsMixin)]


def test_every_class_with_frozen_parts_uses_the_mixin(trained_models):
    owners = _frozen_part_owners(trained_models)
    assert {type(owner).__name__ for owner in owners
            if owner.frozen_modules()} == FROZEN_PART_CLASSES


def test_frozen_parts_stay_in_eval_and_train_nothing(trained_models):
    owners = _frozen_part_owners(trained_models)
    inside_frozen = {
        id(module) for owner in owners for part in owner.frozen_modules()
        for module in part.modules()
    }
    for owner in owners:
        name = type(owner).__name__
        frozen = owner.frozen_modules()
        # The mode reached the owner (unless another owner froze it whole).
        assert owner.training or id(owner) in inside_frozen, name
        in_train_mode = [
            type(module).__name__ for part in frozen
            for module in part.modules() if module.training
        ]
        assert not in_train_mode, (name, in_train_mode[:5])
        allowed = TRAINED_INSIDE_FROZEN.get(name)
        trained = [
            param_name for part in frozen
            for param_name, param in part.named_parameters()
            if param.requires_grad and not (allowed and allowed in param_name)
        ]
        assert not trained, (name, trained[:5])
