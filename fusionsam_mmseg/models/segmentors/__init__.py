"""Registered components; importing this package registers them."""
from .lstg_autoencoder import LSTGAutoencoder  # noqa: F401
from .fusionsam import FusionSAM  # noqa: F401
