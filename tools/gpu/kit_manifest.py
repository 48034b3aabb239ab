"""Write the GPU kit's manifest and checksums (called by tools/gpu/prepare.sh).

Matches every package of ``tools/gpu/kit_packages.txt`` to exactly one file
of the kit (``wheels/*.whl``, ``sdists/*.tar.gz``), refuses missing, extra
and impure built files, then writes ``manifest.json`` (name, version, kind,
file, sha256, bytes of each; the total) and ``SHA256SUMS`` (read by
``sha256sum -c`` on the device) and prints a table::

    python tools/gpu/kit_manifest.py KIT_DIR tools/gpu/kit_packages.txt \\
        --python-version 3.12 --max-mib 60
"""
import argparse
import hashlib
import json
import re
from pathlib import Path
from typing import Dict, List

KINDS = ('wheel', 'build', 'sdist')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('kit', type=Path, help='the kit folder')
    parser.add_argument('packages', type=Path, help='kit_packages.txt')
    parser.add_argument('--python-version', required=True)
    parser.add_argument('--max-mib', type=float, default=60.0)
    return parser.parse_args(argv)


def read_packages(path: Path) -> List[Dict[str, str]]:
    """``KIND NAME==VERSION`` lines (comments and blank lines skipped)."""
    packages = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r'(\w+)\s+([A-Za-z0-9_.\-]+)==(\S+)', line)
        if not match or match.group(1) not in KINDS:
            raise SystemExit(
                f'{path}:{number}: expected "KIND NAME==VERSION" with KIND '
                f'one of {KINDS}, got {line!r}')
        kind, name, version = match.groups()
        packages.append(dict(kind=kind, name=name, version=version))
    return packages


def normalized(name: str) -> str:
    """The distribution name as wheel and sdist file names spell it."""
    return re.sub(r'[-_.]+', '_', name).lower()


def name_and_version(path: Path) -> tuple:
    """(distribution name, version) from a wheel or sdist file name."""
    if path.name.endswith('.whl'):
        name, version = path.name.split('-')[:2]
    else:
        name, version = path.name[:-len('.tar.gz')].rsplit('-', 1)
    return normalized(name), version


def file_of(package: Dict[str, str], kit: Path) -> Path:
    """The one kit file of a package; exits naming what is wrong."""
    folder = 'sdists' if package['kind'] == 'sdist' else 'wheels'
    suffix = '.tar.gz' if package['kind'] == 'sdist' else '.whl'
    wanted = (normalized(package['name']), package['version'])
    found = [path for path in sorted((kit / folder).glob(f'*{suffix}'))
             if name_and_version(path) == wanted]
    if len(found) != 1:
        raise SystemExit(
            f'{kit / folder}: expected one {suffix} file for '
            f"{package['name']}=={package['version']}, found "
            f'{[path.name for path in found]}')
    if package['kind'] == 'build' and not found[0].name.endswith(
            '-none-any.whl'):
        raise SystemExit(f'{found[0]}: a wheel built here must be pure '
                         'Python (*-none-any.whl) to run on the device')
    return found[0]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for chunk in iter(lambda: file.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def build_manifest(args: argparse.Namespace) -> dict:
    entries = []
    for package in read_packages(args.packages):
        path = file_of(package, args.kit)
        entries.append(dict(
            package,
            file=str(path.relative_to(args.kit)),
            sha256=sha256(path),
            bytes=path.stat().st_size))
    listed = {entry['file'] for entry in entries}
    extra = sorted(
        str(path.relative_to(args.kit))
        for path in list(args.kit.glob('wheels/*')) +
        list(args.kit.glob('sdists/*')) if str(path.relative_to(args.kit))
        not in listed)
    if extra:
        raise SystemExit(f'{args.kit}: files not in {args.packages}: '
                         f'{extra} (two versions of one package stop the '
                         'offline install)')
    return dict(
        python_version=args.python_version,
        platform='manylinux x86_64',
        packages=entries,
        total_bytes=sum(entry['bytes'] for entry in entries))


def main(argv=None) -> None:
    args = parse_args(argv)
    manifest = build_manifest(args)
    total_mib = manifest['total_bytes'] / 2**20
    for entry in manifest['packages']:
        pin = f"{entry['name']}=={entry['version']}"
        print(f"  {entry['kind']:5s} {pin:36s} {entry['bytes'] / 2**10:8.1f}"
              f" KiB  {entry['file']}")
    print(f'  total {total_mib:.2f} MiB in {len(manifest["packages"])} '
          f'files (limit {args.max_mib:g} MiB)')
    if total_mib > args.max_mib:
        raise SystemExit(f'{args.kit}: the kit is {total_mib:.2f} MiB, over '
                         f'the {args.max_mib:g} MiB limit')
    (args.kit / 'manifest.json').write_text(json.dumps(manifest, indent=2))
    (args.kit / 'SHA256SUMS').write_text(''.join(
        f"{entry['sha256']}  {entry['file']}\n"
        for entry in manifest['packages']))


if __name__ == '__main__':
    main()
