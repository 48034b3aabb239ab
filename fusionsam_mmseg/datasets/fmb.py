"""FMB visible-infrared segmentation dataset (Liu et al., ICCV 2023)."""
import os
import os.path as osp
from typing import List

from mmseg.registry import DATASETS

from .rgbt_base import RGBTBaseDataset

FMB_CLASSES = ('unlabeled', 'Road', 'Sidewalk', 'Building', 'Lamp', 'Sign',
               'Vegetation', 'Sky', 'Person', 'Car', 'Truck', 'Bus',
               'Motorcycle', 'Bicycle', 'Pole')
FMB_PALETTE = [[0, 0, 0], [128, 64, 128], [244, 35, 232], [70, 70, 70],
               [250, 170, 30], [220, 220, 0], [107, 142, 35], [70, 130, 180],
               [220, 20, 60], [0, 0, 142], [0, 0, 70], [0, 60, 100],
               [0, 0, 230], [119, 11, 32], [153, 153, 153]]


@DATASETS.register_module()
class FMBDataset(RGBTBaseDataset):
    """FMB: separate visible and infrared PNGs, 15 label values (0..14).

    Layout (a ``color/`` folder of RGB label renderings may exist; ignored)::

        data_root/{train,test}/Visible/<stem>.png    # RGB, 600x800
        data_root/{train,test}/Infrared/<stem>.png   # grey, 1 or 3 channels
        data_root/{train,test}/Label/<stem>.png      # values 0..14

    By default ``unlabeled`` is counted as a class (15 classes), the
    convention of the numbers FusionSAM compares against. With
    ``count_unlabeled=False`` the 14-class convention is used: ``unlabeled``
    pixels become ``ignore_index`` (255) and the other ids shift down by one
    (through mmseg's ``label_map``).

    Args:
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        count_unlabeled (bool): Count ``unlabeled`` as a class. Defaults to
            True.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(classes=FMB_CLASSES, palette=FMB_PALETTE)

    def __init__(self,
                 split: str = 'train',
                 count_unlabeled: bool = True,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 metainfo: dict = None,
                 **kwargs) -> None:
        self.split = split
        if not count_unlabeled and metainfo is None:
            metainfo = dict(classes=FMB_CLASSES[1:], palette=FMB_PALETTE[1:])
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=False,
            metainfo=metainfo,
            data_prefix=dict(
                img_path=osp.join(split, 'Visible'),
                thermal_path=osp.join(split, 'Infrared'),
                seg_map_path=osp.join(split, 'Label')),
            **kwargs)

    def _layout_hint(self) -> str:
        return ('FMB layout <data_root>/{train,test}/{Visible,Infrared,'
                'Label}/<stem>.png')

    def load_data_list(self) -> List[dict]:
        """List the visible images of the split and check their pairs."""
        self._check_data_root()
        visible_dir = self.data_prefix['img_path']
        if not osp.isdir(visible_dir):
            raise FileNotFoundError(
                f'FMBDataset: folder {visible_dir} does not exist; expected '
                f'the {self._layout_hint()} (split={self.split!r}).')
        stems = sorted(
            name[:-len(self.img_suffix)] for name in os.listdir(visible_dir)
            if name.endswith(self.img_suffix))
        if not stems:
            raise ValueError(
                f'FMBDataset: folder {visible_dir} holds no '
                f'*{self.img_suffix} images; expected the '
                f'{self._layout_hint()}.')
        return [
            self._make_data_info(
                img_path=osp.join(visible_dir, stem + self.img_suffix),
                thermal_path=osp.join(self.data_prefix['thermal_path'],
                                      stem + self.img_suffix),
                seg_map_path=osp.join(self.data_prefix['seg_map_path'],
                                      stem + self.seg_map_suffix),
                origin=f'{visible_dir} ({stem!r})') for stem in stems
        ]
