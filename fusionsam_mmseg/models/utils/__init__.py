"""Registered components; importing this package registers them."""
from .class_token_mask_decoder import ClassTokenMaskDecoder  # noqa: F401
from .prompt_sampler import (MaskPromptSampler, Prompts,  # noqa: F401
                             SAMInputFrame)
from .sam_builder import (SAM_ARCHITECTURES, SAMArchitecture,  # noqa: F401
                          guess_sam_type, load_sam_checkpoint,
                          resolve_sam_architecture)
from .embedding_cache import (SAMEmbeddingCache,  # noqa: F401
                              fingerprint_encoder, keys_from_metainfo)
from .fast_image_encoder import (SAM_ENCODER_ARCHS,  # noqa: F401
                                 FastImageEncoderViT, build_image_encoder)
from .mask_readout import MaskReadout  # noqa: F401
from .patch_discriminator import PatchDiscriminator  # noqa: F401
from .vector_quantizer import QuantizerOutput, VectorQuantizer  # noqa: F401
