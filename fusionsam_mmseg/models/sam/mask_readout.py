"""Per-class readout of the stock SAM / SAM2 baselines' class-agnostic masks."""
from typing import Optional

import torch
from mmcv.cnn import ConvModule
from mmseg.models.utils import resize
from torch import Tensor

from .frame import SAMInputFrame


class MaskReadout(ConvModule):
    """3x3 ``ConvModule`` over ``[mask logits, image embedding upsampled]``,
    cropped to the image's part of SAM's frame.

    A ``ConvModule`` subclass, so its ``state_dict`` keys are the plain
    ``conv.*`` / ``bn.*`` (or ``gn.*``) ones.

    Args:
        num_masks (int): Mask logit channels M (SAM / SAM2: 4).
        embedding_channels (int): Channels E of the image embedding that is
            also read; 0 reads the masks only.
        channels (int): Output channels C.
        conv_cfg, norm_cfg, act_cfg: As in ``ConvModule``.
    """

    def __init__(self, num_masks: int, embedding_channels: int,
                 channels: int, conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU')) -> None:
        super().__init__(num_masks + embedding_channels, channels,
                         kernel_size=3, padding=1, conv_cfg=conv_cfg,
                         norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.with_embedding = embedding_channels > 0

    def forward(self, masks: Tensor, image_embeddings: Tensor,
                frame: SAMInputFrame) -> Tensor:
        """
        Args:
            masks (Tensor): (B, M, 4e, 4e) mask logits on SAM's frame.
            image_embeddings (Tensor): (B, E, e, e) image embedding.
            frame (SAMInputFrame): Where the image lies in the frame.

        Returns:
            Tensor: (B, C, h', w') features of the image's part of the frame.
        """
        readout_inputs = [masks]
        if self.with_embedding:
            readout_inputs.append(
                resize(image_embeddings, size=masks.shape[-2:],
                       mode='bilinear', align_corners=False))
        return super().forward(frame.crop(torch.cat(readout_inputs, dim=1)))
