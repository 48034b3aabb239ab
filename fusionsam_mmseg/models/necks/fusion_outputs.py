"""The two outputs every fusion neck derives from its fusion features.

:class:`FusionOutputs` turns fusion features F (B, C, h, w) into the
fusion-mask logits (B, 1, h, w) (unless ``with_mask_logits=False``) and a
fused image (B, 3, h * 2**k, w * 2**k) in [0, 1], returned as a
:class:`FusionNeckOutput`; :class:`~fusionsam_mmseg.models.necks.FMP` and
:class:`~fusionsam_mmseg.models.necks.ConcatFusion` share it, so ablating the
fusion unit changes nothing else.
"""
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmseg.models.utils import resize
from mmseg.utils import ConfigType, OptMultiConfig
from .fusion_neck_output import FusionNeckOutput


class FusionOutputs(BaseModule):
    """Fusion-mask logits and fused-image decoder on top of fusion features.

    The fused image decoder is ``num_upsamples`` stages of (bilinear x2 +
    3x3 ConvModule) followed by a 1x1 conv to 3 channels and a sigmoid, so a
    backbone that downsampled by ``2**num_upsamples`` gets its image back at
    the input resolution.

    Args:
        in_channels (int): Channels C of the fusion features.
        image_channels (int): Width of the fused-image decoder.
            Defaults to 64.
        num_upsamples (int): x2 upsampling stages of the image decoder; match
            the backbone's ``num_downsamples``. Defaults to 2.
        norm_cfg (dict): Norm of the decoder convs.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation of the decoder convs.
            Defaults to ``dict(type='ReLU')``.
        align_corners (bool): ``align_corners`` of the upsampling.
            Defaults to False.
        with_mask_logits (bool): Predict fusion-mask logits. False (the
            "concat instead of FMP" ablation, no fusion-mask hint) gives
            ``mask_logits=None``. Defaults to True.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 *,
                 in_channels: int,
                 image_channels: int = 64,
                 num_upsamples: int = 2,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 with_mask_logits: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.align_corners = align_corners
        self.mask_logits = (nn.Conv2d(in_channels, 1, kernel_size=1)
                            if with_mask_logits else None)
        conv = dict(kernel_size=3, padding=1, norm_cfg=norm_cfg,
                    act_cfg=act_cfg)
        self.image_stem = ConvModule(in_channels, image_channels, **conv)
        self.image_upsample_convs = nn.ModuleList(
            ConvModule(image_channels, image_channels, **conv)
            for _ in range(num_upsamples))
        self.image_out = nn.Conv2d(image_channels, 3, kernel_size=1)

    def decode_image(self, features: Tensor) -> Tensor:
        """Fused image (B, 3, h * 2**k, w * 2**k) in [0, 1] from (B, C, h, w)."""
        x = self.image_stem(features)
        for conv in self.image_upsample_convs:
            x = conv(
                resize(
                    x,
                    scale_factor=2,
                    mode='bilinear',
                    align_corners=self.align_corners))
        return self.image_out(x).sigmoid()

    def forward(self, features: Tensor) -> FusionNeckOutput:
        """The features, their fusion-mask logits (None without) and the
        fused image."""
        mask_logits = (None if self.mask_logits is None else
                       self.mask_logits(features))
        return FusionNeckOutput(features, mask_logits,
                                self.decode_image(features))
