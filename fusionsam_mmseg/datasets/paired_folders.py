"""Visible + thermal datasets stored as one folder per modality and split."""
import os
import os.path as osp
from typing import Dict, List, Optional

from .rgbt_base import MultiModalBaseDataset


class PairedFolderDataset(MultiModalBaseDataset):
    """``<data_root>/<split>/<folder>/<stem><suffix>`` for each modality.

    Subclasses name the folders in ``FOLDERS`` (keys ``img_path``,
    ``thermal_path``, ``seg_map_path``, as in mmseg's ``data_prefix``; each
    sample's thermal file becomes its ``modality_paths`` entry). The
    samples are every visible image of the split folder, or the stems listed
    in ``ann_file`` (one per line, e.g. a deterministic validation subset
    carved from train).

    Args:
        split (str): Shorthand for ``data_prefix``: the split folder
            (``'train'`` or ``'test'``) holding the modality folders.
            Defaults to ``'train'``.
        ann_file (str): Optional stem list relative to ``data_root``
            (mmseg's keyword); ``''`` lists the visible folder. Defaults to
            ``''``.
        data_prefix (dict, optional): mmseg's keyword: folders relative to
            ``data_root``. Keys given here win over the ones ``split``
            derives (``<split>/<FOLDERS[key]>``). Defaults to None.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """
    FOLDERS: Dict[str, str] = {}

    def __init__(self,
                 split: str = 'train',
                 ann_file: str = '',
                 data_prefix: Optional[dict] = None,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        self.split = split
        prefix = {key: osp.join(split, folder)
                  for key, folder in self.FOLDERS.items()}
        prefix.update(data_prefix or {})
        super().__init__(
            ann_file=ann_file,
            data_prefix=prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def _layout_hint(self) -> str:
        folders = ','.join(self.FOLDERS.values())
        return (f'{type(self).__name__} layout <data_root>/{{train,test}}/'
                f'{{{folders}}}/<stem>{self.img_suffix}')

    def _listed_stems(self) -> List[tuple]:
        """``(stem, origin)`` of the visible folder's images."""
        visible_dir = self.data_prefix['img_path']
        if not osp.isdir(visible_dir):
            raise FileNotFoundError(
                f'{type(self).__name__}: folder {visible_dir} does not '
                f'exist; expected the {self._layout_hint()} '
                f'(split={self.split!r}).')
        stems = sorted(
            name[:-len(self.img_suffix)] for name in os.listdir(visible_dir)
            if name.endswith(self.img_suffix))
        if not stems:
            raise ValueError(
                f'{type(self).__name__}: folder {visible_dir} holds no '
                f'*{self.img_suffix} images; expected the '
                f'{self._layout_hint()}.')
        return [(stem, f'{visible_dir} ({stem!r})') for stem in stems]

    def load_data_list(self) -> List[dict]:
        """List the split's samples and check every file of each."""
        self._check_data_root()
        entries = self._read_split_file() if self.ann_file else \
            self._listed_stems()
        return [
            self._make_data_info(
                img_path=osp.join(self.data_prefix['img_path'],
                                  stem + self.img_suffix),
                modality_paths=[
                    osp.join(self.data_prefix['thermal_path'],
                             stem + self.img_suffix)
                ],
                seg_map_path=osp.join(self.data_prefix['seg_map_path'],
                                      stem + self.seg_map_suffix),
                origin=origin) for stem, origin in entries
        ]
