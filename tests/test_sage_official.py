"""SAGE against its authors' release (RollingPlain/SAGE_IVIF, commit 377fdbe).

The converted ``checkpoints.pt`` fuses their M3FD pairs into their
``result/`` images through the demo and through the model's
``tools/test.py`` path; the inferencer API gives the demo's images. Also:
the converter's and the demo's errors, the ONNX export, ``eval_fusion.py``
and the SAGE configs' unpadded test images."""
import importlib.util
import math
import os
import os.path as osp

import cv2
import numpy as np
import onnxruntime
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from PIL import Image

from conftest import REPO_ROOT
from fusionsam_mmseg.apis import FusionInferencer
from fusionsam_mmseg.apis.fusion_inferencer import build_student
from fusionsam_mmseg.evaluation import fusion_quality
from fusionsam_mmseg.models.fusion import SAGEStudent
from fusionsam_mmseg.models.layers.image_space import rgb_to_ycrcb, to_8bit
from fusionsam_mmseg.models.fusion.sage_student import load_student_weights

CONFIG = osp.join(REPO_ROOT, 'configs', 'sage', 'sage_student_official.py')
STEMS = ('00000', '00001', '00002', '00003')


def load_tool(*parts):
    spec = importlib.util.spec_from_file_location(
        osp.splitext(parts[-1])[0], osp.join(REPO_ROOT, *parts))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONVERTER = load_tool('tools', 'model_converters',
                      'sage_official_to_mmseg.py')
DEMO = load_tool('demo', 'fusion_demo.py')
EXPORT = load_tool('tools', 'deployment', 'export_onnx.py')
EVAL = load_tool('tools', 'analysis', 'eval_fusion.py')


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)


def parity(ours, theirs):
    """Fractions of values within 1 LSB and equal, PSNR (dB), max abs
    difference."""
    difference = np.abs(ours.astype(np.int64) - theirs.astype(np.int64))
    mse = float((difference**2).mean())
    psnr = math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
    return (float((difference <= 1).mean()), float((difference == 0).mean()),
            psnr, int(difference.max()))


def parity_report(name, ours, theirs):
    within, equal, psnr, largest = parity(ours, theirs)
    report = (f'{name}: {100 * within:.4f} % within 1 LSB, {100 * equal:.4f}'
              f' % equal, PSNR {psnr:.2f} dB, max diff {largest}')
    print(report)
    return within, equal, report


@pytest.fixture(scope='module')
def released_student(sage_official_root, tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp('sage') / 'sage_student_official.pth')
    CONVERTER.main([osp.join(sage_official_root, 'checkpoints.pt'), out])
    return out


@pytest.fixture(scope='module')
def demo_outputs(sage_official_root, released_student,
                 tmp_path_factory) -> str:
    out_dir = str(tmp_path_factory.mktemp('fused'))
    DEMO.main([CONFIG, released_student, '--visible',
               osp.join(sage_official_root, 'Vis'), '--infrared',
               osp.join(sage_official_root, 'Ir'), '--out-dir', out_dir,
               '--device', 'cpu'])
    return out_dir


# ------------------------------------------------------------- converter


def test_converted_checkpoint_fills_the_configs_student_strictly(
        sage_official_root, released_student):
    official = torch.load(osp.join(sage_official_root, 'checkpoints.pt'),
                          map_location='cpu', weights_only=True)
    converted = torch.load(released_student,
                           weights_only=True)['state_dict']
    student = build_student(Config.fromfile(CONFIG), CONFIG)
    assert sorted(converted) == sorted(
        f'student.{key}' for key in student.state_dict())
    assert len(converted) == len(official) == 121
    pairs = {'module1.3.weight': 'down1.1.conv.weight',
             'module3.7.running_var': 'bottom.2.bn.running_var',
             'adjust_channels5.0.bias': 'merge_up1.conv.bias',
             'module4.1.num_batches_tracked':
             'up2.0.bn.num_batches_tracked',
             'final_decoder.0.weight': 'out.weight'}
    for theirs, ours in pairs.items():
        assert torch.equal(converted[f'student.{ours}'], official[theirs])
    load_student_weights(student, released_student)
    assert torch.equal(student.out.bias, official['final_decoder.0.bias'])
    without_bias = SAGEStudent(conv_bias=False)
    with pytest.raises(ValueError,
                       match=r'sage_student_official.pth(.|\n)*'
                       r'unexpected key.*down1\.0\.conv\.bias'):
        load_student_weights(without_bias, released_student)


def test_converter_names_what_does_not_fit(sage_official_root):
    official = torch.load(osp.join(sage_official_root, 'checkpoints.pt'),
                          map_location='cpu', weights_only=True)
    broken = dict(official)
    del broken['module3.4.running_var']
    broken['module6.0.weight'] = torch.zeros(1)
    broken['final_decoder.0.weight'] = torch.zeros(1, 32, 1, 1)
    with pytest.raises(ValueError) as error:
        CONVERTER.convert(broken, 'checkpoints.pt')
    message = str(error.value)
    assert 'unexpected official keys: module6.0.weight' in message
    assert 'not filled: bottom.1.bn.running_var' in message
    assert 'out.weight (1, 32, 1, 1) (want (1, 32, 3, 3))' in message
    with pytest.raises(ValueError, match="no 'module1.0.weight'"):
        CONVERTER.convert({'weight': torch.zeros(1)}, 'other.pt')


# ---------------------------------------------------------------- parity


def test_released_student_reproduces_the_authors_outputs(
        sage_official_root, demo_outputs):
    """Acceptance: converter + demo/fusion_demo.py on the release's pairs
    give its result/ images: >= 99.9 % of values within 1 LSB (and, as a
    check of every step of the protocol, >= 99.99 % equal: 99.997 % are
    here; the rest are float rounding at the 8-bit boundary)."""
    assert sorted(os.listdir(demo_outputs)) == [f'{s}.png' for s in STEMS]
    for stem in STEMS:
        ours = read_rgb(osp.join(demo_outputs, f'{stem}.png'))
        theirs = read_rgb(osp.join(sage_official_root, 'result',
                                   f'{stem}.png'))
        within, equal, report = parity_report(stem, ours, theirs)
        assert ours.shape == theirs.shape == (768, 1024, 3)
        assert within >= 0.999, report
        assert equal >= 0.9999, report


def test_the_models_test_path_reproduces_the_authors_output(
        sage_official_root, released_student):
    """tools/test.py's path: the config's test pipeline, data
    preprocessor and SAGE.predict (teacher left out)."""
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(dict(cfg.model, teacher=None)).eval()
    load_student_weights(model.student, released_student)
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    packed = pipeline(dict(
        img_path=osp.join(sage_official_root, 'Vis', '00003.png'),
        modality_paths=[osp.join(sage_official_root, 'Ir', '00003.png')]))
    [sample] = model.test_step(dict(inputs=[packed['inputs']],
                                    data_samples=[packed['data_samples']]))
    ours = to_8bit(sample.fused_image.data).permute(1, 2, 0).numpy()
    within, equal, report = parity_report(
        'SAGE.predict 00003', ours,
        read_rgb(osp.join(sage_official_root, 'result', '00003.png')))
    assert within >= 0.999 and equal >= 0.9999, report


def test_rgb_to_ycrcb_is_opencvs_8bit_conversion(sage_official_root):
    visible = read_rgb(osp.join(sage_official_root, 'Vis', '00000.png'))
    ycrcb = rgb_to_ycrcb(torch.from_numpy(visible).permute(2, 0, 1)[None] /
                         255.0)
    ours = torch.round(ycrcb[0] * 255).permute(1, 2, 0).numpy()
    assert np.array_equal(ours, cv2.cvtColor(visible, cv2.COLOR_RGB2YCrCb))


# ------------------------------------------------------------ demo errors


def write_image(path, height, width, value=100, channels=3):
    os.makedirs(osp.dirname(path), exist_ok=True)
    rng = np.random.default_rng(value)
    image = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    cv2.imwrite(path, image if channels == 3 else image[..., 0])
    return path


def test_fusion_demo_pairs_by_stem_and_names_bad_pairs(tmp_path,
                                                       released_student):
    visible, infrared = str(tmp_path / 'Vis'), str(tmp_path / 'Ir')
    write_image(osp.join(visible, 'a.jpg'), 24, 40)
    write_image(osp.join(infrared, 'a.png'), 24, 40, channels=1)
    write_image(osp.join(visible, 'b.png'), 24, 40)
    out_dir = str(tmp_path / 'out')
    with pytest.raises(ValueError, match='visible without infrared: b'):
        DEMO.main([CONFIG, released_student, '--visible', visible,
                   '--infrared', infrared, '--out-dir', out_dir])
    write_image(osp.join(infrared, 'b.bmp'), 24, 41, channels=1)
    with pytest.raises(ValueError, match=r'b\.png is 24x40 but infrared '
                       r'.*b\.bmp is 24x41'):
        DEMO.main([CONFIG, released_student, '--visible', visible,
                   '--infrared', infrared, '--out-dir', out_dir])
    # one pair of files, their extensions differing
    DEMO.main([CONFIG, released_student, '--visible',
               osp.join(visible, 'a.jpg'), '--infrared',
               osp.join(infrared, 'a.png'), '--out-dir', out_dir])
    assert os.listdir(out_dir) == ['a.png']
    written = read_rgb(osp.join(out_dir, 'a.png'))
    assert written.shape == (24, 40, 3)
    # the inferencer API gives the same image in memory
    inferencer = FusionInferencer(CONFIG, released_student, device='cpu')
    fused = inferencer(osp.join(visible, 'a.jpg'),
                       osp.join(infrared, 'a.png'), show_progress=False)
    assert list(fused) == ['a'] and np.array_equal(fused['a'], written)


# ------------------------------------------------------------------ ONNX


def test_onnx_export_matches_pytorch_on_a_real_pair(sage_official_root,
                                                    released_student,
                                                    tmp_path):
    student = EXPORT.load_student(CONFIG, released_student)
    onnx_file = str(tmp_path / 'student.onnx')
    EXPORT.export(student, onnx_file)
    session = onnxruntime.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    visible = read_rgb(osp.join(sage_official_root, 'Vis', '00001.png'))
    infrared = cv2.imread(osp.join(sage_official_root, 'Ir', '00001.png'),
                          cv2.IMREAD_GRAYSCALE)
    luma = rgb_to_ycrcb(torch.from_numpy(visible).permute(2, 0, 1)[None] /
                        255.0)[:, :1]
    infrared = torch.from_numpy(infrared)[None, None] / 255.0
    # the full 768x1024 pair and an odd crop of it: dynamic H and W
    for height, width in ((768, 1024), (301, 403)):
        inputs = (luma[..., :height, :width].contiguous(),
                  infrared[..., :height, :width].contiguous())
        with torch.no_grad():
            expected = student(*inputs)[0].numpy()
        [fused] = session.run(None, dict(visible_y=inputs[0].numpy(),
                                         infrared=inputs[1].numpy()))
        difference = float(np.abs(fused - expected).max())
        print(f'ONNX Runtime vs PyTorch {height}x{width}: max abs diff '
              f'{difference:.2e}')
        assert fused.shape == (1, 1, height, width)
        assert difference < 1e-4


# ----------------------------------------------------------- eval_fusion


def pil_grey(path):
    return np.asarray(Image.open(path).convert('L'))


def test_eval_fusion_scores_each_folder(sage_official_root, tmp_path,
                                        capsys):
    """Two fused folders (the authors' images, the visible images) over
    two crops of the release's pairs: the table's means and the CSV's
    per-image values are fusion_quality of the PIL-grey images."""
    folders = {name: str(tmp_path / name)
               for name in ('Vis', 'Ir', 'result', 'copy')}
    for stem in STEMS[:2]:
        for name, source in (('Vis', 'Vis'), ('Ir', 'Ir'),
                             ('result', 'result'), ('copy', 'Vis')):
            image = cv2.imread(osp.join(sage_official_root, source,
                                        f'{stem}.png'))
            os.makedirs(folders[name], exist_ok=True)
            extension = '.bmp' if name == 'copy' else '.png'
            cv2.imwrite(osp.join(folders[name], stem + extension),
                        image[200:392, 300:556])
    metrics = ['EN', 'SSIM', 'MS-SSIM', 'PSNR', 'Nabf']
    csv_file = str(tmp_path / 'table.csv')
    EVAL.main(['--visible', folders['Vis'], '--infrared', folders['Ir'],
               '--fused', folders['result'], folders['copy'],
               '--metrics', *metrics, '--out', csv_file])
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith('| ') and '---' not in line]
    assert rows[0] == '| Fused | EN | SSIM | MS-SSIM | PSNR | Nabf | images |'
    csv_rows = open(csv_file).read().splitlines()
    assert csv_rows[0] == 'fused,image,EN,SSIM,MS-SSIM,PSNR,Nabf'
    assert len(csv_rows) == 5
    for row, folder in zip(rows[1:], ('result', 'copy')):
        extension = '.bmp' if folder == 'copy' else '.png'
        expected = [fusion_quality(
            pil_grey(osp.join(folders[folder], stem + extension)),
            pil_grey(osp.join(folders['Vis'], f'{stem}.png')),
            pil_grey(osp.join(folders['Ir'], f'{stem}.png')), metrics)
            for stem in STEMS[:2]]
        means = [np.mean([scores[name] for scores in expected])
                 for name in metrics]
        assert row == f'| {folder} | ' + ' | '.join(
            f'{value:.4f}' for value in means) + ' | 2 |'
        for stem, scores in zip(STEMS[:2], expected):
            line = f'{folder},{stem},' + ','.join(
                repr(scores[name]) for name in metrics)
            assert line in csv_rows


def test_eval_fusion_names_unpaired_files(tmp_path):
    for name in ('Vis', 'Ir', 'fused'):
        for stem in ('a', 'b'):
            write_image(str(tmp_path / name / f'{stem}.png'), 16, 16)
    os.remove(tmp_path / 'fused' / 'b.png')
    write_image(str(tmp_path / 'fused' / 'c.png'), 16, 16)
    arguments = ['--visible', str(tmp_path / 'Vis'), '--infrared',
                 str(tmp_path / 'Ir'), '--fused', str(tmp_path / 'fused')]
    with pytest.raises(ValueError, match='no fused image for: b; fused '
                       'images without sources: c'):
        EVAL.main(arguments)
    os.remove(tmp_path / 'Ir' / 'a.png')
    with pytest.raises(ValueError, match='visible without infrared: a'):
        EVAL.main(arguments)


# ------------------------------------------------------------- configs


@pytest.mark.parametrize('config', ['sage_fmb.py', 'sage_student_official.py'])
def test_sage_configs_do_not_pad_fmb_test_images(config):
    """FMB's 600 x 800 test images reach the student as they are (the
    size divisor only stacks training crops); the student takes any
    size."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'sage', config))
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    image = torch.randint(0, 256, (4, 600, 800), dtype=torch.uint8)
    batch = preprocessor(dict(inputs=[image], data_samples=[SegDataSample()]),
                         False)
    assert batch['inputs'].shape == (1, 4, 600, 800)
    fused, _ = MODELS.build(cfg.model.student)(torch.rand(1, 1, 75, 101),
                                               torch.rand(1, 1, 75, 101))
    assert fused.shape == (1, 1, 75, 101)
