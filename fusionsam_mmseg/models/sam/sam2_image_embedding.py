"""SAM2's image encoder in the place of SAM's (``SAMPromptHead`` with SAM2).

SAM2 decodes a single image from the lowest-resolution FPN level of its
image encoder (Hiera trunk + FPN neck) plus its no-memory embedding (what
``SAM2Base`` adds to a first frame, ``directly_add_no_mem_embed``).
:class:`SAM2ImageEmbedding` returns exactly that, shaped like SAM's image
embedding, so SAM's prompt encoder and class-token mask decoder read it
unchanged. Its keys are SAM2's (``trunk.*``, ``neck.*``, ``no_mem_embed``),
so an official SAM2 file loads into it (see
:func:`~fusionsam_mmseg.models.sam.sam2_checkpoint.sam2_state_as_sam_layout`).
"""
from torch import Tensor, nn


class SAM2ImageEmbedding(nn.Module):
    """SAM2 Hiera + FPN -> one (B, C, S/16, S/16) image embedding.

    Args:
        image_encoder (nn.Module): SAM2's ``ImageEncoder`` (its ``trunk``,
            ``neck`` and ``scalp`` are taken over).
        no_mem_embed (nn.Parameter): SAM2's (1, 1, C) no-memory embedding.

    Shapes: (B, 3, S, S) normalised images -> (B, C, S / 16, S / 16), C the
    neck width (256 for the official configs).
    """

    def __init__(self, image_encoder: nn.Module,
                 no_mem_embed: nn.Parameter) -> None:
        super().__init__()
        self.trunk = image_encoder.trunk
        self.neck = image_encoder.neck
        self.scalp = image_encoder.scalp
        self.no_mem_embed = no_mem_embed

    def forward(self, images: Tensor) -> Tensor:
        features, _ = self.neck(self.trunk(images))
        embedding = features[-1 - self.scalp]
        return embedding + self.no_mem_embed.view(1, -1, 1, 1)
