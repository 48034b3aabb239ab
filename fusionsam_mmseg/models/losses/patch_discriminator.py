"""PatchGAN discriminator (Isola et al. 2017) used by ``AdversarialLoss``."""
from typing import Optional

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class PatchDiscriminator(BaseModule):
    """PatchGAN: a stack of 4×4 convolutions scoring overlapping patches.

    ``num_layers`` stride-2 convolutions (channels doubling up to
    ``8 * base_channels``), one stride-1 convolution, and a stride-1
    convolution to one logit per patch. The first layer has no
    normalization; the others use ``norm_cfg`` or, with
    ``with_spectral_norm=True``, spectral normalization instead.

    Args:
        in_channels (int): Channels of the judged image. Default: 4.
        base_channels (int): Channels of the first layer. Default: 64.
        num_layers (int): Number of stride-2 layers. Default: 3.
        norm_cfg (dict, optional): Normalization of the inner layers,
            ignored when ``with_spectral_norm`` is True.
            Default: ``dict(type='BN')``.
        with_spectral_norm (bool): Spectral-normalize every convolution and
            use no other normalization. Default: False.
        init_cfg (dict | list[dict], optional): Initialization config.
            Default: ``dict(type='Normal', std=0.02, layer='Conv2d')``.

    Shapes:
        input: (B, in_channels, H, W) with H, W >= 3 * 2**num_layers.
        output: (B, 1, h, w) patch logits, h = H // 2**num_layers - 2.
    """

    def __init__(self,
                 *,
                 in_channels: int = 4,
                 base_channels: int = 64,
                 num_layers: int = 3,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 with_spectral_norm: bool = False,
                 init_cfg=dict(type='Normal', std=0.02, layer='Conv2d')):
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ValueError('PatchDiscriminator: num_layers must be >= 1, '
                             f'got {num_layers}.')
        inner_norm = None if with_spectral_norm else norm_cfg
        act_cfg = dict(type='LeakyReLU', negative_slope=0.2)
        layer_kwargs = dict(
            kernel_size=4,
            padding=1,
            with_spectral_norm=with_spectral_norm)
        layers = [
            ConvModule(
                in_channels,
                base_channels,
                stride=2,
                act_cfg=act_cfg,
                **layer_kwargs)
        ]
        channels = base_channels
        for index in range(1, num_layers + 1):
            out_channels = base_channels * min(2**index, 8)
            layers.append(
                ConvModule(
                    channels,
                    out_channels,
                    stride=2 if index < num_layers else 1,
                    norm_cfg=inner_norm,
                    act_cfg=act_cfg,
                    **layer_kwargs))
            channels = out_channels
        layers.append(
            ConvModule(
                channels, 1, stride=1, act_cfg=None, **layer_kwargs))
        self.layers = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        """Score patches.

        Args:
            images (Tensor): (B, in_channels, H, W).

        Returns:
            Tensor: (B, 1, h, w) real/fake logits per patch.
        """
        return self.layers(images)
