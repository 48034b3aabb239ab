"""MFNet RGB-thermal urban scene dataset (Ha et al., IROS 2017)."""
import os.path as osp
from typing import List

from mmseg.registry import DATASETS

from .rgbt_base import MultiModalBaseDataset


@DATASETS.register_module()
class MFNetDataset(MultiModalBaseDataset):
    """MFNet: 4-channel PNGs (R, G, B, thermal as alpha), 9 classes.

    Layout::

        data_root/
          images/<stem>.png   # 4 channels: R, G, B, thermal; 480x640
          labels/<stem>.png   # 1 channel, values 0..8
          train.txt val.txt test.txt test_day.txt test_night.txt

    ``unlabeled`` is a class (every published MFNet table counts it), so
    ``reduce_zero_label=False`` and ``ignore_index=255``.
    ``METAINFO['fusion_mask_classes']`` names the classes FusionSAM's fusion
    mask treats as objects: all but ``unlabeled`` (every MFNet class is an
    object or a road marking; the configs give their label ids as
    ``fusion_mask_classes``).

    Args:
        ann_file (str): Split file relative to ``data_root`` (one stem per
            line), mmseg's keyword: e.g. ``'train.txt'``, ``'val.txt'`` or
            ``'test_night.txt'``. Defaults to ``'train.txt'``.
        data_prefix (dict): Image and label folders relative to
            ``data_root``. Defaults to
            ``dict(img_path='images', seg_map_path='labels')``.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(
        classes=('unlabeled', 'car', 'person', 'bike', 'curve', 'car_stop',
                 'guardrail', 'color_cone', 'bump'),
        fusion_mask_classes=('car', 'person', 'bike', 'curve', 'car_stop',
                             'guardrail', 'color_cone', 'bump'),
        palette=[[0, 0, 0], [64, 0, 128], [64, 64, 0], [0, 128, 192],
                 [0, 0, 192], [128, 128, 0], [64, 64, 128], [192, 128, 128],
                 [192, 64, 0]])

    def __init__(self,
                 ann_file: str = 'train.txt',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='labels'),
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        super().__init__(
            ann_file=ann_file,
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)

    def _layout_hint(self) -> str:
        return ('MFNet layout <data_root>/images/<stem>.png (4-channel '
                'R,G,B,thermal), <data_root>/labels/<stem>.png and split '
                'files <data_root>/{train,val,test}.txt')

    def load_data_list(self) -> List[dict]:
        """Read the split file and check every listed image and label."""
        self._check_data_root()
        return [
            self._make_data_info(
                img_path=osp.join(self.data_prefix['img_path'],
                                  stem + self.img_suffix),
                seg_map_path=osp.join(self.data_prefix['seg_map_path'],
                                      stem + self.seg_map_suffix),
                origin=origin) for stem, origin in self._read_split_file()
        ]
