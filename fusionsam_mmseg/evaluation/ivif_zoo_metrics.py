"""The metrics on which the SAGE authors' evaluator departs from the
MATLAB definitions (``convention='ivif_zoo'`` of :func:`fusion_quality`).

RollingPlain/IVIF_ZOO ``Metric/`` (``eval_torch.py``, ``Metric_torch.py``,
``ssim.py``) printed the numbers of SAGE's tables and of the IVIF_ZOO
survey. Four of its metrics are its own; this module computes them as that
code does, written from a reading of it:

========  ===============================================================
VIF       vifp(A, F) + vifp(B, F) over 4 scales with its Gaussian window:
          N points evenly spaced from floor(-N / 2) to floor(N / 2)
          (N = 17, 9, 5, 3; not centred, spacing N / (N - 1)), sigma =
          N / 5, correlated ('same', zero padding, kernel not flipped);
          the scale step filters with the same window then keeps every
          second row and column; sigma_n ** 2 = 2; NaN for a flat
          reference (0 / 0, as there).
SSIM      SSIM(F, A) + SSIM(F, B), Gaussian window 11 (sigma 1.5,
          separable, columns then rows), 'valid' filtering, the mean of
          the SSIM map; the images are multiplied by 255 while the
          constants stay (0.01 * 255) ** 2 and (0.03 * 255) ** 2, so the
          constants act 255 ** 2 times smaller than in Wang et al.
MS-SSIM   the same SSIM, 5 scales with weights (0.0448, 0.2856, 0.3001,
          0.2363, 0.1333); contrast-structure means (clipped at 0) of the
          first four, the SSIM of the fifth; 2 x 2 average pooling,
          zero-padded by one pixel on both sides of an odd side, zeros
          counted; needs both sides > 160 pixels.
PSNR      20 log10(255 / sqrt(MSE)) with MSE = (MSE(F, A) + MSE(F, B)) / 2
          of images scaled to [0, 1]: 20 log10(255) = 48.13 dB above the
          MATLAB PSNR of the same images.
========  ===============================================================

They are written out here because no library computes them this way
(torchmetrics' SSIM reflect-pads, its MS-SSIM drops odd rows and columns,
its VIF filters 'valid' with a centred window). SSIM and MS-SSIM run in
float32 with the reference's operations in its order: the variances of
its 0..65025 images carry float32 rounding that, in flat regions, is not
small beside its constants (on the released SAGE pairs float64 moves SSIM
by up to 2.3e-4 relative; float32 agrees within 5e-8). VIF runs in
float64 (OpenCV filtering, 50x faster than its 17 x 17 float32 ``conv2d``
here), within 6.2e-5 of the reference on those pairs.
"""
import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

SSIM_CONSTANTS = ((0.01 * 255)**2, (0.03 * 255)**2)
SSIM_SCALE = 255.0  # what the reference multiplies the 0..255 images by
SSIM_WINDOW, SSIM_SIGMA = 11, 1.5
MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: The reference asserts min(H, W) > (11 - 1) * 2 ** 4.
MS_SSIM_MIN_SIDE = (SSIM_WINDOW - 1) * 2**4 + 1
VIF_NOISE_VARIANCE = 2.0
VIF_EPSILON = 1e-10


def vif_window(size: int) -> np.ndarray:
    """(size, size) window of the reference's ``fspecial_gaussian``
    (``torch.linspace(-size // 2, size // 2, size)``, sigma = size / 5)."""
    coords = np.linspace((-size) // 2, size // 2, size)
    window = np.exp(-(coords[:, None]**2 + coords[None, :]**2) /
                    (2 * (size / 5)**2))
    return window / window.sum()


def _filter_same(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """(H, W) correlation with ``window`` (not flipped, as ``F.conv2d``),
    zero-padded to the same size."""
    return cv2.filter2D(image, cv2.CV_64F, window,
                        borderType=cv2.BORDER_CONSTANT)


def _vifp(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Pixel-domain VIF of ``distorted`` against ``reference``."""
    numerator = denominator = 0.0
    for scale in range(1, 5):
        window = vif_window(2**(5 - scale) + 1)
        if scale > 1:
            reference = _filter_same(reference, window)[::2, ::2]
            distorted = _filter_same(distorted, window)[::2, ::2]
        mu1 = _filter_same(reference, window)
        mu2 = _filter_same(distorted, window)
        var1 = np.maximum(
            _filter_same(reference * reference, window) - mu1 * mu1, 0)
        var2 = np.maximum(
            _filter_same(distorted * distorted, window) - mu2 * mu2, 0)
        covariance = _filter_same(reference * distorted, window) - mu1 * mu2
        gain = covariance / (var1 + VIF_EPSILON)
        noise = var2 - gain * covariance
        flat_reference = var1 < VIF_EPSILON
        gain[flat_reference] = 0
        noise[flat_reference] = var2[flat_reference]
        var1[flat_reference] = 0
        flat_distorted = var2 < VIF_EPSILON
        gain[flat_distorted] = 0
        noise[flat_distorted] = 0
        negative = gain < 0
        noise[negative] = var2[negative]
        gain[negative] = 0
        noise[noise <= VIF_EPSILON] = VIF_EPSILON
        numerator += np.log10(
            1 + gain**2 * var1 / (noise + VIF_NOISE_VARIANCE)).sum()
        denominator += np.log10(1 + var1 / VIF_NOISE_VARIANCE).sum()
    with np.errstate(invalid='ignore'):
        return float(numerator / denominator)


def vif(fused: np.ndarray, visible: np.ndarray, infrared: np.ndarray) -> float:
    """VIF: vifp(A, F) + vifp(B, F) (module docstring)."""
    return _vifp(visible, fused) + _vifp(infrared, fused)


def _ssim_window() -> Tensor:
    """(11,) float32 Gaussian, sigma 1.5, normalised."""
    coords = torch.arange(SSIM_WINDOW, dtype=torch.float32) - SSIM_WINDOW // 2
    window = torch.exp(-coords**2 / (2 * SSIM_SIGMA**2))
    return window / window.sum()


def _filter_valid(image: Tensor, window: Tensor) -> Tensor:
    """(1, 1, H, W) -> 'valid' separable filtering, columns then rows."""
    image = F.conv2d(image, window.view(1, 1, -1, 1))
    return F.conv2d(image, window.view(1, 1, 1, -1))


def _ssim_means(x: Tensor, y: Tensor, window: Tensor):
    """Means of the SSIM map and of the contrast-structure map of two
    (1, 1, H, W) images scaled by 255."""
    c1, c2 = SSIM_CONSTANTS
    mu1, mu2 = _filter_valid(x, window), _filter_valid(y, window)
    mu1_sq, mu2_sq, mu1_mu2 = mu1.pow(2), mu2.pow(2), mu1 * mu2
    var1 = _filter_valid(x * x, window) - mu1_sq
    var2 = _filter_valid(y * y, window) - mu2_sq
    covariance = _filter_valid(x * y, window) - mu1_mu2
    contrast_structure = (2 * covariance + c2) / (var1 + var2 + c2)
    ssim_map = (2 * mu1_mu2 + c1) / (mu1_sq + mu2_sq + c1) * \
        contrast_structure
    return ssim_map.mean(), contrast_structure.mean()


def _scaled(image: np.ndarray) -> Tensor:
    """(1, 1, H, W) float32 image times 255, as the reference feeds it."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    return torch.from_numpy(image)[None, None] * SSIM_SCALE


def ssim(fused: np.ndarray, visible: np.ndarray,
         infrared: np.ndarray) -> float:
    """SSIM(F, A) + SSIM(F, B) (module docstring)."""
    window, fused_image = _ssim_window(), _scaled(fused)
    return sum(float(_ssim_means(_scaled(source), fused_image, window)[0])
               for source in (visible, infrared))


def _ms_ssim_pair(x: Tensor, y: Tensor, window: Tensor) -> Tensor:
    """MS-SSIM of two (1, 1, H, W) images scaled by 255."""
    factors = []
    for level in range(len(MS_SSIM_BETAS)):
        ssim_mean, contrast_structure = _ssim_means(x, y, window)
        if level == len(MS_SSIM_BETAS) - 1:
            factors.append(F.relu(ssim_mean))
            break
        factors.append(F.relu(contrast_structure))
        padding = [side % 2 for side in x.shape[2:]]
        x = F.avg_pool2d(x, kernel_size=2, padding=padding)
        y = F.avg_pool2d(y, kernel_size=2, padding=padding)
    betas = torch.tensor(MS_SSIM_BETAS, dtype=x.dtype)
    return torch.prod(torch.stack(factors)**betas)


def ms_ssim(fused: np.ndarray, visible: np.ndarray,
            infrared: np.ndarray) -> float:
    """MS-SSIM(F, A) + MS-SSIM(F, B) (module docstring)."""
    if min(fused.shape) < MS_SSIM_MIN_SIDE:
        raise ValueError(
            f"fusion_quality: MS-SSIM (convention 'ivif_zoo') needs images "
            f'of at least {MS_SSIM_MIN_SIDE} x {MS_SSIM_MIN_SIDE} pixels '
            f'(5 scales of an 11-pixel window); got {fused.shape}. Leave '
            'MS-SSIM out for smaller images (`metrics` here, '
            '`fusion_metrics` of FusionQualityMetric).')
    window, fused_image = _ssim_window(), _scaled(fused)
    return sum(float(_ms_ssim_pair(_scaled(source), fused_image, window))
               for source in (visible, infrared))


def psnr(fused: np.ndarray, visible: np.ndarray,
         infrared: np.ndarray) -> float:
    """PSNR with peak 255 over images scaled to [0, 1] (module docstring);
    inf when F equals both sources."""
    mse = np.mean([np.mean(((fused - source) / 255.0)**2)
                   for source in (visible, infrared)])
    return math.inf if mse == 0 else float(
        20 * math.log10(255.0 / math.sqrt(mse)))
