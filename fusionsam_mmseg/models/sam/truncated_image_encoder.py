"""The first blocks of SAM's image encoder as a frozen feature extractor.

SAGE's contrastive-semantic loss compares images in the feature space of
the first two ViT blocks of SAM ViT-B. Facts of the official code kept
here: the patch embedding and the first ``num_blocks`` blocks only (no
absolute position embedding, no neck), inputs taken as they are (a
1-channel image in [0, 1] repeated to 3 channels, neither resized nor
normalised nor padded), every block's output returned. The windowed blocks
accept any input size; a global-attention block (ViT-B's third) needs
SAM's 1024 x 1024 frame.
"""
import dataclasses
from typing import Dict, List, Optional

from torch import Tensor, nn

from .architectures import resolve_sam_architecture
from .builder import build_sam_image_encoder
from .official_checkpoint import OfficialCheckpoint
from .sam_checkpoint import guess_sam_type, read_sam_checkpoint

OFFICIAL_PREFIX = 'image_encoder.'


class TruncatedSAMImageEncoder(nn.Module):
    """Patch embedding + the first ``num_blocks`` ViT blocks of SAM.

    Args:
        sam_type (str): ``'vit_b'``, ``'vit_l'``, ``'vit_h'`` or
            ``'custom'``. Default: 'vit_b'.
        num_blocks (int): ViT blocks kept. Default: 2.
        encoder_cfg (dict, optional): Dimensions for ``sam_type='custom'``.
            Default: None.

    ``forward(image)``: (B, 3, H, W) -> list of ``num_blocks`` maps
    (B, embed_dim, H / patch, W / patch).
    """

    def __init__(self, sam_type: str = 'vit_b', num_blocks: int = 2,
                 encoder_cfg: Optional[dict] = None) -> None:
        super().__init__()
        arch = resolve_sam_architecture(sam_type, encoder_cfg)
        if not 1 <= num_blocks <= arch.depth:
            raise ValueError(
                f'TruncatedSAMImageEncoder: num_blocks={num_blocks} must lie '
                f"in 1..{arch.depth} (the depth of sam_type='{sam_type}').")
        truncated = dataclasses.replace(
            arch, depth=num_blocks,
            global_attn_indexes=tuple(
                i for i in arch.global_attn_indexes if i < num_blocks))
        encoder = build_sam_image_encoder(truncated, image_size=1024)
        self.sam_type = sam_type
        self.patch_embed = encoder.patch_embed
        self.blocks = encoder.blocks

    def forward(self, image: Tensor) -> List[Tensor]:
        x = self.patch_embed(image)
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x.permute(0, 3, 1, 2))
        return features

    def read_official(self, path: str, owner: str) -> Dict[str, Tensor]:
        """This module's tensors from an official SAM checkpoint.

        Args:
            path (str): e.g. ``sam_vit_b_01ec64.pth``.
            owner (str): Names the module in errors.

        Returns:
            dict[str, Tensor]: Keys of this module's state dict.
        """
        owner = (f"{owner}(sam_type='{self.sam_type}', first "
                 f'{len(self.blocks)} blocks)')
        file_state = read_sam_checkpoint(path, owner)
        own = self.state_dict()
        loaded = {key: file_state[OFFICIAL_PREFIX + key] for key in own
                  if OFFICIAL_PREFIX + key in file_state}
        OfficialCheckpoint(path, owner, 'SAM').check_fits(
            own, loaded, guess_sam_type(file_state), 'sam_type')
        return loaded
