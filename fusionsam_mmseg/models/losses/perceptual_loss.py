"""Perceptual (VGG16 feature) loss on the OpenMMLab VGG of ``mmcv.cnn``.

The network is ``mmcv.cnn.VGG`` (depth 16, no BN). Its parameter names are
those of torchvision's VGG16 (``features.<i>.weight``), so the usual ImageNet
VGG16 file (``vgg16-397923af.pth``, the weights LPIPS and taming-transformers
use) loads as it is. (mmpretrain's VGG is not used: ``mmpretrain.models``
cannot be imported without torchvision, which this stack does not have.)

The weights come from ``init_cfg=dict(type='Pretrained', checkpoint=PATH)``
(``prefix`` strips a leading key prefix, e.g. ``'backbone.'``) and are
loaded by ``init_weights()``, which the runner calls before training; every
VGG parameter must be found in the file. A perceptual loss on random VGG
weights is meaningless, so building the loss without a checkpoint, or
calling it before the weights were loaded, raises an error unless
``allow_random_init=True`` (tests only).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import VGG
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.runner import CheckpointLoader
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers.frozen_parts import FrozenPartsMixin
from ..pretrained_file import PretrainedFile

_NUM_VGG_STAGES = 5
_CRITERIA = {'l1': F.l1_loss, 'mse': F.mse_loss}


@MODELS.register_module()
class PerceptualLoss(FrozenPartsMixin, BaseModule):
    """Weighted distance between VGG16 stage features of two images.

    Inputs are expected in ImageNet-normalized RGB space (the dataset's
    normalization of the visible channels). One-channel images (thermal) are
    repeated to three channels. The VGG is frozen and always in eval mode.

    Args:
        layer_weights (Sequence[float]): Weight of each of the 5 VGG16 stage
            outputs (after each stage's max-pool); stages after the last
            non-zero weight are not built. Default: (1.0, 1.0, 1.0, 1.0, 1.0).
        criterion (str): 'l1' or 'mse' between features. Default: 'l1'.
        loss_weight (float): Weight of the loss. Default: 1.0.
        loss_name (str): Key of this loss in the losses dict.
            Default: 'loss_perceptual'.
        allow_random_init (bool): Allow running on random VGG weights (no
            checkpoint). Default: False.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=PATH, prefix=None)``: a VGG16 state dict with
            torchvision's key names after ``prefix`` is stripped.
            Default: None.
    """

    def __init__(self,
                 *,
                 layer_weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0, 1.0),
                 criterion: str = 'l1',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_perceptual',
                 allow_random_init: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self._check_args(layer_weights, criterion, allow_random_init,
                         init_cfg)
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.criterion = criterion
        self.loss_weight = loss_weight
        self._loss_name = loss_name
        self.allow_random_init = allow_random_init
        used_stages = [i for i, w in enumerate(self.layer_weights) if w > 0]
        num_stages = max(used_stages) + 1
        self.vgg = VGG(
            depth=16,
            num_stages=num_stages,
            dilations=(1, ) * num_stages,
            out_indices=tuple(used_stages))
        self.freeze_frozen_modules()
        self.weights_loaded = False
        self.vgg_file = PretrainedFile(
            self, 'PerceptualLoss: VGG16 weights',
            lambda: (self.init_cfg or {}).get('checkpoint'),
            lambda path: {f'vgg.{key}': value for key, value in
                          self._vgg_state_dict(path, self._prefix).items()})

    @staticmethod
    def _check_args(layer_weights, criterion, allow_random_init, init_cfg):
        if len(layer_weights) != _NUM_VGG_STAGES or not any(
                w > 0 for w in layer_weights):
            raise ValueError(
                'PerceptualLoss: layer_weights needs one weight per VGG16 '
                f'stage ({_NUM_VGG_STAGES}) with at least one > 0, got '
                f'{tuple(layer_weights)}.')
        if criterion not in _CRITERIA:
            raise ValueError(f'PerceptualLoss: criterion must be one of '
                             f'{sorted(_CRITERIA)}, got {criterion!r}.')
        has_checkpoint = (
            isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'
            and bool(init_cfg.get('checkpoint')))
        if not has_checkpoint and not allow_random_init:
            raise ValueError(
                'PerceptualLoss needs VGG16 weights: set init_cfg=dict('
                "type='Pretrained', checkpoint=PATH_TO_VGG16) (torchvision's "
                f'vgg16-397923af.pth key layout), got init_cfg={init_cfg!r};'
                ' or turn the loss off (loss_perceptual=None). Set '
                'allow_random_init=True only for tests.')

    def init_weights(self) -> None:
        """Load the VGG16 weights named by ``init_cfg`` (if any)."""
        if self.init_cfg is None:
            return
        checkpoint = self.init_cfg['checkpoint']
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f"PerceptualLoss: VGG16 weights '{checkpoint}' do not exist. "
                "Fetch and verify torchvision's ImageNet VGG16 with `python "
                'tools/misc/download_checkpoints.py --models vgg16` (it goes '
                'to checkpoints/vgg16/vgg16-397923af.pth), or train without '
                'the perceptual loss: `--cfg-options '
                'model.backbone.loss_perceptual=None`.')
        state_dict = self._vgg_state_dict(checkpoint, self._prefix)
        self.vgg.load_state_dict(state_dict)
        self.vgg_file.loaded(checkpoint, [f'vgg.{key}' for key in state_dict])
        self.weights_loaded = True
        self._is_init = True
        print_log(f'PerceptualLoss: loaded VGG16 weights from {checkpoint}',
                  logger='current')

    @property
    def _prefix(self) -> str:
        return (self.init_cfg or {}).get('prefix') or ''

    def _vgg_state_dict(self, checkpoint: str,
                        prefix: str) -> Dict[str, Tensor]:
        loaded = CheckpointLoader.load_checkpoint(
            checkpoint, map_location='cpu')
        loaded = loaded.get('state_dict', loaded)
        loaded = {
            key[len(prefix):]: value
            for key, value in loaded.items() if key.startswith(prefix)
        }
        wanted = self.vgg.state_dict()
        missing = [key for key in wanted if key not in loaded]
        if missing:
            raise KeyError(
                f'PerceptualLoss: {checkpoint} lacks VGG16 weights '
                f'{missing[:4]} (after stripping prefix {prefix!r}); '
                'expected torchvision key names such as '
                "'features.0.weight'.")
        return {key: loaded[key] for key in wanted}

    def frozen_modules(self) -> List[nn.Module]:
        """The VGG16."""
        return [self.vgg]

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): (B, C, H, W) image, C in {1, 3}.
            target (Tensor): (B, C, H, W) image, same shape.

        Returns:
            Tensor: scalar loss.
        """
        if not (self.weights_loaded or self.allow_random_init):
            raise RuntimeError(
                'PerceptualLoss: the VGG16 checkpoint has not been loaded; '
                'call init_weights() (the runner does) before computing the '
                'loss.')
        if pred.shape != target.shape or pred.shape[1] not in (1, 3):
            raise ValueError(
                'PerceptualLoss expects pred and target of one shape '
                f'(B, 1 or 3, H, W), got {tuple(pred.shape)} and '
                f'{tuple(target.shape)}.')
        pred_feats = self._features(pred)
        with torch.no_grad():
            target_feats = self._features(target)
        weights = [w for w in self.layer_weights if w > 0]
        distance = _CRITERIA[self.criterion]
        loss = sum(w * distance(p, t)
                   for w, p, t in zip(weights, pred_feats, target_feats))
        return self.loss_weight * loss

    def _features(self, images: Tensor):
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        features = self.vgg(images)
        return features if isinstance(features, tuple) else (features, )

    @property
    def loss_name(self) -> str:
        """Key of this loss in the losses dict."""
        return self._loss_name
