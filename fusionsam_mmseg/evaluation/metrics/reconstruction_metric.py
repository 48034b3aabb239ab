"""PSNR / SSIM of reconstructed images (stage-1 LSTG evaluation)."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS
from torch import Tensor


def psnr(pred: Tensor, target: Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1].

    Args:
        pred (Tensor): (C, H, W) in [0, 1].
        target (Tensor): (C, H, W) in [0, 1].

    Returns:
        float: PSNR, capped at 100 dB for identical images.
    """
    mse = F.mse_loss(pred, target).clamp(min=1e-10)
    return float(-10.0 * torch.log10(mse))


def ssim(pred: Tensor,
         target: Tensor,
         window_size: int = 11,
         sigma: float = 1.5) -> float:
    """Structural similarity (Wang et al. 2004) of images in [0, 1].

    Gaussian window, constants K1=0.01, K2=0.03, valid region only,
    averaged over channels and positions.

    Args:
        pred (Tensor): (C, H, W) in [0, 1].
        target (Tensor): (C, H, W) in [0, 1].
        window_size (int): Gaussian window side, shrunk (to odd) for
            images smaller than it. Default: 11.
        sigma (float): Gaussian standard deviation. Default: 1.5.

    Returns:
        float: mean SSIM.
    """
    channels, height, width = pred.shape
    size = min(window_size, height, width)
    size -= 1 - size % 2
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    gauss = torch.exp(-coords**2 / (2 * sigma**2))
    gauss = gauss / gauss.sum()
    window = (gauss[:, None] * gauss[None, :]).expand(channels, 1, size, size)
    x, y = pred[None].double(), target[None].double()

    def blur(image: Tensor) -> Tensor:
        return F.conv2d(image, window, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2) /
                ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)))
    return float(ssim_map.mean())


@METRICS.register_module()
class ReconstructionMetric(BaseMetric):
    """PSNR and SSIM between ``pred_reconstruction`` and the input images.

    The target is the image the model saw, before normalization:
    ``data_batch['inputs'][i] / 255`` (uint8, after the test pipeline). Each
    modality (split by the sample's ``modality_channels`` metainfo, or the
    ``modality_channels`` argument) is scored separately per image; the
    results are ``PSNR`` / ``SSIM`` (mean over modalities) and
    ``PSNR_<name>`` / ``SSIM_<name>`` per modality.

    Args:
        modality_channels (Sequence[int], optional): Used when the samples
            carry no ``modality_channels``; None: the whole image is one
            modality. Default: None.
        modality_names (Sequence[str], optional): Names for the per-modality
            keys. Default: None (``m0``, ``m1``, ...).
        collect_device (str): 'cpu' or 'gpu'. Default: 'cpu'.
        prefix (str, optional): Prefix of the metric names. Default: None.
    """

    def __init__(self,
                 modality_channels: Optional[Sequence[int]] = None,
                 modality_names: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.modality_channels = (
            tuple(modality_channels) if modality_channels else None)
        self.modality_names = (
            tuple(modality_names) if modality_names else None)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Score one batch of reconstructions.

        Args:
            data_batch (dict): The dataloader batch; ``inputs`` holds the
                (C, H, W) uint8 images.
            data_samples (Sequence[dict]): Model predictions with
                ``pred_reconstruction['data']`` (C, H, W) in [0, 1].
        """
        for image, sample in zip(data_batch['inputs'], data_samples):
            target = image.float().cpu() / 255.0
            pred = sample['pred_reconstruction']['data'].float().cpu()
            if pred.shape != target.shape:
                raise ValueError(
                    'ReconstructionMetric: pred_reconstruction has shape '
                    f'{tuple(pred.shape)} but the input image '
                    f"{sample.get('img_path', '')} has {tuple(target.shape)}.")
            channels = self._channels_of(sample, target.shape[0])
            pairs = zip(
                torch.split(pred, channels), torch.split(target, channels))
            scores = [(psnr(p, t), ssim(p, t)) for p, t in pairs]
            self.results.append(np.asarray(scores))

    def _channels_of(self, sample: dict, num_channels: int) -> List[int]:
        channels = sample.get('modality_channels', self.modality_channels)
        channels = list(channels) if channels else [num_channels]
        if sum(channels) != num_channels:
            raise ValueError(
                f'ReconstructionMetric: modality_channels={tuple(channels)} '
                f'sums to {sum(channels)} but the image has {num_channels} '
                'channels.')
        return channels

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Average the per-image scores.

        Args:
            results (list[np.ndarray]): per image (num_modalities, 2) arrays
                of (PSNR, SSIM).

        Returns:
            dict[str, float]: PSNR, SSIM and per-modality values.
        """
        scores = np.stack(results).mean(axis=0)
        names = self.modality_names or tuple(
            f'm{i}' for i in range(len(scores)))
        if len(names) != len(scores):
            raise ValueError(
                f'ReconstructionMetric: modality_names={names} does not '
                f'match the {len(scores)} modalities of the predictions.')
        metrics = {
            'PSNR': round(float(scores[:, 0].mean()), 4),
            'SSIM': round(float(scores[:, 1].mean()), 4)
        }
        for name, (psnr_value, ssim_value) in zip(names, scores):
            metrics[f'PSNR_{name}'] = round(float(psnr_value), 4)
            metrics[f'SSIM_{name}'] = round(float(ssim_value), 4)
        return metrics
