"""Download and verify the pretrained files the configs point at.

Usage::

    # download into checkpoints/<folder>/ (the paths the configs expect)
    python tools/misc/download_checkpoints.py --models sam_vit_h vgg16
    # verify files you already have (identified by content, any name)
    python tools/misc/download_checkpoints.py --verify-only \
        checkpoints/sam/sam_vit_h_4b8939.pth checkpoints/vgg16/vgg16-397923af.pth

What each check can justify:

- ``sam_vit_{h,l,b}`` (Meta's segment-anything release): Meta publishes no
  checksums. The 6 hex digits in each file name are the start of the
  file's md5 digest; the full md5 and sha256 values below are the ones
  pinned by independent downstream projects (download scripts, ``md5sum``
  listings, micro-sam's checkpoint table), all agreeing with the name's
  digits. A file passes when both match.
- ``vgg16`` (torchvision's ImageNet VGG16, the weights LPIPS and
  taming-transformers use for perceptual losses): torchvision's file names
  carry the first 8 hex digits of the file's sha256 (``vgg16-397923af``),
  which is exactly what ``torch.hub``'s ``check_hash`` verifies; so does
  this tool.
- ``sam2_hiera_b+`` / ``sam2_hiera_l`` (SAM 2.0, address from the sam2
  repository's checkpoints/download_ckpts.sh) / ``sam2.1_hiera_l`` (Meta's
  SAM2 releases): no digest
  is published anywhere we could find, so the file is checked by structure:
  it must load under ``torch.load(weights_only=True)`` as ``{'model':
  state_dict}`` whose keys and shapes equal those of ``sam2``'s
  ``build_sam2`` for the file's config.

Downloads go through ``torch.hub.download_url_to_file`` (a temporary file,
moved into place only when the sha256 prefix matches, where there is one).
"""
import argparse
import hashlib
import os
import os.path as osp
import sys
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

SAM_URL = 'https://dl.fbaipublicfiles.com/segment_anything'
SAM2_URL = 'https://dl.fbaipublicfiles.com/segment_anything_2'


class CheckpointInfo(NamedTuple):
    """One known file.

    Attributes:
        filename (str): File name as published.
        folder (str): Sub-folder of ``--out-dir`` the configs expect.
        url (str): Download address.
        sha256 (str): Full sha256 hex digest, or its published prefix; ''
            when none is known (then ``sam2_config`` checks the structure).
        md5 (str): Full md5 hex digest, or '' when unknown.
        sam2_config (str): For SAM2 files: the ``sam2`` package config whose
            model the file must fit. Default: ''.
    """

    filename: str
    folder: str
    url: str
    sha256: str
    md5: str
    sam2_config: str = ''


KNOWN_CHECKPOINTS: Dict[str, CheckpointInfo] = {
    'sam_vit_h': CheckpointInfo(
        'sam_vit_h_4b8939.pth', 'sam', f'{SAM_URL}/sam_vit_h_4b8939.pth',
        'a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e',
        '4b8939a88964f0f4ff5f5b2642c598a6'),
    'sam_vit_l': CheckpointInfo(
        'sam_vit_l_0b3195.pth', 'sam', f'{SAM_URL}/sam_vit_l_0b3195.pth',
        '3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622',
        '0b3195507c641ddb6910d2bb5adee89c'),
    'sam_vit_b': CheckpointInfo(
        'sam_vit_b_01ec64.pth', 'sam', f'{SAM_URL}/sam_vit_b_01ec64.pth',
        'ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912',
        '01ec64d29a2fca3f0661936605ae66f8'),
    'vgg16': CheckpointInfo(
        'vgg16-397923af.pth', 'vgg16',
        'https://download.pytorch.org/models/vgg16-397923af.pth', '397923af',
        ''),
    'sam2_hiera_b+': CheckpointInfo(
        'sam2_hiera_base_plus.pt', 'sam2',
        f'{SAM2_URL}/072824/sam2_hiera_base_plus.pt', '', '',
        'configs/sam2/sam2_hiera_b+.yaml'),
    'sam2_hiera_l': CheckpointInfo(
        'sam2_hiera_large.pt', 'sam2',
        f'{SAM2_URL}/072824/sam2_hiera_large.pt', '', '',
        'configs/sam2/sam2_hiera_l.yaml'),
    'sam2.1_hiera_l': CheckpointInfo(
        'sam2.1_hiera_large.pt', 'sam2',
        f'{SAM2_URL}/092824/sam2.1_hiera_large.pt', '', '',
        'configs/sam2.1/sam2.1_hiera_l.yaml'),
}


class ChecksumError(RuntimeError):
    """A file is not the published file it should be."""


def file_digests(path: str, chunk_size: int = 1 << 20) -> Tuple[str, str]:
    """Return the (sha256, md5) hex digests of ``path`` (one read)."""
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, 'rb') as file:
        for chunk in iter(lambda: file.read(chunk_size), b''):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()


def _digests_match(info: CheckpointInfo, sha256: str, md5: str) -> bool:
    return bool(info.sha256) and sha256.startswith(info.sha256) and (
        not info.md5 or md5 == info.md5)


def sam2_structure_problem(path: str, config: str) -> Optional[str]:
    """Why ``path`` is not a checkpoint of ``config``'s SAM2 model, or None.

    The model is built on the CPU with random weights (sam2's Hiera needs
    real tensors while it is built), only to read its keys and shapes.
    """
    import torch
    from sam2.build_sam import build_sam2
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # noqa: BLE001  (any unreadable file)
        return f'it does not load as a torch checkpoint ({error})'
    if not isinstance(state, dict) or not isinstance(state.get('model'),
                                                     dict):
        return "it is not {'model': state_dict}"
    expected = build_sam2(config, ckpt_path=None, device='cpu',
                          mode='eval').state_dict()
    found = {key: tuple(value.shape) for key, value in state['model'].items()}
    wanted = {key: tuple(value.shape) for key, value in expected.items()}
    if found != wanted:
        differing = sorted(set(found) ^ set(wanted)) or sorted(
            key for key in wanted if found[key] != wanted[key])
        return (f'its keys / shapes differ from {config}\'s model '
                f'(e.g. {differing[:3]})')
    return None


def identify_checkpoint(path: str) -> str:
    """Verify ``path`` and say which known file it is.

    Args:
        path (str): A checkpoint file. When its name is a known file name it
            must match that file; otherwise it must match any file with
            digests.

    Returns:
        str: The name in :data:`KNOWN_CHECKPOINTS` (``'sam_vit_h'`` ...).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f"'{path}' does not exist.")
    named = [name for name, info in KNOWN_CHECKPOINTS.items()
             if info.filename == osp.basename(path)]
    if named and KNOWN_CHECKPOINTS[named[0]].sam2_config:
        info = KNOWN_CHECKPOINTS[named[0]]
        problem = sam2_structure_problem(path, info.sam2_config)
        if problem:
            raise ChecksumError(
                f"'{path}' is named like {info.filename} but {problem}. The "
                'file is corrupt, incomplete or another model; delete it and '
                'download it again.')
        return named[0]
    sha256, md5 = file_digests(path)
    for name in named or KNOWN_CHECKPOINTS:
        if _digests_match(KNOWN_CHECKPOINTS[name], sha256, md5):
            return name
    if named:
        info = KNOWN_CHECKPOINTS[named[0]]
        raise ChecksumError(
            f"'{path}' is named like the published {info.filename} but its "
            f'checksums differ: expected sha256 {info.sha256}'
            f"{'...' if len(info.sha256) < 64 else ''}"
            f"{f' / md5 {info.md5}' if info.md5 else ''}, found sha256 "
            f'{sha256} / md5 {md5}. The file is corrupt or incomplete; '
            'delete it and download it again.')
    raise ChecksumError(
        f"'{path}' is not a known checkpoint (sha256 {sha256}, md5 {md5} "
        'match none of '
        f'{[info.filename for info in KNOWN_CHECKPOINTS.values() if info.sha256]}'
        '; SAM2 files are recognised by their published name).')


def download_checkpoint(name: str, out_dir: str, force: bool = False) -> str:
    """Download one known file into ``out_dir/<folder>`` and verify it.

    Args:
        name (str): A key of :data:`KNOWN_CHECKPOINTS`.
        out_dir (str): Root folder (``checkpoints``); created if needed.
        force (bool): Download again even if a file is already there.

    Returns:
        str: Path of the verified file.
    """
    from torch.hub import download_url_to_file

    info = KNOWN_CHECKPOINTS[name]
    folder = osp.join(out_dir, info.folder)
    path = osp.join(folder, info.filename)
    if osp.isfile(path) and not force:
        identify_checkpoint(path)
        print(f'{path}: already present and verified.')
        return path
    os.makedirs(folder, exist_ok=True)
    print(f'Downloading {info.url} -> {path}')
    try:
        download_url_to_file(info.url, path, hash_prefix=info.sha256 or None)
    except RuntimeError as error:
        raise ChecksumError(f'{info.url}: {error}') from error
    if identify_checkpoint(path) != name:
        raise ChecksumError(f'{path} is not the {name} checkpoint.')
    print(f'{path}: verified.')
    return path


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Download and verify the pretrained files of the '
        'configs (SAM, VGG16, SAM2).')
    parser.add_argument(
        '--out-dir', default='checkpoints',
        help='root folder; files go to <out-dir>/<sam|vgg16|sam2>/ '
        '(default: checkpoints)')
    parser.add_argument(
        '--models', nargs='+', choices=sorted(KNOWN_CHECKPOINTS),
        default=['sam_vit_h', 'vgg16'],
        help='which files (default: sam_vit_h vgg16, the paper configs)')
    parser.add_argument(
        '--force', action='store_true',
        help='download again even if the file exists')
    parser.add_argument(
        '--verify-only', nargs='+', metavar='PATH',
        help='only verify these files')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    failures: List[str] = []
    if args.verify_only:
        for path in args.verify_only:
            try:
                name = identify_checkpoint(path)
            except (OSError, ChecksumError) as error:
                failures.append(str(error))
            else:
                print(f'{path}: OK, {name} '
                      f'({KNOWN_CHECKPOINTS[name].filename}).')
    else:
        for name in args.models:
            try:
                download_checkpoint(name, args.out_dir, args.force)
            except (OSError, ChecksumError) as error:
                failures.append(str(error))
    for failure in failures:
        print(f'ERROR: {failure}', file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
