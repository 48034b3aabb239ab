"""Registered components; importing this package registers them."""
from .adversarial_loss import AdversarialLoss  # noqa: F401
from .fusion_loss import FusionLoss  # noqa: F401
from .patch_discriminator import PatchDiscriminator  # noqa: F401
from .perceptual_loss import PerceptualLoss  # noqa: F401
from .reconstruction_loss import ReconstructionLoss  # noqa: F401
from .vq_loss import VQLoss  # noqa: F401
