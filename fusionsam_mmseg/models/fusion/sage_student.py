"""SAGEStudent: SAGE's SAM-free fusion network, the one that deploys.

A small convolutional U-Net on the visible luminance Y and the infrared
image, the released architecture (RollingPlain/SAGE_IVIF
``model_sub/model.py``): five stages of three 3x3 conv + BN +
LeakyReLU(0.01) at full, 1/2, 1/4, 1/2 and full resolution, max-pooling
down, bilinear upsampling and a 1x1 conv on the concatenated skip on the
way up, then a 3x3 conv and Tanh; every conv has a bias, even before a
BN::

    [Y, IR] ─ x1 ─ pool ─ x2 ─ pool ─ x3 ─ up ─ [., x2] ─ 1x1 ─ x4
            ─ up ─ [., x1] ─ 1x1 ─ x5 ─ conv ─ tanh ─ fused Y

It holds no SAM parameter; ``x1 ... x5`` are the features distilled from
the teacher. ``tools/model_converters/extract_sage_student.py`` writes its
weights alone from a SAGE checkpoint,
``tools/model_converters/sage_official_to_mmseg.py`` from the authors'
``checkpoints.pt``.
"""
import re
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmengine.runner import CheckpointLoader, load_state_dict
from mmseg.registry import MODELS
from torch import Tensor, nn

LEAKY_RELU = dict(type='LeakyReLU', negative_slope=0.01)
#: Keys of the student in a SAGE checkpoint: 'student.', then the
#: 'module.' of a DDP wrapper when trained distributed.
STUDENT_PREFIX = re.compile(r'^student\.(module\.)?')


def _stage(in_channels: int, channels: int, conv_bias: bool,
           depth: int = 3) -> nn.Sequential:
    """``depth`` 3x3 conv + BN + LeakyReLU layers."""
    return nn.Sequential(*(
        ConvModule(in_channels if index == 0 else channels, channels, 3,
                   padding=1, bias=conv_bias, norm_cfg=dict(type='BN'),
                   act_cfg=LEAKY_RELU) for index in range(depth)))


def _merge(channels: int, conv_bias: bool) -> ConvModule:
    """1x1 conv + BN + LeakyReLU over [upsampled, skip]."""
    return ConvModule(2 * channels, channels, 1, bias=conv_bias,
                      norm_cfg=dict(type='BN'), act_cfg=LEAKY_RELU)


@MODELS.register_module()
class SAGEStudent(BaseModule):
    """U-Net of width ``channels`` fusing Y and IR into a fused Y.

    Args:
        channels (int): Width of every stage. Default: 32.
        conv_bias (bool): Give the convs before a BN a bias, as the
            released student (its checkpoint holds them). Default: True.
        init_cfg (dict, optional): Initialisation config (e.g.
            ``dict(type='Pretrained', checkpoint='student.pth')`` for the
            extracted weights). Default: None.

    ``forward(visible_y, infrared)`` takes (B, 1, H, W) images in [0, 1]
    and returns the fused luminance (B, 1, H, W) in [-1, 1] (Tanh; clamp to
    [0, 1] for an image) and the five stage features (B, channels, H / s,
    W / s) for s = 1, 2, 4, 2, 1.
    """

    def __init__(self,
                 *,
                 channels: int = 32,
                 conv_bias: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.down1 = _stage(2, channels, conv_bias)
        self.down2 = _stage(channels, channels, conv_bias)
        self.bottom = _stage(channels, channels, conv_bias)
        self.merge_up2 = _merge(channels, conv_bias)
        self.up2 = _stage(channels, channels, conv_bias)
        self.merge_up1 = _merge(channels, conv_bias)
        self.up1 = _stage(channels, channels, conv_bias)
        self.out = nn.Conv2d(channels, 1, 3, padding=1)

    @staticmethod
    def _up(x: Tensor, skip: Tensor) -> Tensor:
        upsampled = F.interpolate(x, size=skip.shape[-2:], mode='bilinear',
                                  align_corners=False)
        return torch.cat([upsampled, skip], 1)

    def forward(self, visible_y: Tensor,
                infrared: Tensor) -> Tuple[Tensor, Tuple[Tensor, ...]]:
        x1 = self.down1(torch.cat([visible_y, infrared], 1))
        x2 = self.down2(F.max_pool2d(x1, 2))
        x3 = self.bottom(F.max_pool2d(x2, 2))
        x4 = self.up2(self.merge_up2(self._up(x3, x2)))
        x5 = self.up1(self.merge_up1(self._up(x4, x1)))
        return torch.tanh(self.out(x5)), (x1, x2, x3, x4, x5)


def load_student_weights(student: SAGEStudent, path: str) -> None:
    """Load a checkpoint into ``student`` strictly.

    Args:
        student (SAGEStudent): The network to fill.
        path (str): A SAGE checkpoint (its ``student.*`` tensors are taken,
            the teacher's left), or a student checkpoint without prefix
            (``extract_sage_student.py``).

    Raises:
        ValueError: Naming the file and every missing, unexpected or
            mis-shaped key.
    """
    checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint)
    student_part = {STUDENT_PREFIX.sub('', key): value
                    for key, value in state_dict.items()
                    if STUDENT_PREFIX.match(key)}
    try:
        load_state_dict(student, student_part or state_dict, strict=True)
    except RuntimeError as error:
        raise ValueError(
            f'{path} does not hold the weights of this SAGEStudent (the '
            "config's student, e.g. conv_bias / channels); expected a SAGE "
            'checkpoint or the output of tools/model_converters/'
            f'sage_official_to_mmseg.py / extract_sage_student.py:\n'
            f'{error}') from error
