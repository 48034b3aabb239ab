"""Stage-1 model: the LSTG backbone trained alone as a VQ-GAN autoencoder.

Its only submodule of note is ``backbone`` (an :class:`LSTG`), so a stage-1
checkpoint loads into a FusionSAM config with
``init_cfg=dict(type='Pretrained', checkpoint=CKPT, prefix='backbone.')``.
Predictions are reconstructions in [0, 1] (``pred_reconstruction``), scored
by ``ReconstructionMetric``.
"""
from typing import Dict, List, Optional, Sequence, Union

from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from ..layers.image_space import to_unit_range


@MODELS.register_module()
class LSTGAutoencoder(BaseModel):
    """Train and evaluate an LSTG as an autoencoder.

    Args:
        backbone (dict): ``LSTG`` config (with its decoders).
        data_preprocessor (dict, optional): e.g. ``SegDataPreProcessor``
            with the RGB-T mean/std; its normalization is undone for the
            predicted reconstructions. Default: None.
        init_cfg (dict, optional): Initialization config. Default: None.
    """

    def __init__(self,
                 backbone: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[SegDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor],
                                               List[SegDataSample],
                                               Sequence[Tensor]]:
        """Run in one of the mmengine modes.

        Args:
            inputs (Tensor): (B, C, H, W) normalized images.
            data_samples (list[SegDataSample], optional): Their metainfo is
                copied to the predictions. Default: None.
            mode (str): 'loss' (dict of LSTG losses), 'predict' (data
                samples with ``pred_reconstruction``) or 'tensor' (tokens).

        Returns:
            dict | list[SegDataSample] | tuple[Tensor]: see ``mode``.
        """
        if mode == 'loss':
            return self.backbone.loss(inputs)[1]
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.backbone(inputs)
        raise ValueError(f'LSTGAutoencoder: mode must be "loss", "predict" '
                         f'or "tensor", got {mode!r}.')

    def predict(self,
                inputs: Tensor,
                data_samples: Optional[List[SegDataSample]] = None
                ) -> List[SegDataSample]:
        """Reconstruct the inputs.

        Args:
            inputs (Tensor): (B, C, H, W) normalized images.
            data_samples (list[SegDataSample], optional): Default: None.

        Returns:
            list[SegDataSample]: each with ``pred_reconstruction``
            (PixelData, data (C, h, w) in [0, 1], cropped to ``img_shape``).
        """
        images = to_unit_range(self.backbone.reconstruct(inputs),
                               self.data_preprocessor)
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(len(images))]
        for image, data_sample in zip(images, data_samples):
            height, width = data_sample.metainfo.get('img_shape',
                                                     image.shape[-2:])
            data_sample.pred_reconstruction = PixelData(
                data=image[:, :height, :width])
        return data_samples
