"""FusedImageBackbone: a stock backbone on the output of a fusion network.

SAGE's "and beyond": a segmenter that sees the fused image of the frozen
SAM-free student instead of the two sources. The wrapper fuses the
visible luminance Y and the infrared image with the student, puts the
visible chroma back (an RGB image in [0, 1], as ``SAGE.predict``
attaches), normalises it like an ImageNet image and runs any 3-channel
mmseg backbone on it, so a stock ``EncoderDecoder`` with a stock decode
head segments fused images with ``tools/train.py`` unchanged.
"""
from typing import List, Optional, Sequence

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.runner import load_checkpoint
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers.frozen_parts import FrozenPartsMixin
from ..layers.image_space import colorize, rgb_to_ycrcb

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class FusedImageBackbone(FrozenPartsMixin, BaseModule):
    """Frozen fusion network + stock backbone on its fused RGB image.

    Args:
        fusion (dict): The fusion network, called as
            ``fusion(visible_y, infrared)`` -> (fused Y (B, 1, H, W), ...),
            e.g. ``dict(type='SAGEStudent')``.
        backbone (dict): A 3-channel mmseg backbone.
        fusion_checkpoint (str, optional): The fusion network's weights
            (``tools/model_converters/extract_sage_student.py``); None
            keeps it random (tests only). Default: None.
        mean (Sequence[float]): Backbone normalisation mean on 0..255.
            Default: ImageNet.
        std (Sequence[float]): Backbone normalisation std on 0..255.
            Default: ImageNet.
        init_cfg (dict, optional): Default: None.

    Input: (B, 4, H, W) R, G, B, infrared on 0..255 (a data preprocessor
    that does not normalise). Output: the backbone's.
    """

    modality_channels = (3, 1)

    def __init__(self,
                 fusion: dict,
                 backbone: dict,
                 fusion_checkpoint: Optional[str] = None,
                 mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.fusion = MODELS.build(fusion)
        self.freeze_frozen_modules()
        self.backbone = MODELS.build(backbone)
        self.fusion_checkpoint = fusion_checkpoint
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1),
                             persistent=False)

    def init_weights(self) -> None:
        """Initialise the backbone; load the fusion network's weights."""
        self.backbone.init_weights()
        if self.fusion_checkpoint is None:
            print_log(
                'FusedImageBackbone: no fusion_checkpoint, the fusion '
                'network keeps random weights (tests only).',
                logger='current')
            return
        load_checkpoint(self.fusion, self.fusion_checkpoint,
                        map_location='cpu', strict=True)

    def frozen_modules(self) -> List[nn.Module]:
        """The fusion network."""
        return [self.fusion]

    def fused_image(self, inputs: Tensor) -> Tensor:
        """(B, 4, H, W) sources on 0..255 -> (B, 3, H, W) fused RGB [0, 1]."""
        if inputs.shape[1] != 4:
            raise ValueError(
                f'FusedImageBackbone: inputs have {inputs.shape[1]} channels;'
                ' expected 4 (R, G, B, infrared on 0..255, a data '
                'preprocessor without mean / std).')
        visible = inputs[:, :3] / 255.0
        infrared = inputs[:, 3:] / 255.0
        with torch.no_grad():
            fused_y = self.fusion(rgb_to_ycrcb(visible)[:, :1], infrared)[0]
        return colorize(fused_y, visible)

    def forward(self, inputs: Tensor):
        image = self.fused_image(inputs) * 255.0
        return self.backbone((image - self.mean) / self.std)
