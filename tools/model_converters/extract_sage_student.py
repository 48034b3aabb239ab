"""Extract the SAM-free student of a SAGE checkpoint for deployment.

Writes ``{'state_dict': ..., 'meta': ...}`` with the ``SAGEStudent`` weights
only (keys without the ``student.`` prefix; no teacher, no SAM tensor), the
file ``SAGEStudent(init_cfg=dict(type='Pretrained', checkpoint=OUT))`` and
``FusedImageBackbone(fusion_checkpoint=OUT)`` load.

Example::

    python tools/model_converters/extract_sage_student.py \\
        work_dirs/sage_msrs/epoch_100.pth checkpoints/sage_student_msrs.pth
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.runner import CheckpointLoader

import fusionsam_mmseg  # noqa: F401  (checkpoint safe globals)
from fusionsam_mmseg.models.fusion.sage_student import STUDENT_PREFIX
from fusionsam_mmseg.models.pretrained_file import file_sha256


def student_state_dict(path: str) -> dict:
    """The student's tensors of a SAGE checkpoint, prefix removed."""
    checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint)
    student = {STUDENT_PREFIX.sub('', key): value
               for key, value in state_dict.items()
               if STUDENT_PREFIX.match(key)}
    if not student:
        raise ValueError(
            f"extract_sage_student.py: '{path}' holds no 'student.*' "
            'weights; expected a checkpoint of a SAGE model (tools/train.py '
            'configs/sage/...).')
    return student


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='SAGE training checkpoint')
    parser.add_argument('out', help='student checkpoint to write')
    args = parser.parse_args()
    state_dict = student_state_dict(args.checkpoint)
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    meta = dict(model='SAGEStudent', source=osp.abspath(args.checkpoint),
                source_sha256=file_sha256(args.checkpoint))
    torch.save(dict(state_dict=state_dict, meta=meta), args.out)
    parameters = sum(value.numel() for key, value in state_dict.items()
                     if value.is_floating_point())
    print(f'wrote {len(state_dict)} student tensors ({parameters} values) '
          f'to {args.out}')


if __name__ == '__main__':
    main()
