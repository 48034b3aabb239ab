"""Fusion-quality metrics of infrared-visible image fusion.

:func:`fusion_quality` scores a fused image F against its visible (A) and
infrared (B) sources, all (H, W) grey arrays on 0..255, under one of two
conventions (:data:`CONVENTIONS`; docs/fusion_metrics.md has the table):

- ``'ivif_zoo'`` (the default): the SAGE authors' evaluator
  (RollingPlain/IVIF_ZOO ``Metric/``), whose numbers SAGE's tables print;
  its VIF, SSIM, MS-SSIM and PSNR are in :mod:`.ivif_zoo_metrics`.
- ``'matlab'``: the MATLAB definitions of docs/fusion_metrics.md (VIFB's
  MATLAB code, Sheikh's vifp, Wang's SSIM / MS-SSIM through torchmetrics).

The other nine metrics are the same in both:

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
CC        (corr(A, F) + corr(B, F)) / 2, the same Pearson correlation.
Qabf      Xydeas-Petrovic edge preservation with 'same' Sobel convolution,
          as the reference code (G = g_F where the strengths are equal).
Nabf      Kumar's modified fusion-artefact measure (his MATLAB
          ``objective_fusion_perform_fn``, ported by IVIF_ZOO): Sobel / 8
          on the image mirrored by one pixel, weights g ** 1.5 where a
          source's strength g >= 2, artefacts where g_F exceeds both
          sources' strengths (module :func:`nabf`).
========  ===============================================================

and under ``'matlab'``:

========  ===============================================================
VIF       vifp(A, F) + vifp(B, F): pixel-domain VIF (torchmetrics), 4
          scales, Gaussian window N = 2 ** (5 - s) + 1, sigma = N / 5,
          noise variance 2, 'valid' filtering, downsampling by 2 (1.0 for
          a flat reference, as the reference code); needs both sides
          >= 41 pixels.
SSIM      SSIM(F, A) + SSIM(F, B): torchmetrics, Gaussian window 11,
          sigma 1.5, K1 = 0.01, K2 = 0.03, data range 255; the SSIM map
          of the image reflect-padded by 5 pixels, averaged over every
          pixel (torchmetrics' border convention).
MS-SSIM   MS-SSIM(F, A) + MS-SSIM(F, B): torchmetrics with the same
          window and constants, Wang et al.'s 5 scale weights, 2 x 2 mean
          downsampling, no normalisation; contrast-structure means inside
          the 5-pixel border, the last scale's SSIM mean over the whole
          map; needs both sides >= 176 pixels.
PSNR      10 log10(255 ** 2 / MSE), MSE = (MSE(F, A) + MSE(F, B)) / 2 on
          0..255 (VIFB's ``metricsPsnr``).
========  ===============================================================

EN, SD, SF and AG read F only. The formulas of this module run in
float64, the torchmetrics ones in float32, the IVIF_ZOO ones as their
module says. :func:`to_grey` turns an RGB image into the grey levels each
convention scores.
"""
import math
from typing import Callable, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from PIL import Image

from . import ivif_zoo_metrics

FUSION_METRICS = ('EN', 'SD', 'SF', 'AG', 'MI', 'SCD', 'VIF', 'Qabf', 'SSIM',
                  'MS-SSIM', 'CC', 'PSNR', 'Nabf')
CONVENTIONS = ('ivif_zoo', 'matlab')
#: The SAGE authors' evaluator: its numbers are the published ones.
DEFAULT_CONVENTION = 'ivif_zoo'
GREY_LEVELS = 256
DATA_RANGE = 255.0
#: MATLAB's rgb2gray: the first row of the inverse NTSC (YIQ) matrix.
MATLAB_GREY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
SSIM_WINDOW = dict(gaussian_kernel=True, sigma=1.5, kernel_size=11, k1=0.01,
                   k2=0.03)
MS_SSIM_BETAS = ivif_zoo_metrics.MS_SSIM_BETAS
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
# Kumar's Nabf: (Nrg, kg, sigma_g), (Nra, ka, sigma_a), threshold Td,
# weight exponent Lg; Sobel kernels / 8 (x: vertical edges, y: horizontal).
NABF_STRENGTH = (0.9999, -19.0, 0.5)
NABF_ORIENTATION = (0.9995, -22.0, 0.5)
NABF_THRESHOLD = 2.0
NABF_WEIGHT_EXPONENT = 1.5
NABF_SOBEL_X = tuple(tuple(v / 8 for v in row) for row in SOBEL_X)
NABF_SOBEL_Y = tuple(tuple(-v / 8 for v in row) for row in SOBEL_Y)


def check_convention(convention: str) -> str:
    """Return ``convention`` after checking it is one of
    :data:`CONVENTIONS`."""
    if convention not in CONVENTIONS:
        raise ValueError(f'fusion_quality: convention={convention!r}; '
                         f'expected one of {list(CONVENTIONS)}.')
    return convention


def to_grey(image: np.ndarray, convention: str = DEFAULT_CONVENTION
            ) -> np.ndarray:
    """8-bit image -> (H, W) uint8 grey levels as ``convention`` reads it.

    Args:
        image (np.ndarray): (H, W) grey (returned as is) or (H, W, 3) RGB,
            uint8.
        convention (str): ``'ivif_zoo'``: PIL's ``convert('L')`` (ITU-R
            601-2 luma in 16-bit fixed point), as ``eval_torch.py`` reads
            every file; ``'matlab'``: MATLAB's ``rgb2gray`` (rounded).

    Returns:
        np.ndarray: (H, W) uint8.
    """
    check_convention(convention)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (
            image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(
            f'to_grey: image of shape {image.shape} and dtype {image.dtype};'
            ' expected an 8-bit (H, W) grey or (H, W, 3) RGB image.')
    if image.ndim == 2:
        return image
    if convention == 'ivif_zoo':
        return np.asarray(Image.fromarray(image).convert('L'))
    grey = image.astype(np.float64) @ np.array(MATLAB_GREY)
    return np.floor(grey + 0.5).astype(np.uint8)


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


def correlation_coefficient(fused: np.ndarray, visible: np.ndarray,
                            infrared: np.ndarray) -> float:
    """CC: mean of corr(A, F) and corr(B, F)."""
    return (_correlation(visible, fused) +
            _correlation(infrared, fused)) / 2


def peak_signal_to_noise_ratio(fused: np.ndarray, visible: np.ndarray,
                               infrared: np.ndarray) -> float:
    """PSNR on 0..255 against the mean of the two MSEs; inf when F equals
    both sources."""
    mse = (np.mean((fused - visible)**2) + np.mean((fused - infrared)**2)) / 2
    return math.inf if mse == 0 else float(
        10 * math.log10(DATA_RANGE**2 / mse))


def _torchmetrics_image():
    """``torchmetrics.functional.image``, imported on first use: with the
    scipy modules it loads it takes about 2 s of every tool's start-up, and
    only VIF, SSIM and MS-SSIM need it."""
    from torchmetrics.functional import image
    return image


def _batch(image: np.ndarray) -> torch.Tensor:
    """(1, 1, H, W) float32: torchmetrics' float64 convolutions are ~10x
    slower on CPUs, and 0..255 grey levels are exact in float32."""
    return torch.from_numpy(image.astype(np.float32))[None, None]


def _vifp(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Pixel-domain VIF of ``distorted`` against ``reference``
    (torchmetrics); 1.0 for a flat reference, as the reference code."""
    value = float(_torchmetrics_image().visual_information_fidelity(
        _batch(distorted), _batch(reference),
        sigma_n_sq=VIF_NOISE_VARIANCE))
    return 1.0 if math.isnan(value) else value


def visual_information_fidelity_sum(fused: np.ndarray, visible: np.ndarray,
                                    infrared: np.ndarray) -> float:
    """VIF: vifp(A, F) + vifp(B, F)."""
    return _vifp(visible, fused) + _vifp(infrared, fused)


def _convolve(image: np.ndarray, kernel, border: int) -> np.ndarray:
    """'same' convolution (cv2.filter2D correlates, so the kernel is
    flipped) with the given OpenCV border."""
    flipped = np.array(kernel, dtype=np.float64)[::-1, ::-1]
    return cv2.filter2D(image, cv2.CV_64F, flipped, borderType=border)


def _sobel(image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Edge strength and orientation ('same' Sobel convolution, zero
    padding)."""
    gx, gy = (_convolve(image, kernel, cv2.BORDER_CONSTANT)
              for kernel in (SOBEL_X, SOBEL_Y))
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


def _nabf_edges(image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Strength and orientation atan(gx / gy) of Sobel / 8 on the image
    mirrored by one pixel (0 where both are 0, +-pi/2 where gy = 0)."""
    gx, gy = (_convolve(image, kernel, cv2.BORDER_REFLECT_101)
              for kernel in (NABF_SOBEL_X, NABF_SOBEL_Y))
    with np.errstate(divide='ignore', invalid='ignore'):
        orientation = np.where((gx == 0) & (gy == 0), 0.0,
                               np.arctan(gx / gy))
    return np.sqrt(gx**2 + gy**2), orientation


def _nabf_preservation(source: Tuple[np.ndarray, np.ndarray],
                       fused: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Kumar's Q_SF per pixel: sqrt of strength and orientation terms."""
    (g_src, a_src), (g_fused, a_fused) = source, fused
    strength = np.zeros_like(g_src)
    defined = (g_src != 0) & (g_fused != 0)
    ratio = np.minimum(g_src, g_fused)[defined] / np.maximum(
        g_src, g_fused)[defined]
    strength[defined] = ratio
    orientation = np.abs(np.abs(a_src - a_fused) - math.pi / 2) * 2 / math.pi
    return np.sqrt(_sigmoid(strength, NABF_STRENGTH) *
                   _sigmoid(orientation, NABF_ORIENTATION))


def nabf(fused: np.ndarray, visible: np.ndarray,
         infrared: np.ndarray) -> float:
    """Nabf: weighted loss of edge information where F has edges stronger
    than both sources (artefacts); NaN when no source edge reaches the
    threshold."""
    edges_a, edges_b, edges_f = (_nabf_edges(visible), _nabf_edges(infrared),
                                 _nabf_edges(fused))
    weights = [np.where(g >= NABF_THRESHOLD, g**NABF_WEIGHT_EXPONENT, 0.0)
               for g, _ in (edges_a, edges_b)]
    total = (weights[0] + weights[1]).sum()
    if total == 0:
        return math.nan
    artefact = (edges_f[0] > edges_a[0]) & (edges_f[0] > edges_b[0])
    lost = sum((1 - _nabf_preservation(edges, edges_f)) * weight
               for edges, weight in zip((edges_a, edges_b), weights))
    return float((artefact * lost).sum() / total)


def ssim(fused: np.ndarray, visible: np.ndarray,
         infrared: np.ndarray) -> float:
    """SSIM(F, A) + SSIM(F, B) (torchmetrics, parameters in the module
    docstring)."""
    return float(sum(
        _torchmetrics_image().structural_similarity_index_measure(
            _batch(fused), _batch(source), data_range=DATA_RANGE,
            **SSIM_WINDOW) for source in (visible, infrared)))


def ms_ssim(fused: np.ndarray, visible: np.ndarray,
            infrared: np.ndarray) -> float:
    """MS-SSIM(F, A) + MS-SSIM(F, B) (torchmetrics, parameters in the
    module docstring)."""
    if min(fused.shape) < MS_SSIM_MIN_SIDE:
        raise ValueError(
            f"fusion_quality: MS-SSIM (convention 'matlab') needs images of "
            f'at least {MS_SSIM_MIN_SIDE} x {MS_SSIM_MIN_SIDE} pixels (5 '
            f'scales of an 11-pixel window); got {fused.shape}. Leave '
            'MS-SSIM out for smaller images (`metrics` here, '
            '`fusion_metrics` of FusionQualityMetric).')
    return float(sum(
        _torchmetrics_image().multiscale_structural_similarity_index_measure(
            _batch(fused), _batch(source), data_range=DATA_RANGE,
            betas=MS_SSIM_BETAS, normalize=None, **SSIM_WINDOW)
        for source in (visible, infrared)))


_FUSED_ONLY = {
    'EN': entropy,
    'SD': standard_deviation,
    'SF': spatial_frequency,
    'AG': average_gradient,
}
_WITH_SOURCES: Dict[str, Callable] = {
    'MI': mutual_information,
    'SCD': sum_of_correlation_differences,
    'Qabf': qabf,
    'CC': correlation_coefficient,
    'Nabf': nabf,
}
_BY_CONVENTION: Dict[str, Dict[str, Callable]] = {
    'ivif_zoo': {
        'VIF': ivif_zoo_metrics.vif,
        'SSIM': ivif_zoo_metrics.ssim,
        'MS-SSIM': ivif_zoo_metrics.ms_ssim,
        'PSNR': ivif_zoo_metrics.psnr,
    },
    'matlab': {
        'VIF': visual_information_fidelity_sum,
        'SSIM': ssim,
        'MS-SSIM': ms_ssim,
        'PSNR': peak_signal_to_noise_ratio,
    },
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
                   metrics: Optional[Sequence[str]] = None,
                   convention: str = DEFAULT_CONVENTION) -> Dict[str, float]:
    """Score a fused image against its sources.

    Args:
        fused (np.ndarray): (H, W) fused grey image on 0..255, integer or
            float (a colour image through :func:`to_grey` first).
        visible (np.ndarray): (H, W) visible source, grey, 0..255.
        infrared (np.ndarray): (H, W) infrared source, 0..255.
        metrics (Sequence[str], optional): Which of :data:`FUSION_METRICS`
            to compute; None computes all thirteen. Default: None.
        convention (str): One of :data:`CONVENTIONS` (module docstring).
            Default: ``'ivif_zoo'``, the SAGE authors' evaluator.

    Returns:
        dict[str, float]: One value per requested metric, in
        :data:`FUSION_METRICS` order.
    """
    names = check_metric_names(FUSION_METRICS if metrics is None else metrics)
    with_sources = dict(_WITH_SOURCES,
                        **_BY_CONVENTION[check_convention(convention)])
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
            scores[name] = with_sources[name](*images)
    return scores
