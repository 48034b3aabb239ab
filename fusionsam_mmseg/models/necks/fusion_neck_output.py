"""FusionNeckOutput: what a fusion neck (FMP, ConcatFusion) returns."""
from typing import NamedTuple, Optional

from torch import Tensor


class FusionNeckOutput(NamedTuple):
    """The outputs of a fusion neck, read by name.

    The SAM heads and :class:`~fusionsam_mmseg.models.segmentors.FusionSAM`
    read the fields. Being a tuple whose first item is the features, it also
    feeds a stock mmseg decode head with ``in_index=0``.

    Attributes:
        features (Tensor): Fusion features F (B, C, h, w).
        mask_logits (Tensor | None): Fusion-mask logits (B, 1, h, w); None
            from a neck that makes no fusion mask (ConcatFusion with
            ``with_mask_logits=False``, the "concat instead of FMP"
            ablation).
        fused_image (Tensor): Fused image (B, 3, h * 2**k, w * 2**k) in
            [0, 1], k the neck's ``num_upsamples``.
    """
    features: Tensor
    mask_logits: Optional[Tensor]
    fused_image: Tensor
