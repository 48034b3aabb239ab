"""Shared validation for multi-modal (visible + N) segmentation datasets."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import mmengine
from mmseg.datasets import BaseSegDataset

Source = Union[str, Sequence[str]]


class MultiModalBaseDataset(BaseSegDataset):
    """BaseSegDataset that validates every listed file before training starts.

    Subclasses build ``data_list`` entries with :meth:`_make_data_info`, which
    checks that each file exists and names the split file line it came from
    when it does not. Each entry carries ``modality_names`` and
    ``modality_channels`` (one entry per modality, visible first; also in the
    dataset's metainfo) for :class:`LoadMultiModalImageFromFile`, and
    ``num_label_values`` (raw label values before ``reduce_zero_label`` /
    ``label_map``) so that :class:`LoadCheckedAnnotations` can reject
    out-of-range label pixels.

    Subclasses set the class attributes ``MODALITY_NAMES`` and
    ``MODALITY_CHANNELS`` (RGB-T: ``('rgb', 'thermal')``, ``(3, 1)``) or the
    instance attributes of the same lower-case names before calling
    ``super().__init__`` (datasets with a ``modalities`` choice).
    """
    MODALITY_NAMES: Tuple[str, ...] = ('rgb', 'thermal')
    MODALITY_CHANNELS: Tuple[int, ...] = (3, 1)

    def __init__(self, **kwargs) -> None:
        if not hasattr(self, 'modality_names'):
            self.modality_names = self.MODALITY_NAMES
            self.modality_channels = self.MODALITY_CHANNELS
        super().__init__(**kwargs)
        self._metainfo.update(
            modality_names=tuple(self.modality_names),
            modality_channels=tuple(self.modality_channels))

    def _make_data_info(self,
                        img_path: str,
                        seg_map_path: Optional[str],
                        modality_paths: Optional[Sequence[Source]] = None,
                        origin: str = '') -> dict:
        """Return one data_list entry after checking its files exist.

        Args:
            img_path (str): Visible (or stacked 4-channel) image.
            seg_map_path (str, optional): Label PNG; None when the split has
                no labels.
            modality_paths (Sequence[str | Sequence[str]], optional): One
                source per modality after the visible one (a path, or the
                paths whose channels make up that modality), e.g. the
                separate thermal image of RGB-T data; None when
                ``img_path`` stacks every modality (MFNet).
            origin (str): Where the sample was listed (e.g. ``'train.txt
                line 3'``), used in error messages.
        """
        files = [('image', img_path)]
        for name, source in zip(self.modality_names[1:], modality_paths
                                or ()):
            paths = [source] if isinstance(source, str) else source
            files += [(f'{name} image', path) for path in paths]
        files.append(('label map', seg_map_path))
        where = f' (listed in {origin})' if origin else ''
        for what, path in files:
            if path is not None and not osp.isfile(path):
                raise FileNotFoundError(
                    f'{type(self).__name__}: {what} file {path} does not '
                    f'exist{where}; expected the {self._layout_hint()}.')
        data_info = dict(
            img_path=img_path,
            label_map=self.label_map,
            reduce_zero_label=self.reduce_zero_label,
            num_label_values=self._num_label_values(),
            modality_names=tuple(self.modality_names),
            modality_channels=tuple(self.modality_channels),
            seg_fields=[])
        if seg_map_path is not None:
            data_info['seg_map_path'] = seg_map_path
        if modality_paths is not None:
            data_info['modality_paths'] = tuple(
                p if isinstance(p, str) else tuple(p) for p in modality_paths)
        return data_info

    def _num_label_values(self) -> int:
        """Raw label values: the classes, plus raw 0 (void) when
        ``reduce_zero_label`` shifts the ids down."""
        return len(self.METAINFO['classes']) + int(self.reduce_zero_label)

    def _layout_hint(self) -> str:
        """One sentence describing the expected on-disk layout."""
        return 'layout described in the dataset class docstring'

    def _check_data_root(self) -> None:
        """Raise when ``data_root`` is not a readable directory."""
        if not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'{type(self).__name__}: data_root {self.data_root} is not a '
                f'directory; expected the {self._layout_hint()}. Set '
                '`data_root` in the config or with --cfg-options.')

    def _read_split_file(self) -> List[Tuple[str, str]]:
        """``(name, origin)`` for every non-empty line of ``ann_file``."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{type(self).__name__}: split file {self.ann_file} does not '
                f'exist; expected the {self._layout_hint()}.')
        entries = [(line.strip(), f'{self.ann_file} line {number} '
                    f'({line.strip()!r})')
                   for number, line in enumerate(
                       mmengine.list_from_file(self.ann_file), start=1)
                   if line.strip()]
        if not entries:
            raise ValueError(
                f'{type(self).__name__}: split file {self.ann_file} lists no '
                'images; expected one sample name per line.')
        return entries

    def _check_modalities(self, modalities: Sequence[str],
                          known: Sequence[str]) -> Tuple[str, ...]:
        """Validate a ``modalities`` choice: visible first, known names."""
        modalities = tuple(modalities)
        unknown = [m for m in modalities if m not in known]
        if not modalities or modalities[0] != 'rgb' or unknown or len(
                set(modalities)) != len(modalities):
            raise ValueError(
                f'{type(self).__name__}: modalities={modalities}; expected '
                f"'rgb' first, then distinct names from {tuple(known)}.")
        return modalities
