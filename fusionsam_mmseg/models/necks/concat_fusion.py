"""ConcatFusion: the "concat instead of FMP" ablation neck."""
from typing import Sequence

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig
from .fusion_neck_output import FusionNeckOutput
from .fusion_outputs import FusionOutputs


@MODELS.register_module()
class ConcatFusion(BaseModule):
    """Fuse modality token maps by concatenation and convolution.

    Same inputs and outputs as :class:`~fusionsam_mmseg.models.necks.FMP`
    (1x1 projection per modality, concat, two 3x3 ConvModules, then the shared
    :class:`FusionOutputs`), without any attention.

    Args:
        in_channels (int): Channels of each modality's token map.
            Defaults to 256.
        num_modalities (int): Number of token maps. Defaults to 2.
        embed_dims (int): Width after projection. Defaults to 256.
        out_channels (int): Channels of the fusion features. Defaults to 256.
        image_channels (int): Width of the fused-image decoder.
            Defaults to 64.
        num_upsamples (int): Upsampling stages of the fused-image decoder.
            Defaults to 2.
        norm_cfg (dict): Norm of the convolutions. Defaults to
            ``dict(type='BN')``.
        act_cfg (dict): Activation. Defaults to ``dict(type='ReLU')``.
        align_corners (bool): Upsampling ``align_corners``. Defaults to False.
        with_mask_logits (bool): Predict fusion-mask logits; False gives
            ``mask_logits=None`` (the paper's ablation (B) gives SAM no
            fusion-mask hint). Defaults to True.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Shapes:
        forward(tokens): N maps (B, in_channels, h, w) -> a
        :class:`FusionNeckOutput`: ``features`` (B, out_channels, h, w),
        ``mask_logits`` (B, 1, h, w) or None, ``fused_image``
        (B, 3, h * 2**num_upsamples, w * 2**num_upsamples) in [0, 1].
    """

    def __init__(self,
                 *,
                 in_channels: int = 256,
                 num_modalities: int = 2,
                 embed_dims: int = 256,
                 out_channels: int = 256,
                 image_channels: int = 64,
                 num_upsamples: int = 2,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 with_mask_logits: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_modalities = num_modalities
        self.projections = nn.ModuleList(
            nn.Conv2d(in_channels, embed_dims, kernel_size=1)
            for _ in range(num_modalities))
        conv = dict(kernel_size=3, padding=1, norm_cfg=norm_cfg,
                    act_cfg=act_cfg)
        self.fusion_convs = nn.Sequential(
            ConvModule(num_modalities * embed_dims, embed_dims, **conv),
            ConvModule(embed_dims, out_channels, **conv))
        self.outputs = FusionOutputs(
            in_channels=out_channels,
            image_channels=image_channels,
            num_upsamples=num_upsamples,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            align_corners=align_corners,
            with_mask_logits=with_mask_logits)

    def forward(self, tokens: Sequence[Tensor]) -> FusionNeckOutput:
        """Concat + conv fusion; see the class docstring for shapes."""
        if len(tokens) != self.num_modalities:
            raise ValueError(
                f'ConcatFusion expects {self.num_modalities} token maps (one '
                f'per modality, set by num_modalities) but got {len(tokens)}.')
        projected = [proj(t) for proj, t in zip(self.projections, tokens)]
        return self.outputs(self.fusion_convs(torch.cat(projected, dim=1)))
