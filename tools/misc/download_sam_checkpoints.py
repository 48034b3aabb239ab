"""Download and verify the official Segment Anything checkpoints.

Usage::

    # download (default: ViT-H) into checkpoints/sam and verify
    python tools/misc/download_sam_checkpoints.py --out-dir checkpoints/sam \
        --types vit_h vit_b
    # verify files you already have
    python tools/misc/download_sam_checkpoints.py --verify-only \
        checkpoints/sam/sam_vit_h_4b8939.pth

The files come from Meta's segment-anything release
(https://github.com/facebookresearch/segment-anything#model-checkpoints).
Meta publishes no checksums. The digests below are what we can justify:

- md5: the 6 hex digits in each file name (``sam_vit_h_4b8939.pth``) are the
  start of the file's md5 digest; the full md5 values below are the ones
  published by many independent downstream projects (download scripts,
  ``md5sum`` listings), all starting with the name's digits.
- sha256: the full values as pinned by independent downstream projects
  (e.g. micro-sam's checkpoint table; ViT-H also in several reproduction
  manifests, with size 2,564,550,879 bytes).

A file passes when both its sha256 and its md5 match. Downloads go through
``torch.hub.download_url_to_file`` (temporary file, moved into place only
when the sha256 matches).
"""
import argparse
import hashlib
import os
import os.path as osp
import sys
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

URL_ROOT = 'https://dl.fbaipublicfiles.com/segment_anything'


class CheckpointInfo(NamedTuple):
    """One official checkpoint: file name, URL and digests (hex)."""

    filename: str
    url: str
    sha256: str
    md5: str


def _official(filename: str, sha256: str, md5: str) -> CheckpointInfo:
    return CheckpointInfo(filename, f'{URL_ROOT}/{filename}', sha256, md5)


OFFICIAL_CHECKPOINTS: Dict[str, CheckpointInfo] = {
    'vit_h': _official(
        'sam_vit_h_4b8939.pth',
        'a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e',
        '4b8939a88964f0f4ff5f5b2642c598a6'),
    'vit_l': _official(
        'sam_vit_l_0b3195.pth',
        '3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622',
        '0b3195507c641ddb6910d2bb5adee89c'),
    'vit_b': _official(
        'sam_vit_b_01ec64.pth',
        'ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912',
        '01ec64d29a2fca3f0661936605ae66f8'),
}


class ChecksumError(RuntimeError):
    """A file is not the official checkpoint it should be."""


def file_digests(path: str, chunk_size: int = 1 << 20) -> Tuple[str, str]:
    """Return the (sha256, md5) hex digests of ``path`` (one read)."""
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, 'rb') as file:
        for chunk in iter(lambda: file.read(chunk_size), b''):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()


def identify_checkpoint(path: str) -> str:
    """Verify ``path`` against the official digests.

    Args:
        path (str): A checkpoint file. When its name is an official file
            name it must match that file; otherwise it must match any.

    Returns:
        str: The sam_type (``'vit_h'`` ...) whose checkpoint ``path`` is.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f"'{path}' does not exist.")
    sha256, md5 = file_digests(path)
    named = [sam_type for sam_type, info in OFFICIAL_CHECKPOINTS.items()
             if info.filename == osp.basename(path)]
    for sam_type in named or OFFICIAL_CHECKPOINTS:
        info = OFFICIAL_CHECKPOINTS[sam_type]
        if (sha256, md5) == (info.sha256, info.md5):
            return sam_type
    if named:
        info = OFFICIAL_CHECKPOINTS[named[0]]
        raise ChecksumError(
            f"'{path}' is named like the official {info.filename} but its "
            f'checksums differ: expected sha256 {info.sha256} / md5 '
            f'{info.md5}, found sha256 {sha256} / md5 {md5}. The file is '
            'corrupt or incomplete; delete it and download it again.')
    raise ChecksumError(
        f"'{path}' is not an official SAM checkpoint (sha256 {sha256}, md5 "
        f'{md5} match none of '
        f'{[info.filename for info in OFFICIAL_CHECKPOINTS.values()]}).')


def download_checkpoint(sam_type: str, out_dir: str,
                        force: bool = False) -> str:
    """Download one official checkpoint into ``out_dir`` and verify it.

    Args:
        sam_type (str): ``'vit_h'``, ``'vit_l'`` or ``'vit_b'``.
        out_dir (str): Destination folder (created if needed).
        force (bool): Download again even if a file is already there.

    Returns:
        str: Path of the verified file.
    """
    from torch.hub import download_url_to_file

    info = OFFICIAL_CHECKPOINTS[sam_type]
    path = osp.join(out_dir, info.filename)
    if osp.isfile(path) and not force:
        identify_checkpoint(path)
        print(f'{path}: already present and verified.')
        return path
    os.makedirs(out_dir, exist_ok=True)
    print(f'Downloading {info.url} -> {path}')
    try:
        download_url_to_file(info.url, path, hash_prefix=info.sha256)
    except RuntimeError as error:
        raise ChecksumError(f'{info.url}: {error}') from error
    if identify_checkpoint(path) != sam_type:
        raise ChecksumError(f'{path} is not the {sam_type} checkpoint.')
    print(f'{path}: verified (sha256 {info.sha256}).')
    return path


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Download and verify the official SAM checkpoints.')
    parser.add_argument(
        '--out-dir', default='checkpoints/sam',
        help='destination folder (default: checkpoints/sam)')
    parser.add_argument(
        '--types', nargs='+', choices=sorted(OFFICIAL_CHECKPOINTS),
        default=['vit_h'], help='which checkpoints (default: vit_h)')
    parser.add_argument(
        '--force', action='store_true',
        help='download again even if the file exists')
    parser.add_argument(
        '--verify-only', nargs='+', metavar='PATH',
        help='only verify these files against the official checksums')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    failures: List[str] = []
    if args.verify_only:
        for path in args.verify_only:
            try:
                sam_type = identify_checkpoint(path)
            except (OSError, ChecksumError) as error:
                failures.append(str(error))
            else:
                print(f'{path}: OK, official {sam_type} checkpoint '
                      f'({OFFICIAL_CHECKPOINTS[sam_type].filename}).')
    else:
        for sam_type in args.types:
            try:
                download_checkpoint(sam_type, args.out_dir, args.force)
            except (OSError, ChecksumError) as error:
                failures.append(str(error))
    for failure in failures:
        print(f'ERROR: {failure}', file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
