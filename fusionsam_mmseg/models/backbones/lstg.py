"""LSTG: Latent Space Token Generation backbone of FusionSAM.

Each modality of the stacked input (B, sum(modality_channels), H, W) is
encoded by a convolutional encoder (residual blocks, GroupNorm, SiLU,
``num_downsamples`` stride-2 convolutions), projected by a 1×1 convolution to
``embed_dims`` and vector-quantized against a per-modality codebook (the
authors' code: one VQGAN per modality) or, with ``share_codebook=True``, one
codebook for all modalities (the paper's text: "a learned codebook Z" that
"aligns similar features from both modalities"). The tokens z_m
(B, embed_dims, H / 2**n, W / 2**n), one per modality, are the backbone
output.

Training adds per-modality decoders (mirror of the encoder) that reconstruct
each modality from its tokens, and the VQ-GAN losses: codebook/commitment,
reconstruction, optional perceptual and optional adversarial
(see :mod:`fusionsam_mmseg.models.losses.adversarial_loss` for how the GAN
trains under one optimizer). ``loss(inputs)`` returns the tokens and these
losses; ``forward(inputs)`` returns the tokens only, so LSTG is an ordinary
backbone in a stock ``EncoderDecoder`` too (use ``with_decoder=False``
there: the decoders would be unused parameters).
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule, ModuleList
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor

from ..layers.frozen_parts import FrozenPartsMixin
from ..layers.modalities import check_modalities, split_modalities
from ..layers.vector_quantizer import QuantizerOutput, VectorQuantizer


class ResidualBlock(BaseModule):
    """Pre-activation residual block: (norm, act, conv3×3) × 2 + shortcut.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels; a 1×1 convolution adapts the
            shortcut when they differ.
        norm_cfg (dict): Normalization config.
        act_cfg (dict): Activation config.
    """

    def __init__(self, *, in_channels: int, out_channels: int,
                 norm_cfg: dict, act_cfg: dict):
        super().__init__()
        conv_kwargs = dict(
            kernel_size=3,
            padding=1,
            bias=True,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            order=('norm', 'act', 'conv'))
        self.conv1 = ConvModule(in_channels, out_channels, **conv_kwargs)
        self.conv2 = ConvModule(out_channels, out_channels, **conv_kwargs)
        self.shortcut = (
            nn.Identity() if in_channels == out_channels else nn.Conv2d(
                in_channels, out_channels, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.conv2(self.conv1(x))


def _residual_stack(in_channels: int, out_channels: int, num_blocks: int,
                    norm_cfg: dict, act_cfg: dict) -> List[nn.Module]:
    return [
        ResidualBlock(
            in_channels=in_channels if index == 0 else out_channels,
            out_channels=out_channels,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg) for index in range(num_blocks)
    ]


class LSTGEncoder(BaseModule):
    """Encoder trunk: stages of residual blocks, stride-2 convolutions
    between them, and a final norm, act and 1×1 projection.

    ``stages[i]`` for ``i < len(channels) - 1`` ends with a stride-2
    convolution; the last stage ends with the projection to ``embed_dims``.

    Args:
        channels (Sequence[int]): Channels per resolution level, first =
            channels of the stem output.
        embed_dims (int): Output (token) channels.
        num_res_blocks (int): Residual blocks per level.
        norm_cfg (dict): Normalization config.
        act_cfg (dict): Activation config.
    """

    def __init__(self, *, channels: Sequence[int], embed_dims: int,
                 num_res_blocks: int, norm_cfg: dict, act_cfg: dict):
        super().__init__()
        self.stages = ModuleList()
        in_channels = channels[0]
        for level, level_channels in enumerate(channels):
            layers = _residual_stack(in_channels, level_channels,
                                     num_res_blocks, norm_cfg, act_cfg)
            if level < len(channels) - 1:
                layers.append(
                    ConvModule(
                        level_channels,
                        level_channels,
                        kernel_size=3,
                        stride=2,
                        padding=1,
                        act_cfg=None))
            else:
                layers.append(
                    ConvModule(
                        level_channels,
                        embed_dims,
                        kernel_size=1,
                        bias=True,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg,
                        order=('norm', 'act', 'conv')))
            self.stages.append(nn.Sequential(*layers))
            in_channels = level_channels

    def forward(self, x: Tensor) -> Tensor:
        for stage in self.stages:
            x = stage(x)
        return x


class LSTGDecoder(BaseModule):
    """Decoder mirroring :class:`LSTGEncoder`: tokens to one modality.

    Args:
        channels (Sequence[int]): Channels per resolution level, as given to
            the encoder (the decoder walks them in reverse).
        embed_dims (int): Token channels.
        out_channels (int): Channels of the reconstructed modality.
        num_res_blocks (int): Residual blocks per level.
        norm_cfg (dict): Normalization config.
        act_cfg (dict): Activation config.
    """

    def __init__(self, *, channels: Sequence[int], embed_dims: int,
                 out_channels: int, num_res_blocks: int, norm_cfg: dict,
                 act_cfg: dict):
        super().__init__()
        reversed_channels = list(reversed(channels))
        layers = [
            nn.Conv2d(
                embed_dims, reversed_channels[0], kernel_size=3, padding=1)
        ]
        in_channels = reversed_channels[0]
        for level, level_channels in enumerate(reversed_channels):
            layers += _residual_stack(in_channels, level_channels,
                                      num_res_blocks, norm_cfg, act_cfg)
            if level < len(reversed_channels) - 1:
                layers += [
                    nn.Upsample(scale_factor=2, mode='nearest'),
                    nn.Conv2d(
                        level_channels, level_channels, 3, padding=1)
                ]
            in_channels = level_channels
        layers.append(
            ConvModule(
                in_channels,
                out_channels,
                kernel_size=3,
                padding=1,
                bias=True,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                order=('norm', 'act', 'conv')))
        self.layers = nn.Sequential(*layers)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.layers(tokens)


@MODELS.register_module()
class LSTG(FrozenPartsMixin, BaseModule):
    """Latent Space Token Generation: per-modality VQ tokens.

    Args:
        modality_channels (Sequence[int]): Channels of each modality in the
            stacked input, in order. Default: (3, 1) (RGB, thermal).
        modality_names (Sequence[str], optional): Names used in logged keys
            (``perplexity_<name>``). Default: None (``m0``, ``m1``, ...).
        embed_dims (int): Token channels D. Default: 256.
        base_channels (int): Channels of the first encoder level.
            Default: 32.
        channel_multipliers (Sequence[int], optional): Channel multiplier per
            level (``num_downsamples + 1`` values). Default: None
            (1, 2, 4, ...).
        num_downsamples (int): Stride-2 stages; tokens are
            ``2**num_downsamples`` times smaller than the input. Default: 2.
        num_res_blocks (int): Residual blocks per level. Default: 1.
        norm_cfg (dict): Normalization config.
            Default: ``dict(type='GN', num_groups=8)``.
        act_cfg (dict): Activation config. Default: ``dict(type='SiLU')``.
        share_encoder (bool): One encoder trunk (and projection) for all
            modalities; each modality keeps its own 3×3 stem and decoder
            (and codebook, unless ``share_codebook``). Default: False.
        quantize (bool): Vector-quantize the latents. False: same encoder,
            continuous latents, no codebook (a quantizer-off variant, not
            the paper's ablation (A), which has no LSTG at all:
            configs/ablations/*_no_lstg.py). Default: True.
        share_codebook (bool): One ``VectorQuantizer`` for all modalities:
            their latents are quantized as one batch against one codebook,
            so every token of every modality is a row of it. False: one
            codebook per modality. Needs ``quantize=True``. Default: False.
        num_codes (int): Codebook size K (of each codebook). Default: 512.
        quantizer_cfg (dict, optional): Further ``VectorQuantizer``
            arguments (``use_ema``, ``ema_decay``, ``restart_dead_codes``,
            ``dead_code_threshold``). Default: None.
        loss_vq (dict): Codebook/commitment loss.
            Default: ``dict(type='VQLoss')``.
        loss_recon (dict): Reconstruction loss.
            Default: ``dict(type='ReconstructionLoss')``.
        loss_perceptual (dict, optional): Perceptual loss (needs VGG16
            weights). Default: None.
        loss_adv (dict, optional): ``AdversarialLoss``; its discriminator
            judges all modalities stacked, ``in_channels`` defaults to
            ``sum(modality_channels)``. Default: None.
        with_decoder (bool): Build the decoders and reconstruction losses.
            Default: True.
        frozen_stages (int): Freeze the stems and the first
            ``frozen_stages`` encoder stages (-1: none; the last stage holds
            the projection). Default: -1.
        freeze (bool): Freeze encoders and codebooks and skip the decoders
            (a pretrained LSTG used as a fixed tokenizer). Default: False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint=STAGE1_CKPT, prefix='backbone.')``. Default: None.
    """

    def __init__(self,
                 *,
                 modality_channels: Sequence[int] = (3, 1),
                 modality_names: Optional[Sequence[str]] = None,
                 embed_dims: int = 256,
                 base_channels: int = 32,
                 channel_multipliers: Optional[Sequence[int]] = None,
                 num_downsamples: int = 2,
                 num_res_blocks: int = 1,
                 norm_cfg: dict = dict(type='GN', num_groups=8),
                 act_cfg: dict = dict(type='SiLU'),
                 share_encoder: bool = False,
                 quantize: bool = True,
                 share_codebook: bool = False,
                 num_codes: int = 512,
                 quantizer_cfg: Optional[dict] = None,
                 loss_vq: dict = dict(type='VQLoss'),
                 loss_recon: dict = dict(type='ReconstructionLoss'),
                 loss_perceptual: Optional[dict] = None,
                 loss_adv: Optional[dict] = None,
                 with_decoder: bool = True,
                 frozen_stages: int = -1,
                 freeze: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.modality_channels, self.modality_names = check_modalities(
            'LSTG', modality_channels, modality_names)
        channels = self._level_channels(base_channels, channel_multipliers,
                                        num_downsamples)
        if not -1 <= frozen_stages <= num_downsamples + 1:
            raise ValueError(
                f'LSTG: frozen_stages must be in [-1, {num_downsamples + 1}]'
                f' (num_downsamples + 1 stages), got {frozen_stages}.')
        if share_codebook and not quantize:
            raise ValueError('LSTG: share_codebook=True needs quantize=True '
                             '(without quantization there is no codebook).')
        self.embed_dims = embed_dims
        self.num_downsamples = num_downsamples
        self.share_encoder = share_encoder
        self.quantize = quantize
        self.share_codebook = share_codebook
        self.frozen_stages = frozen_stages
        self.freeze = freeze
        self.with_decoder = with_decoder and not freeze
        if not self.with_decoder and (loss_perceptual or loss_adv):
            raise ValueError(
                'LSTG: loss_perceptual and loss_adv need the decoders, which '
                f'are off (with_decoder={with_decoder}, freeze={freeze}); '
                'set them to None.')

        layer_cfg = dict(
            channels=channels,
            embed_dims=embed_dims,
            num_res_blocks=num_res_blocks,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self._build_encoders(layer_cfg)
        if quantize:
            num_codebooks = (1 if share_codebook else len(
                self.modality_channels))
            self.quantizers = ModuleList(
                VectorQuantizer(
                    num_codes=num_codes,
                    embed_dims=embed_dims,
                    **(quantizer_cfg or {})) for _ in range(num_codebooks))
            self.loss_vq = MODELS.build(loss_vq)
        if self.with_decoder:
            self._build_decoders(layer_cfg, loss_recon, loss_perceptual,
                                 loss_adv)
        self.freeze_frozen_modules()

    def _build_encoders(self, layer_cfg: dict) -> None:
        """Per-modality stems and one (shared) or per-modality trunks."""
        first_channels = layer_cfg['channels'][0]
        self.stems = ModuleList(
            nn.Conv2d(c, first_channels, kernel_size=3, padding=1)
            for c in self.modality_channels)
        num_trunks = 1 if self.share_encoder else len(self.modality_channels)
        self.encoders = ModuleList(
            LSTGEncoder(**layer_cfg) for _ in range(num_trunks))

    def _build_decoders(self, layer_cfg: dict, loss_recon: dict,
                        loss_perceptual: Optional[dict],
                        loss_adv: Optional[dict]) -> None:
        """Per-modality decoders and the losses on their output."""
        self.decoders = ModuleList(
            LSTGDecoder(out_channels=c, **layer_cfg)
            for c in self.modality_channels)
        self.loss_recon = MODELS.build(loss_recon)
        self.loss_perceptual = (
            MODELS.build(loss_perceptual) if loss_perceptual else None)
        self.loss_adv = (
            MODELS.build(self._with_disc_channels(loss_adv))
            if loss_adv else None)

    @staticmethod
    def _level_channels(base_channels: int,
                        channel_multipliers: Optional[Sequence[int]],
                        num_downsamples: int) -> List[int]:
        if num_downsamples < 0:
            raise ValueError('LSTG: num_downsamples must be >= 0, got '
                             f'{num_downsamples}.')
        if channel_multipliers is None:
            channel_multipliers = [2**i for i in range(num_downsamples + 1)]
        if len(channel_multipliers) != num_downsamples + 1:
            raise ValueError(
                'LSTG: channel_multipliers needs num_downsamples + 1 = '
                f'{num_downsamples + 1} values, got '
                f'{tuple(channel_multipliers)}.')
        return [base_channels * m for m in channel_multipliers]

    def _with_disc_channels(self, loss_adv: dict) -> dict:
        loss_adv = copy.deepcopy(loss_adv)
        discriminator = loss_adv.setdefault('discriminator',
                                            dict(type='PatchDiscriminator'))
        discriminator.setdefault('in_channels', sum(self.modality_channels))
        return loss_adv

    def frozen_modules(self) -> List[nn.Module]:
        """Encoders and codebooks with ``freeze``, else the stems and the
        first ``frozen_stages`` encoder stages."""
        if self.freeze:
            modules = [self.stems, self.encoders]
            return modules + ([self.quantizers] if self.quantize else [])
        if self.frozen_stages < 0:
            return []
        return [self.stems] + [
            encoder.stages[i] for encoder in self.encoders
            for i in range(self.frozen_stages)
        ]

    def split_modalities(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """(B, sum(modality_channels), H, W) -> one (B, C_m, H, W) each."""
        return split_modalities('LSTG', inputs, self.modality_channels)

    def _encode(self, index: int, source: Tensor) -> Tensor:
        trunk = self.encoders[0 if self.share_encoder else index]
        return trunk(self.stems[index](source))

    def _tokenize(self, sources: Sequence[Tensor]
                  ) -> Tuple[List[Tensor], List[Optional[QuantizerOutput]]]:
        """Latents and quantizer outputs (None without quantization)."""
        latents = [self._encode(i, x) for i, x in enumerate(sources)]
        if not self.quantize:
            return latents, [None] * len(latents)
        if self.share_codebook:
            return latents, self.quantizers[0].quantize_jointly(latents)
        return latents, [q(z) for q, z in zip(self.quantizers, latents)]

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Tokens per modality.

        Args:
            inputs (Tensor): (B, sum(modality_channels), H, W), normalized.

        Returns:
            tuple[Tensor]: per modality (B, embed_dims, H / 2**n, W / 2**n).
        """
        latents, quantized = self._tokenize(self.split_modalities(inputs))
        return self._tokens(latents, quantized)

    @staticmethod
    def _tokens(latents, quantized) -> Tuple[Tensor, ...]:
        return tuple(z if q is None else q.quantized
                     for z, q in zip(latents, quantized))

    def decode(self, tokens: Sequence[Tensor],
               size: Sequence[int]) -> Tuple[Tensor, ...]:
        """Reconstruct each modality from its tokens.

        Args:
            tokens (Sequence[Tensor]): per modality (B, embed_dims, h, w).
            size (Sequence[int]): (H, W) of the input.

        Returns:
            tuple[Tensor]: per modality (B, C_m, H, W), normalized space.
        """
        if not self.with_decoder:
            raise RuntimeError('LSTG: decoding needs with_decoder=True and '
                               'freeze=False.')
        outputs = []
        for decoder, token in zip(self.decoders, tokens):
            image = decoder(token)
            if tuple(image.shape[-2:]) != tuple(size):
                image = resize(image, size=tuple(size), mode='bilinear')
            outputs.append(image)
        return tuple(outputs)

    def reconstruct(self, inputs: Tensor) -> Tensor:
        """Encode, quantize and decode the stacked input.

        Args:
            inputs (Tensor): (B, sum(modality_channels), H, W), normalized.

        Returns:
            Tensor: (B, sum(modality_channels), H, W) reconstruction.
        """
        tokens = self.forward(inputs)
        return torch.cat(self.decode(tokens, inputs.shape[-2:]), dim=1)

    def loss(self, inputs: Tensor
             ) -> Tuple[Tuple[Tensor, ...], Dict[str, Tensor]]:
        """Tokens plus the LSTG training losses.

        Args:
            inputs (Tensor): (B, sum(modality_channels), H, W), normalized;
                also the reconstruction target.

        Returns:
            tuple: the tokens (as :meth:`forward`) and a dict of losses
            (keys ``loss_*``, summed over modalities) and logged statistics
            (``perplexity_<name>``, ``code_usage_<name>``).
        """
        sources = self.split_modalities(inputs)
        latents, quantized = self._tokenize(sources)
        tokens = self._tokens(latents, quantized)
        losses = self._codebook_losses(latents, quantized)
        if self.with_decoder:
            reconstructions = self.decode(tokens, inputs.shape[-2:])
            losses.update(
                self._reconstruction_losses(inputs, sources,
                                            reconstructions))
        return tokens, losses

    def _codebook_losses(self, latents, quantized) -> Dict[str, Tensor]:
        if not self.quantize:
            return {}
        losses = {}
        for name, q in zip(self.modality_names, quantized):
            losses[f'perplexity_{name}'] = q.perplexity
            losses[f'code_usage_{name}'] = q.usage
        if not self.freeze:
            losses[self.loss_vq.loss_name] = sum(
                self.loss_vq(z, q.codes) for z, q in zip(latents, quantized))
        return losses

    def _reconstruction_losses(self, inputs: Tensor,
                               sources: Sequence[Tensor],
                               reconstructions: Sequence[Tensor]
                               ) -> Dict[str, Tensor]:
        pairs = list(zip(reconstructions, sources))
        losses = {
            self.loss_recon.loss_name:
            sum(self.loss_recon(pred, target) for pred, target in pairs)
        }
        if self.loss_perceptual is not None:
            losses[self.loss_perceptual.loss_name] = sum(
                self.loss_perceptual(pred, target) for pred, target in pairs)
        if self.loss_adv is not None:
            losses.update(
                self.loss_adv(inputs, torch.cat(reconstructions, dim=1)))
        return losses
