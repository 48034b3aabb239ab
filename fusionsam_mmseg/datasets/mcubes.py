"""MCubeS multimodal material segmentation (Liang et al., CVPR 2022)."""
import os.path as osp
from typing import List, Optional, Sequence

from mmseg.registry import DATASETS

from .rgbt_base import MultiModalBaseDataset

MCUBES_CLASSES = ('asphalt', 'concrete', 'metal', 'road_marking', 'fabric',
                  'glass', 'plaster', 'plastic', 'rubber', 'sand', 'gravel',
                  'ceramic', 'cobblestone', 'brick', 'grass', 'wood', 'leaf',
                  'water', 'human', 'sky')
MCUBES_PALETTE = [[44, 160, 44], [31, 119, 180], [255, 127, 14],
                  [214, 39, 40], [140, 86, 75], [127, 127, 127],
                  [188, 189, 34], [255, 152, 150], [23, 190, 207],
                  [174, 199, 232], [196, 156, 148], [197, 176, 213],
                  [247, 182, 210], [199, 199, 199], [219, 219, 141],
                  [158, 218, 229], [57, 59, 121], [107, 110, 207],
                  [156, 158, 222], [99, 121, 57]]
# Modality -> channels and its files as (data_prefix key, extension); the
# channels of a modality's files are concatenated in this order.
MCUBES_MODALITIES = dict(
    rgb=(3, (('img_path', '.png'), )),
    aolp=(2, (('aolp_sin_path', '.npy'), ('aolp_cos_path', '.npy'))),
    dolp=(1, (('dolp_path', '.npy'), )),
    nir=(1, (('nir_path', '.png'), )))
MCUBES_PREFIX = dict(
    img_path='polL_color',
    seg_map_path='GT',
    aolp_sin_path='polL_aolp_sin',
    aolp_cos_path='polL_aolp_cos',
    dolp_path='polL_dolp',
    nir_path='NIR_warped')


@DATASETS.register_module()
class MCubeSDataset(MultiModalBaseDataset):
    """MCubeS: RGB, AoLP, DoLP and NIR, 20 material classes, 1024x1224.

    Layout::

        data_root/polL_color/<name>.png      # RGB (8- or 16-bit)
        data_root/polL_aolp_sin/<name>.npy   # float, sin(2 AoLP) in [-1, 1]
        data_root/polL_aolp_cos/<name>.npy   # float, cos(2 AoLP) in [-1, 1]
        data_root/polL_dolp/<name>.npy       # float, DoLP in [0, 1]
        data_root/NIR_warped/<name>.png      # NIR warped to RGB, 1 channel
        data_root/GT/<name>.png              # class ids 0..19, 255 ignored
        data_root/list_folder/{train,val,test}.txt

    Modalities stack as RGB (3 channels), AoLP (sin, cos: 2), DoLP (1),
    NIR (1). The ``.npy`` arrays are scaled to 0..255 by
    :class:`LoadMultiModalImageFromFile` from the ranges the config gives it
    (``npy_value_ranges=dict(aolp=(-1, 1), dolp=(0, 1))``). The warped NIR
    image does not cover the left 192 columns: the configs drop them with
    ``CropMargins(left=192)``, as the public loader does. Unlike the public
    loader, whose "val" reads ``test.txt``, each split reads its own file.

    Args:
        ann_file (str): mmseg's keyword: the split file relative to
            ``data_root``. Defaults to ``'list_folder/train.txt'``.
        modalities (Sequence[str]): Modalities to load, ``'rgb'`` first,
            then any of ``'aolp'``, ``'dolp'``, ``'nir'`` in stacking order.
            Defaults to all four.
        data_prefix (dict, optional): mmseg's keyword: folders relative to
            ``data_root``; given keys override those of ``MCUBES_PREFIX``.
            Defaults to None.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(classes=MCUBES_CLASSES, palette=MCUBES_PALETTE)

    def __init__(self,
                 ann_file: str = 'list_folder/train.txt',
                 modalities: Sequence[str] = ('rgb', 'aolp', 'dolp', 'nir'),
                 data_prefix: Optional[dict] = None,
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        self.modality_names = self._check_modalities(modalities,
                                                     MCUBES_MODALITIES)
        self.modality_channels = tuple(
            MCUBES_MODALITIES[name][0] for name in self.modality_names)
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(
            ann_file=ann_file,
            data_prefix={**MCUBES_PREFIX, **(data_prefix or {})},
            img_suffix='.png',
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def _layout_hint(self) -> str:
        return ('MCubeS layout <data_root>/{polL_color,NIR_warped,GT}/'
                '<name>.png, <data_root>/{polL_aolp_sin,polL_aolp_cos,'
                'polL_dolp}/<name>.npy and <data_root>/list_folder/'
                '{train,val,test}.txt')

    def _files(self, modality: str, name: str) -> List[str]:
        return [
            osp.join(self.data_prefix[key], name + extension)
            for key, extension in MCUBES_MODALITIES[modality][1]
        ]

    def load_data_list(self) -> List[dict]:
        """Read the split file and check every modality's files."""
        self._check_data_root()
        return [
            self._make_data_info(
                img_path=self._files('rgb', name)[0],
                seg_map_path=osp.join(self.data_prefix['seg_map_path'],
                                      name + self.seg_map_suffix),
                modality_paths=[
                    self._files(modality, name)
                    for modality in self.modality_names[1:]
                ],
                origin=origin) for name, origin in self._read_split_file()
        ]
