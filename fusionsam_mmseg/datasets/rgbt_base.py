"""Shared validation for visible + thermal segmentation datasets."""
import os.path as osp
from typing import Optional

from mmseg.datasets import BaseSegDataset


class RGBTBaseDataset(BaseSegDataset):
    """BaseSegDataset that validates every listed file before training starts.

    Subclasses build ``data_list`` entries with :meth:`_make_data_info`, which
    checks that each file exists and names the split file line it came from
    when it does not. Each entry also carries ``num_label_values`` (the number
    of raw label values, before ``label_map``) so that
    :class:`LoadCheckedAnnotations` can reject out-of-range label pixels.
    """

    def _make_data_info(self,
                        img_path: str,
                        seg_map_path: Optional[str],
                        thermal_path: Optional[str] = None,
                        origin: str = '') -> dict:
        """Return one data_list entry after checking its files exist.

        Args:
            img_path (str): Visible (or stacked 4-channel) image.
            seg_map_path (str, optional): Label PNG; None when the split has
                no labels.
            thermal_path (str, optional): Separate thermal image.
            origin (str): Where the sample was listed (e.g. ``'train.txt
                line 3'``), used in error messages.
        """
        where = f' (listed in {origin})' if origin else ''
        for what, path in (('image', img_path), ('thermal image', thermal_path),
                           ('label map', seg_map_path)):
            if path is not None and not osp.isfile(path):
                raise FileNotFoundError(
                    f'{type(self).__name__}: {what} file {path} does not '
                    f'exist{where}; expected the {self._layout_hint()}.')
        data_info = dict(
            img_path=img_path,
            label_map=self.label_map,
            reduce_zero_label=self.reduce_zero_label,
            num_label_values=len(self.METAINFO['classes']),
            seg_fields=[])
        if seg_map_path is not None:
            data_info['seg_map_path'] = seg_map_path
        if thermal_path is not None:
            data_info['thermal_path'] = thermal_path
        return data_info

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
