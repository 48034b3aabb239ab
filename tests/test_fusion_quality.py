"""fusion_quality: hand-computable images, torchmetrics overlaps, an
independent implementation of docs/fusion_metrics.md's definitions on real
MSRS pairs (``convention='matlab'``), and the SAGE authors' evaluator's own
numbers on their released fused images (``convention='ivif_zoo'``).

The ``reference_*`` functions below are written from the formulas (scipy
convolutions, numpy histograms, explicit differences) and share no code
with ``fusionsam_mmseg.evaluation.fusion_quality``.
"""
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from PIL import Image
from scipy import signal
from torchmetrics.functional.clustering import mutual_info_score
from torchmetrics.functional.image import (image_gradients,
                                           structural_similarity_index_measure)

from fusionsam_mmseg.evaluation import FUSION_METRICS, fusion_quality
from fusionsam_mmseg.evaluation.fusion_quality import CONVENTIONS, to_grey
from fusionsam_mmseg.evaluation.ivif_zoo_metrics import vif_window

# --------------------------------------------------------------------------
# Independent implementation (from docs/fusion_metrics.md, not from the module)
# --------------------------------------------------------------------------


def reference_en(f):
    _, counts = np.unique(np.round(f), return_counts=True)
    p = counts / f.size
    return -sum(q * math.log2(q) for q in p)


def reference_sd(f):
    return math.sqrt(((f - f.mean())**2).sum() / f.size)


def reference_sf(f):
    height, width = f.shape
    rf = sum(((f[:, j] - f[:, j - 1])**2).sum()
             for j in range(1, width)) / (height * (width - 1))
    cf = sum(((f[i, :] - f[i - 1, :])**2).sum()
             for i in range(1, height)) / ((height - 1) * width)
    return math.sqrt(rf + cf)


def reference_ag(f):
    gx = np.empty_like(f)
    gy = np.empty_like(f)
    gx[:, 1:-1] = (f[:, 2:] - f[:, :-2]) / 2
    gx[:, 0], gx[:, -1] = f[:, 1] - f[:, 0], f[:, -1] - f[:, -2]
    gy[1:-1, :] = (f[2:, :] - f[:-2, :]) / 2
    gy[0, :], gy[-1, :] = f[1, :] - f[0, :], f[-1, :] - f[-2, :]
    return np.mean(np.sqrt((gx**2 + gy**2) / 2))


def _reference_mi_pair(a, f):
    edges = np.arange(257) - 0.5
    joint, _, _ = np.histogram2d(
        np.round(a).ravel(), np.round(f).ravel(), bins=[edges, edges])
    joint /= joint.sum()
    pa, pf = joint.sum(1), joint.sum(0)
    total = 0.0
    for i, j in zip(*np.nonzero(joint)):
        total += joint[i, j] * math.log2(joint[i, j] / (pa[i] * pf[j]))
    return total


def reference_mi(f, a, b):
    return _reference_mi_pair(a, f) + _reference_mi_pair(b, f)


def _reference_corr2(x, y):
    """MATLAB's corr2; 0 (the module's stated convention) where it is
    undefined because an image is constant."""
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return np.corrcoef(x.ravel(), y.ravel())[0, 1]


def reference_scd(f, a, b):
    return _reference_corr2(f - b, a) + _reference_corr2(f - a, b)


def _matlab_gaussian(size, sigma):
    half = (size - 1) / 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(float).eps * h.max()] = 0
    return h / h.sum()


def _valid(image, window):
    return signal.fftconvolve(image, window[::-1, ::-1], mode='valid')


def _reference_vifp(ref, dist):
    eps, noise_var = 1e-10, 2.0
    num = den = 0.0
    for scale in range(1, 5):
        n = 2**(4 - scale + 1) + 1
        win = _matlab_gaussian(n, n / 5)
        if scale > 1:
            ref = _valid(ref, win)[::2, ::2]
            dist = _valid(dist, win)[::2, ::2]
        mu1, mu2 = _valid(ref, win), _valid(dist, win)
        s1 = np.maximum(_valid(ref * ref, win) - mu1 * mu1, 0)
        s2 = np.maximum(_valid(dist * dist, win) - mu2 * mu2, 0)
        s12 = _valid(ref * dist, win) - mu1 * mu2
        g = s12 / (s1 + eps)
        sv = s2 - g * s12
        low1 = s1 < eps
        g[low1], sv[low1], s1[low1] = 0, s2[low1], 0
        low2 = s2 < eps
        g[low2], sv[low2] = 0, 0
        neg = g < 0
        sv[neg], g[neg] = s2[neg], 0
        sv[sv <= eps] = eps
        num += np.log10(1 + g * g * s1 / (sv + noise_var)).sum()
        den += np.log10(1 + s1 / noise_var).sum()
    return 1.0 if den == 0 else num / den


def reference_vif(f, a, b):
    return _reference_vifp(a, f) + _reference_vifp(b, f)


def _reference_gradient(image):
    gx = signal.convolve2d(image, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
                           mode='same')
    gy = signal.convolve2d(image, [[1, 2, 1], [0, 0, 0], [-1, -2, -1]],
                           mode='same')
    g = np.hypot(gx, gy)
    alpha = np.where(gx == 0, math.pi / 2,
                     np.arctan(gy / np.where(gx == 0, 1, gx)))
    return g, alpha


def _reference_q(g_s, a_s, g_f, a_f):
    big = np.where(g_s > g_f, g_s, g_f)
    small = np.where(g_s > g_f, g_f, g_s)
    strength = np.where(g_s == g_f, g_f, small / np.where(big == 0, 1, big))
    orient = 1 - np.abs(a_s - a_f) / (math.pi / 2)
    return (0.9994 / (1 + np.exp(-15 * (strength - 0.5))) * 0.9879 /
            (1 + np.exp(-22 * (orient - 0.8))))


def reference_qabf(f, a, b):
    ga, aa = _reference_gradient(a)
    gb, ab = _reference_gradient(b)
    gf, af = _reference_gradient(f)
    q_a, q_b = _reference_q(ga, aa, gf, af), _reference_q(gb, ab, gf, af)
    return (q_a * ga + q_b * gb).sum() / (ga + gb).sum()


def _ssim_maps(x, y):
    """SSIM's luminance and contrast-structure maps, Gaussian window 11
    (sigma 1.5) over the image reflect-padded by 5 pixels: one value per
    pixel (torchmetrics' border convention, stated by the module)."""
    c1, c2 = (0.01 * 255)**2, (0.03 * 255)**2
    coords = np.arange(11) - 5
    g = np.exp(-coords**2 / (2 * 1.5**2))
    win = np.outer(g, g) / np.outer(g, g).sum()
    x, y = np.pad(x, 5, mode='reflect'), np.pad(y, 5, mode='reflect')
    mx, my = _valid(x, win), _valid(y, win)
    vx = np.maximum(_valid(x * x, win) - mx**2, 0)
    vy = np.maximum(_valid(y * y, win) - my**2, 0)
    cov = _valid(x * y, win) - mx * my
    luminance = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
    contrast_structure = (2 * cov + c2) / (vx + vy + c2)
    return luminance, contrast_structure


def _reference_ssim_pair(f, s):
    luminance, cs = _ssim_maps(f, s)
    return (luminance * cs).mean()


def _reference_ms_ssim_pair(f, s):
    """Wang et al.'s product over 5 scales (2 x 2 mean downsampling) of the
    contrast-structure means (inside the 5-pixel border), the last scale
    taking the SSIM mean."""
    betas = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    value = 1.0
    for level, beta in enumerate(betas):
        luminance, cs = _ssim_maps(f, s)
        if level == len(betas) - 1:
            value *= (luminance * cs).mean()**beta
        else:
            value *= cs[5:-5, 5:-5].mean()**beta
        height, width = (f.shape[0] // 2) * 2, (f.shape[1] // 2) * 2
        f = f[:height, :width].reshape(height // 2, 2, width // 2,
                                       2).mean((1, 3))
        s = s[:height, :width].reshape(height // 2, 2, width // 2,
                                       2).mean((1, 3))
    return value


def reference_cc(f, a, b):
    return (_reference_corr2(a, f) + _reference_corr2(b, f)) / 2


def reference_psnr(f, a, b):
    mse = (((f - a)**2).sum() + ((f - b)**2).sum()) / (2 * f.size)
    return 20 * math.log10(255 / math.sqrt(mse))


def reference_quality(f, a, b):
    """docs/fusion_metrics.md's MATLAB definitions (every metric but Nabf)."""
    return {
        'EN': reference_en(f),
        'SD': reference_sd(f),
        'SF': reference_sf(f),
        'AG': reference_ag(f),
        'MI': reference_mi(f, a, b),
        'SCD': reference_scd(f, a, b),
        'VIF': reference_vif(f, a, b),
        'Qabf': reference_qabf(f, a, b),
        'SSIM': _reference_ssim_pair(f, a) + _reference_ssim_pair(f, b),
        'MS-SSIM': (_reference_ms_ssim_pair(f, a) +
                    _reference_ms_ssim_pair(f, b)),
        'CC': reference_cc(f, a, b),
        'PSNR': reference_psnr(f, a, b),
    }


# --------------------------------------------------------------------------
# Hand-computable images
# --------------------------------------------------------------------------

Q_ORIENTATION_EQUAL = 0.9879 / (1 + math.exp(-22 * (1 - 0.8)))


def checkerboard(height=48, width=64, low=0.0, high=255.0):
    rows, cols = np.indices((height, width))
    return np.where((rows + cols) % 2 == 0, low, high)


def texture(seed=0, shape=(64, 80)):
    rng = np.random.default_rng(seed)
    smooth = cv2.GaussianBlur(rng.uniform(0, 255, shape), (0, 0), 2)
    return np.round(np.clip(smooth * 2 - 127, 0, 255))


def test_constant_image_has_no_information():
    flat = np.full((50, 60), 77.0)
    scores = fusion_quality(flat, texture(1, (50, 60)), texture(2, (50, 60)),
                            metrics=('EN', 'SD', 'SF', 'AG'))
    assert scores == {'EN': 0.0, 'SD': 0.0, 'SF': 0.0, 'AG': 0.0}


def test_checkerboard_values_by_hand():
    height, width = 48, 64
    board = checkerboard(height, width)
    scores = fusion_quality(board, board, board,
                            metrics=('EN', 'SD', 'SF', 'AG'))
    assert scores['EN'] == pytest.approx(1.0)  # two equally likely levels
    assert scores['SD'] == pytest.approx(127.5)
    # every neighbour differs by 255, along rows and along columns
    assert scores['SF'] == pytest.approx(255 * math.sqrt(2))
    # central differences vanish inside (same colour two pixels apart);
    # one-sided differences of 255 on the border columns / rows
    edge = 2 * height + 2 * width - 8
    expected_ag = (edge * 255 / math.sqrt(2) + 4 * 255) / (height * width)
    assert scores['AG'] == pytest.approx(expected_ag)


def test_ramp_values_by_hand():
    width = 256
    ramp = np.tile(np.arange(width, dtype=float), (10, 1))
    flat = np.zeros_like(ramp)
    scores = fusion_quality(ramp, ramp, flat, metrics=('EN', 'SD', 'SF',
                                                       'AG', 'MI'))
    assert scores['EN'] == pytest.approx(8.0)  # 256 equally likely levels
    assert scores['SD'] == pytest.approx(math.sqrt((width**2 - 1) / 12))
    assert scores['SF'] == pytest.approx(1.0)
    assert scores['AG'] == pytest.approx(math.sqrt(0.5))
    # MI(A, A) = H(A) = 8 bits; a constant infrared carries none
    assert scores['MI'] == pytest.approx(8.0)


def test_sum_of_sources_gives_scd_two():
    visible, infrared = texture(3) / 2, texture(4) / 2
    fused = visible + infrared
    scores = fusion_quality(fused, visible, infrared, metrics=('SCD', ))
    assert scores['SCD'] == pytest.approx(2.0)


@pytest.mark.parametrize('convention', CONVENTIONS)
def test_fused_equal_to_sources(convention):
    image = texture(5)
    scores = fusion_quality(image, image, image,
                            metrics=('VIF', 'SSIM', 'Qabf', 'SCD', 'CC',
                                     'PSNR', 'Nabf'),
                            convention=convention)
    assert scores['VIF'] == pytest.approx(2.0, abs=1e-4)
    assert scores['SSIM'] == pytest.approx(2.0, abs=1e-5)
    assert scores['CC'] == pytest.approx(1.0)
    assert scores['PSNR'] == math.inf
    assert scores['Nabf'] == 0.0  # F is nowhere stronger than a source
    # equal strengths: the reference code takes G = g_F, which saturates
    # the strength sigmoid for 0..255 edges; the orientations agree exactly
    assert scores['Qabf'] == pytest.approx(0.9994 * Q_ORIENTATION_EQUAL,
                                           rel=1e-4)
    assert scores['SCD'] == 0.0  # F - A and F - B are constant


def test_qabf_equal_gradient_case_of_the_reference_code():
    """An impulse of height h: Sobel strength 2h beside it (4 pixels),
    sqrt(2) h on the diagonals (4 pixels). With F = A = B the reference
    code sets G = g_F (not 1), so weak edges score low."""
    height = 0.1
    impulse = np.zeros((9, 9))
    impulse[4, 4] = height
    strengths = np.array([2 * height] * 4 + [math.sqrt(2) * height] * 4)
    q_strength = 0.9994 / (1 + np.exp(-15 * (strengths - 0.5)))
    expected = (q_strength * Q_ORIENTATION_EQUAL * strengths).sum() / \
        strengths.sum()
    scores = fusion_quality(impulse, impulse, impulse, metrics=('Qabf', ))
    assert scores['Qabf'] == pytest.approx(expected, rel=1e-9)
    assert scores['Qabf'] < 0.1  # G = 1 would give ~0.975


def test_cc_and_psnr_by_hand():
    ramp = np.tile(np.arange(0, 250, 5, dtype=float), (20, 1))
    # corr(A, F) = 1 and corr(B, F) = -1
    assert fusion_quality(ramp, ramp, 245 - ramp, metrics=('CC', ))[
        'CC'] == pytest.approx(0.0, abs=1e-12)
    zeros, fused = np.zeros((20, 30)), np.full((20, 30), 10.0)
    # MSE 100 against both sources
    matlab = fusion_quality(fused, zeros, zeros, metrics=('PSNR', ),
                            convention='matlab')['PSNR']
    assert matlab == pytest.approx(10 * math.log10(255**2 / 100))
    # IVIF_ZOO: the same MSE of [0, 1] images (100 / 255 ** 2), peak 255
    zoo = fusion_quality(fused, zeros, zeros, metrics=('PSNR', ),
                         convention='ivif_zoo')['PSNR']
    assert zoo == pytest.approx(20 * math.log10(255 / math.sqrt(100 /
                                                                255**2)))
    assert zoo - matlab == pytest.approx(20 * math.log10(255))


def test_nabf_of_a_doubled_edge_by_hand():
    """A vertical step of 100 (visible) fused as a step of 200; flat
    infrared. Sobel / 8 gives strength 50 (visible) and 100 (fused) on the
    two columns beside the step and 0 elsewhere (mirrored borders add
    none): every weighted pixel is an artefact with G = 50 / 100 and equal
    orientations (A = |0 - pi/2| * 2/pi = 1), so Nabf = 1 - Q_AF with
    Q_AF = sqrt(0.9999 / (1 + e^0) * 0.9995 / (1 + e^(-22 * 0.5)))."""
    visible = np.zeros((12, 16))
    visible[:, 8:] = 100
    infrared = np.zeros_like(visible)
    q_af = math.sqrt(0.9999 / 2 * 0.9995 / (1 + math.exp(-11)))
    scores = fusion_quality(visible * 2, visible, infrared,
                            metrics=('Nabf', ))
    assert scores['Nabf'] == pytest.approx(1 - q_af, rel=1e-12)
    # a fused edge weaker than the source's is no artefact
    assert fusion_quality(visible / 2, visible, infrared,
                          metrics=('Nabf', ))['Nabf'] == 0.0


@pytest.mark.parametrize('convention,c1', [('matlab', (0.01 * 255)**2),
                                           ('ivif_zoo', 0.01**2)])
def test_ssim_constants_by_hand(convention, c1):
    """Flat images have no contrast (cs = C2 / C2 = 1): SSIM(F, A) is the
    luminance term (2 a f + C1) / (a^2 + f^2 + C1). IVIF_ZOO multiplies
    the 0..255 images by 255 and keeps C1 = (0.01 * 255)^2, so its C1 is
    0.01^2 on the 0..255 scale (levels 0 and 1 keep its float32 variances
    of flat images near 0)."""
    source, fused = np.zeros((40, 50)), np.ones((40, 50))
    expected = 2 * c1 / (1 + c1)  # SSIM(F, A) + SSIM(F, B), B = A
    scores = fusion_quality(fused, source, source, metrics=('SSIM', ),
                            convention=convention)
    assert scores['SSIM'] == pytest.approx(expected, rel=1e-3)


def test_ivif_zoo_vif_window_by_hand():
    """IVIF_ZOO's window samples N points from floor(-N/2) to floor(N/2):
    for N = 3, -2, -0.5 and 1 (sigma = 3/5), so it is not centred."""
    coords = np.array([-2.0, -0.5, 1.0])
    window = np.exp(-(coords[:, None]**2 + coords[None, :]**2) /
                    (2 * 0.6**2))
    assert np.allclose(vif_window(3), window / window.sum(), rtol=1e-12)


def test_grey_conversion_of_each_convention_by_hand():
    """(34, 159, 0): PIL's L = (34 * 19595 + 159 * 38470 + 32768) >> 16
    = 103 (103.49976 rounded; OpenCV's grey gives 104); MATLAB's rgb2gray
    0.298936 * 34 + 0.587043 * 159 = 103.50367, rounded to 104."""
    pixel = np.array([[[34, 159, 0]]], np.uint8)
    assert to_grey(pixel, 'ivif_zoo')[0, 0] == 103
    assert to_grey(pixel, 'matlab')[0, 0] == 104
    assert to_grey(np.array([[7]], np.uint8))[0, 0] == 7
    with pytest.raises(ValueError, match='8-bit'):
        to_grey(pixel.astype(np.uint16))


# --------------------------------------------------------------------------
# Overlaps with torchmetrics
# --------------------------------------------------------------------------


def test_mi_agrees_with_torchmetrics_mutual_info_in_bits():
    visible, infrared = texture(6), texture(7)
    fused = np.round(0.6 * visible + 0.4 * infrared)
    nats = sum(
        float(mutual_info_score(
            torch.from_numpy(fused.ravel()).long(),
            torch.from_numpy(source.ravel()).long()))
        for source in (visible, infrared))
    scores = fusion_quality(fused, visible, infrared, metrics=('MI', ))
    # torchmetrics sums in float32
    assert scores['MI'] == pytest.approx(nats / math.log(2), rel=1e-6)


def test_sf_agrees_with_torchmetrics_image_gradients():
    image = texture(8)
    dy, dx = image_gradients(torch.from_numpy(image)[None, None])
    height, width = image.shape
    expected = math.sqrt(
        float(dx.square().sum()) / (height * (width - 1)) +
        float(dy.square().sum()) / ((height - 1) * width))
    scores = fusion_quality(image, image, image, metrics=('SF', ))
    assert scores['SF'] == pytest.approx(expected, rel=1e-12)


def test_ssim_is_torchmetrics_ssim_with_stated_parameters():
    visible, infrared = texture(9), texture(10)
    fused = np.round((visible + infrared) / 2)
    expected = sum(
        float(structural_similarity_index_measure(
            torch.from_numpy(fused)[None, None].float(),
            torch.from_numpy(source)[None, None].float(),
            gaussian_kernel=True, sigma=1.5, kernel_size=11,
            data_range=255.0, k1=0.01, k2=0.03))
        for source in (visible, infrared))
    scores = fusion_quality(fused, visible, infrared, metrics=('SSIM', ),
                            convention='matlab')
    assert scores['SSIM'] == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------
# Agreement with the independent implementation on real MSRS pairs
# --------------------------------------------------------------------------

FUSION_RULES = {
    'mean': lambda a, b: (a + b) / 2,
    'max': np.maximum,
    'weighted': lambda a, b: 0.7 * a + 0.3 * b,
    'visible_only': lambda a, b: a.copy(),
}
MSRS_STEMS = (('train', '00001D'), ('train', '00006N'), ('val', '00032N'))


def load_msrs_pair(root, split, stem):
    visible = cv2.imread(osp.join(root, split, 'vi', f'{stem}.png'))
    infrared = cv2.imread(
        osp.join(root, split, 'ir', f'{stem}.png'), cv2.IMREAD_UNCHANGED)
    return (cv2.cvtColor(visible, cv2.COLOR_BGR2GRAY).astype(np.float64),
            infrared.astype(np.float64))


@pytest.mark.parametrize('split,stem', MSRS_STEMS)
def test_agrees_with_independent_implementation_on_msrs(msrs_root, split,
                                                        stem):
    visible, infrared = load_msrs_pair(msrs_root, split, stem)
    for rule_name, rule in FUSION_RULES.items():
        fused = np.round(rule(visible, infrared))
        ours = fusion_quality(fused, visible, infrared, convention='matlab')
        expected = reference_quality(fused, visible, infrared)
        assert list(ours) == list(FUSION_METRICS)
        for name in expected:
            tolerance = 0.02 if name == 'VIF' else 0.01
            assert ours[name] == pytest.approx(expected[name],
                                               rel=tolerance), (rule_name,
                                                                name)


def test_fusion_rules_are_ranked_as_expected(msrs_root):
    """Sanity of the values, not only of the code: fusing both sources
    keeps more infrared information than copying the visible image."""
    visible, infrared = load_msrs_pair(msrs_root, 'train', '00003N')
    mean = fusion_quality(np.round((visible + infrared) / 2), visible,
                          infrared, metrics=('MI', 'Qabf', 'SCD'))
    copy = fusion_quality(visible, visible, infrared,
                          metrics=('MI', 'Qabf', 'SCD'))
    assert mean['SCD'] > copy['SCD']
    assert copy['MI'] > mean['MI']  # MI(A, A) = H(A) dominates


# --------------------------------------------------------------------------
# convention='ivif_zoo': the SAGE authors' evaluator's own numbers
# --------------------------------------------------------------------------

# RollingPlain/IVIF_ZOO Metric/eval_torch.py's evaluation_one (unmodified,
# run outside this repository, 2026-12-04) on the SAGE release's fused
# image result/00000.png with Vis/00000.png and Ir/00000.png (768 x 1024),
# and on the top-left 601 x 803 crop of the three (grey) images, whose odd
# sides take MS-SSIM's padding path.
IVIF_ZOO_00000 = dict(
    EN=6.972223758, SD=35.48141861, SF=15.47407246, AG=5.059165478,
    MI=2.456206552, SCD=1.742739081, VIF=0.7952550650, Qabf=0.6784431418,
    SSIM=0.9958895445, CC=0.5753030777, PSNR=62.77909851,
    Nabf=0.01310979424, **{'MS-SSIM': 0.9948008060})
IVIF_ZOO_00000_CROP = dict(
    EN=6.687573910, SD=30.76592255, SF=16.26220512, AG=5.476262093,
    MI=2.565947632, SCD=1.760925770, VIF=0.8110116124, Qabf=0.6860327552,
    SSIM=0.9960120916, CC=0.5681115985, PSNR=62.85081863,
    Nabf=0.01536463431, **{'MS-SSIM': 1.003522992})


def test_ivif_zoo_convention_gives_the_authors_evaluators_numbers(
        sage_official_root):
    grey = {folder: np.asarray(Image.open(osp.join(
        sage_official_root, folder, '00000.png')).convert('L'))
        for folder in ('result', 'Vis', 'Ir')}
    for expected, rows, cols in ((IVIF_ZOO_00000, 768, 1024),
                                 (IVIF_ZOO_00000_CROP, 601, 803)):
        ours = fusion_quality(*(grey[folder][:rows, :cols]
                                for folder in ('result', 'Vis', 'Ir')),
                              convention='ivif_zoo')
        assert list(ours) == list(FUSION_METRICS)
        assert set(expected) == set(FUSION_METRICS)
        for name, value in expected.items():
            assert ours[name] == pytest.approx(value, rel=1e-3), (rows,
                                                                  name)


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def test_rejects_bad_inputs():
    image = texture(11)
    with pytest.raises(ValueError, match='same size'):
        fusion_quality(image, image[:-1], image)
    with pytest.raises(ValueError, match='outside 0..255'):
        fusion_quality(image / 255.0 - 0.5, image, image)
    with pytest.raises(ValueError, match=r'\(H, W\) grey'):
        fusion_quality(np.stack([image] * 3, -1), image, image)
    with pytest.raises(ValueError, match='subset of'):
        fusion_quality(image, image, image, metrics=('QCB', ))
    with pytest.raises(ValueError, match="convention='vifb'.*ivif_zoo"):
        fusion_quality(image, image, image, convention='vifb')
    with pytest.raises(ValueError, match='at least 176'):
        fusion_quality(image, image, image, metrics=('MS-SSIM', ),
                       convention='matlab')
    with pytest.raises(ValueError, match='at least 161'):
        fusion_quality(image, image, image, metrics=('MS-SSIM', ))


# --------------------------------------------------------------------------
# FusionQualityMetric
# --------------------------------------------------------------------------


def prediction(visible_path, infrared_path, fused_rgb):
    sample = SegDataSample(metainfo=dict(
        img_path=visible_path, modality_paths=[infrared_path],
        ori_shape=fused_rgb.shape[1:]))
    sample.fused_image = PixelData(data=fused_rgb)
    return sample


@pytest.mark.parametrize('convention', CONVENTIONS)
def test_metric_scores_fused_grey_against_the_source_files(msrs_root,
                                                           convention):
    """The fused image turns grey as the convention reads a PNG: PIL's
    convert('L') (IVIF_ZOO) or MATLAB's rgb2gray, written out here."""
    def grey(rgb):
        if convention == 'ivif_zoo':
            return np.asarray(Image.fromarray(rgb).convert('L'))
        weights = (0.298936021293775, 0.587043074451121, 0.114020904255103)
        return np.floor(rgb @ np.array(weights) + 0.5)

    stems = ('00002D', '00005N')
    metrics = ('EN', 'MI', 'SSIM', 'PSNR', 'Nabf')
    samples, expected = [], []
    for stem in stems:
        visible_path = osp.join(msrs_root, 'train', 'vi', f'{stem}.png')
        infrared_path = osp.join(msrs_root, 'train', 'ir', f'{stem}.png')
        visible_rgb = cv2.cvtColor(cv2.imread(visible_path),
                                   cv2.COLOR_BGR2RGB)
        infrared = cv2.imread(infrared_path, cv2.IMREAD_UNCHANGED)
        fused_rgb = np.maximum(visible_rgb, infrared[..., None])
        samples.append(prediction(
            visible_path, infrared_path,
            torch.from_numpy(fused_rgb / np.float32(255)).permute(2, 0, 1)))
        expected.append(fusion_quality(grey(fused_rgb), grey(visible_rgb),
                                       infrared, metrics, convention))
    evaluator = Evaluator(dict(type='FusionQualityMetric',
                               fusion_metrics=metrics,
                               convention=convention))
    evaluator.process(samples, dict())
    results = evaluator.evaluate(len(samples))
    assert list(results) == list(metrics)
    for name in metrics:
        assert results[name] == pytest.approx(
            np.mean([scores[name] for scores in expected]), rel=1e-6)
    assert list(Evaluator(dict(type='FusionQualityMetric')).metrics[0]
                .fusion_metrics) == list(FUSION_METRICS)


def test_metric_errors_name_the_image(msrs_root):
    visible_path = osp.join(msrs_root, 'train', 'vi', '00007N.png')
    infrared_path = osp.join(msrs_root, 'train', 'ir', '00007N.png')
    evaluator = Evaluator(
        dict(type='FusionQualityMetric', fusion_metrics=['EN']))
    no_fused = SegDataSample(metainfo=dict(
        img_path=visible_path, modality_paths=[infrared_path]))
    with pytest.raises(KeyError, match='00007N.png.*fused_image'):
        evaluator.process([no_fused], dict())
    resized = prediction(visible_path, infrared_path,
                         torch.rand(3, 240, 320))
    with pytest.raises(ValueError, match='00007N.png.*native resolution'):
        evaluator.process([resized], dict())
