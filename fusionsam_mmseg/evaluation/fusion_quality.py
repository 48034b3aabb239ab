"""Fusion-quality metrics of infrared-visible image fusion (DESIGN §4).

:func:`fusion_quality` scores a fused image F against its visible (A) and
infrared (B) sources, all (H, W) grey arrays on 0..255, with the field's
definitions (VIFB's MATLAB code and its Python ports, e.g. the evaluator of
MMIF-CDDFuse):

========  ===============================================================
EN        Shannon entropy (bits) of the 256-bin histogram of round(F).
SD        Population standard deviation of F.
SF        sqrt(mean(dF_x ** 2) + mean(dF_y ** 2)), dF = differences of
          neighbouring pixels along rows (x) and columns (y).
AG        mean(sqrt((gx ** 2 + gy ** 2) / 2)), gx, gy central differences
          (one-sided at the borders, ``numpy.gradient``).
MI        MI(A, F) + MI(B, F) in bits, 256 x 256 joint histograms of the
          rounded images.
SCD       corr(F - B, A) + corr(F - A, B), Pearson over all pixels (0 for
          a constant image, whose correlation is undefined).
VIF       vifp(A, F) + vifp(B, F): pixel-domain VIF (torchmetrics), 4
          scales, Gaussian window N = 2 ** (5 - s) + 1, sigma = N / 5,
          noise variance 2, 'valid' filtering, downsampling by 2 (1.0 for
          a flat reference, as the reference code); needs both sides
          >= 41 pixels.
Qabf      Xydeas-Petrovic edge preservation with 'same' Sobel convolution,
          as the reference code (G = g_F where the strengths are equal).
SSIM      SSIM(F, A) + SSIM(F, B): torchmetrics, Gaussian window 11,
          sigma 1.5, K1 = 0.01, K2 = 0.03, data range 255; the SSIM map
          of the image reflect-padded by 5 pixels, averaged over every
          pixel (torchmetrics' border convention).
MS-SSIM   MS-SSIM(F, A) + MS-SSIM(F, B): torchmetrics with the same
          window and constants, Wang et al.'s 5 scale weights (0.0448,
          0.2856, 0.3001, 0.2363, 0.1333), 2 x 2 mean downsampling, no
          normalisation; contrast-structure means inside the 5-pixel
          border, the last scale's SSIM mean over the whole map; needs
          both sides >= 176 pixels.
========  ===============================================================

EN, SD, SF and AG read F only. The formulas of this module run in
float64, the torchmetrics ones (VIF, SSIM, MS-SSIM) in float32.
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torchmetrics.functional.image import (
    multiscale_structural_similarity_index_measure,
    structural_similarity_index_measure, visual_information_fidelity)

FUSION_METRICS = ('EN', 'SD', 'SF', 'AG', 'MI', 'SCD', 'VIF', 'Qabf', 'SSIM',
                  'MS-SSIM')
GREY_LEVELS = 256
DATA_RANGE = 255.0
SSIM_WINDOW = dict(gaussian_kernel=True, sigma=1.5, kernel_size=11, k1=0.01,
                   k2=0.03)
MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: MS-SSIM's smallest side: at the 5th scale (1/16) the 11-pixel window must
#: fit with room to spare (torchmetrics' check).
MS_SSIM_MIN_SIDE = 16 * 11
VIF_NOISE_VARIANCE = 2.0
# Xydeas-Petrovic sigmoid constants: (Tg, kg, Dg) for the edge strength,
# (Ta, ka, Da) for the orientation.
QABF_STRENGTH = (0.9994, -15.0, 0.5)
QABF_ORIENTATION = (0.9879, -22.0, 0.8)
SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
SOBEL_Y = ((1.0, 2.0, 1.0), (0.0, 0.0, 0.0), (-1.0, -2.0, -1.0))


def _as_image(array: np.ndarray, name: str) -> np.ndarray:
    """(H, W) float64 copy of a grey image on 0..255 (checked)."""
    image = np.asarray(array)
    if image.ndim != 2:
        raise ValueError(f'fusion_quality: {name} has shape {image.shape}; '
                         'expected an (H, W) grey image on 0..255.')
    image = image.astype(np.float64)
    if not np.isfinite(image).all() or image.min() < 0 or (
            image.max() > DATA_RANGE):
        raise ValueError(
            f'fusion_quality: {name} has values outside 0..255 (min '
            f'{image.min()}, max {image.max()}); expected a grey image on '
            '0..255 (scale [0, 1] images by 255).')
    return image


def _grey_levels(image: np.ndarray) -> np.ndarray:
    """Integer grey levels 0..255 (rounded)."""
    return np.round(image).astype(np.int64)


def _bits(probabilities: np.ndarray) -> np.ndarray:
    """-p * log2(p) of the non-zero probabilities."""
    present = probabilities[probabilities > 0]
    return -present * np.log2(present)


def entropy(fused: np.ndarray) -> float:
    """EN: entropy in bits of the histogram of the rounded image."""
    counts = np.bincount(_grey_levels(fused).ravel(), minlength=GREY_LEVELS)
    return float(_bits(counts / fused.size).sum())


def standard_deviation(fused: np.ndarray) -> float:
    """SD: population standard deviation."""
    return float(fused.std())


def spatial_frequency(fused: np.ndarray) -> float:
    """SF: root of the mean squared row plus column differences."""
    row_frequency = np.square(np.diff(fused, axis=1)).mean()
    column_frequency = np.square(np.diff(fused, axis=0)).mean()
    return float(np.sqrt(row_frequency + column_frequency))


def average_gradient(fused: np.ndarray) -> float:
    """AG from central differences (one-sided at the borders)."""
    gy, gx = np.gradient(fused)
    return float(np.sqrt((gx**2 + gy**2) / 2).mean())


def _mutual_information(source: np.ndarray, fused: np.ndarray) -> float:
    """MI(source, fused) in bits from the 256 x 256 joint histogram."""
    pairs = _grey_levels(source) * GREY_LEVELS + _grey_levels(fused)
    joint = np.bincount(
        pairs.ravel(), minlength=GREY_LEVELS**2).reshape(
            GREY_LEVELS, GREY_LEVELS) / pairs.size
    marginals = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    present = joint > 0
    return float((joint[present] *
                  np.log2(joint[present] / marginals[present])).sum())


def mutual_information(fused: np.ndarray, visible: np.ndarray,
                       infrared: np.ndarray) -> float:
    """MI: MI(A, F) + MI(B, F) in bits."""
    return (_mutual_information(visible, fused) +
            _mutual_information(infrared, fused))


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation over all pixels; 0 when either is constant."""
    x, y = x - x.mean(), y - y.mean()
    norm = np.sqrt((x**2).sum() * (y**2).sum())
    return float((x * y).sum() / norm) if norm > 0 else 0.0


def sum_of_correlation_differences(fused: np.ndarray, visible: np.ndarray,
                                   infrared: np.ndarray) -> float:
    """SCD: corr(F - B, A) + corr(F - A, B)."""
    return (_correlation(fused - infrared, visible) +
            _correlation(fused - visible, infrared))


def _batch(image: np.ndarray) -> torch.Tensor:
    """(1, 1, H, W) float32: torchmetrics' float64 convolutions are ~10x
    slower on CPUs, and 0..255 grey levels are exact in float32."""
    return torch.from_numpy(image.astype(np.float32))[None, None]


def _vifp(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Pixel-domain VIF of ``distorted`` against ``reference``
    (torchmetrics); 1.0 for a flat reference, as the reference code."""
    value = float(visual_information_fidelity(
        _batch(distorted), _batch(reference),
        sigma_n_sq=VIF_NOISE_VARIANCE))
    return 1.0 if math.isnan(value) else value


def visual_information_fidelity_sum(fused: np.ndarray, visible: np.ndarray,
                                    infrared: np.ndarray) -> float:
    """VIF: vifp(A, F) + vifp(B, F)."""
    return _vifp(visible, fused) + _vifp(infrared, fused)


def _sobel(image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Edge strength and orientation ('same' Sobel convolution, zero
    padding)."""
    gradients = []
    for kernel in (SOBEL_X, SOBEL_Y):
        # cv2.filter2D correlates; a convolution correlates with the
        # flipped kernel.
        flipped = np.array(kernel, dtype=np.float64)[::-1, ::-1]
        gradients.append(cv2.filter2D(image, cv2.CV_64F, flipped,
                                      borderType=cv2.BORDER_CONSTANT))
    gx, gy = gradients
    strength = np.sqrt(gx**2 + gy**2)
    orientation = np.full_like(gx, math.pi / 2)
    nonzero = gx != 0
    orientation[nonzero] = np.arctan(gy[nonzero] / gx[nonzero])
    return strength, orientation


def _sigmoid(values: np.ndarray,
             constants: Tuple[float, float, float]) -> np.ndarray:
    top, slope, centre = constants
    return top / (1 + np.exp(slope * (values - centre)))


def _edge_preservation(source: Tuple[np.ndarray, np.ndarray],
                       fused: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Q_SF per pixel from (strength, orientation) of source and fused."""
    (g_src, a_src), (g_fused, a_fused) = source, fused
    larger = np.maximum(g_src, g_fused)
    strength = g_fused.copy()
    differ = g_src != g_fused
    strength[differ] = (np.minimum(g_src, g_fused)[differ] / larger[differ])
    orientation = 1 - np.abs(a_src - a_fused) / (math.pi / 2)
    return (_sigmoid(strength, QABF_STRENGTH) *
            _sigmoid(orientation, QABF_ORIENTATION))


def qabf(fused: np.ndarray, visible: np.ndarray,
         infrared: np.ndarray) -> float:
    """Qabf: source-strength-weighted edge preservation (NaN when both
    sources are flat)."""
    edges_a, edges_b, edges_f = (_sobel(visible), _sobel(infrared),
                                 _sobel(fused))
    q_af = _edge_preservation(edges_a, edges_f)
    q_bf = _edge_preservation(edges_b, edges_f)
    weight_a, weight_b = edges_a[0], edges_b[0]
    denominator = (weight_a + weight_b).sum()
    if denominator == 0:
        return math.nan
    return float((q_af * weight_a + q_bf * weight_b).sum() / denominator)


def ssim(fused: np.ndarray, visible: np.ndarray,
         infrared: np.ndarray) -> float:
    """SSIM(F, A) + SSIM(F, B) (torchmetrics, parameters in the module
    docstring)."""
    return float(sum(
        structural_similarity_index_measure(
            _batch(fused), _batch(source), data_range=DATA_RANGE,
            **SSIM_WINDOW) for source in (visible, infrared)))


def ms_ssim(fused: np.ndarray, visible: np.ndarray,
            infrared: np.ndarray) -> float:
    """MS-SSIM(F, A) + MS-SSIM(F, B) (torchmetrics, parameters in the
    module docstring)."""
    if min(fused.shape) < MS_SSIM_MIN_SIDE:
        raise ValueError(
            f'fusion_quality: MS-SSIM needs images of at least '
            f'{MS_SSIM_MIN_SIDE} x {MS_SSIM_MIN_SIDE} pixels (5 scales of an '
            f'11-pixel window); got {fused.shape}. Leave MS-SSIM out '
            'for smaller images (`metrics` here, `fusion_metrics` of '
            'FusionQualityMetric).')
    return float(sum(
        multiscale_structural_similarity_index_measure(
            _batch(fused), _batch(source), data_range=DATA_RANGE,
            betas=MS_SSIM_BETAS, normalize=None, **SSIM_WINDOW)
        for source in (visible, infrared)))


_FUSED_ONLY = {
    'EN': entropy,
    'SD': standard_deviation,
    'SF': spatial_frequency,
    'AG': average_gradient,
}
_WITH_SOURCES = {
    'MI': mutual_information,
    'SCD': sum_of_correlation_differences,
    'VIF': visual_information_fidelity_sum,
    'Qabf': qabf,
    'SSIM': ssim,
    'MS-SSIM': ms_ssim,
}


def check_metric_names(metrics: Sequence[str]) -> Tuple[str, ...]:
    """Return ``metrics`` as a tuple after checking every name is known."""
    unknown = [name for name in metrics if name not in FUSION_METRICS]
    if unknown or not metrics:
        raise ValueError(f'fusion_quality: metrics {list(metrics)} must be a '
                         f'non-empty subset of {list(FUSION_METRICS)}.')
    return tuple(metrics)


def fusion_quality(fused: np.ndarray,
                   visible: np.ndarray,
                   infrared: np.ndarray,
                   metrics: Optional[Sequence[str]] = None
                   ) -> Dict[str, float]:
    """Score a fused image against its sources.

    Args:
        fused (np.ndarray): (H, W) fused grey image (luminance Y) on 0..255,
            integer or float.
        visible (np.ndarray): (H, W) visible source (luminance Y), 0..255.
        infrared (np.ndarray): (H, W) infrared source, 0..255.
        metrics (Sequence[str], optional): Which of :data:`FUSION_METRICS`
            to compute; None computes all ten. Default: None.

    Returns:
        dict[str, float]: One value per requested metric, in
        :data:`FUSION_METRICS` order.
    """
    names = check_metric_names(FUSION_METRICS if metrics is None else metrics)
    images = [_as_image(array, name) for array, name in (
        (fused, 'fused'), (visible, 'visible'), (infrared, 'infrared'))]
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        raise ValueError(
            'fusion_quality: fused, visible and infrared have shapes '
            f'{[image.shape for image in images]}; expected three '
            '(H, W) images of the same size.')
    scores = {}
    for name in FUSION_METRICS:
        if name not in names:
            continue
        if name in _FUSED_ONLY:
            scores[name] = _FUSED_ONLY[name](images[0])
        else:
            scores[name] = _WITH_SOURCES[name](*images)
    return scores
