"""ModalityPatchEmbed: the "without LSTG" ablation backbone of FusionSAM.

The paper's ablation (A) omits the LSTG module: no vector-quantised latent
tokens at all. Each modality of the stacked input goes through a plain patch
embedding (mmcv's ``PatchEmbed``: one ``2**num_downsamples``-strided conv,
then LayerNorm) to token maps of LSTG's stride and width, so FMP and the SAM
head receive exactly the shapes they get from LSTG. There is no codebook, no
reconstruction decoder and no VQ / reconstruction / perceptual / GAN loss
(the backbone has no ``loss`` method, so ``FusionSAM`` adds none).
"""
from typing import Optional, Sequence, Tuple

from mmcv.cnn.bricks.transformer import PatchEmbed
from mmengine.model import BaseModule, ModuleList
from mmseg.registry import MODELS
from torch import Tensor

from ..layers.modalities import check_modalities, split_modalities


@MODELS.register_module()
class ModalityPatchEmbed(BaseModule):
    """One plain patch embedding per modality.

    Args:
        modality_channels (Sequence[int]): Channels of each modality in the
            stacked input, in order. Default: (3, 1).
        modality_names (Sequence[str], optional): Names of the modalities.
            Default: None.
        embed_dims (int): Token channels D. Default: 256.
        num_downsamples (int): Patch side and stride ``2**num_downsamples``
            (LSTG's token stride). Default: 2.
        norm_cfg (dict, optional): Norm after the patch projection.
            Default: ``dict(type='LN')``.
        init_cfg (dict, optional): Initialization config. Default: None.

    Shapes:
        forward: (B, sum(modality_channels), H, W) -> per modality
        (B, embed_dims, ceil(H / 2**n), ceil(W / 2**n)) (inputs whose sides
        are not multiples of the patch are padded bottom/right, as
        ``PatchEmbed(padding='corner')`` does).
    """

    def __init__(self,
                 *,
                 modality_channels: Sequence[int] = (3, 1),
                 modality_names: Optional[Sequence[str]] = None,
                 embed_dims: int = 256,
                 num_downsamples: int = 2,
                 norm_cfg: Optional[dict] = dict(type='LN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.modality_channels, self.modality_names = check_modalities(
            'ModalityPatchEmbed', modality_channels, modality_names)
        patch = 2**num_downsamples
        self.embed_dims = embed_dims
        self.patch_embeds = ModuleList(
            PatchEmbed(
                in_channels=channels,
                embed_dims=embed_dims,
                kernel_size=patch,
                stride=patch,
                padding='corner',
                norm_cfg=norm_cfg) for channels in self.modality_channels)

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Token maps, one per modality (shapes in the class docstring)."""
        sources = split_modalities('ModalityPatchEmbed', inputs,
                                   self.modality_channels)
        tokens = []
        for patch_embed, source in zip(self.patch_embeds, sources):
            sequence, (height, width) = patch_embed(source)
            tokens.append(
                sequence.transpose(1, 2).reshape(-1, self.embed_dims, height,
                                                 width))
        return tuple(tokens)
