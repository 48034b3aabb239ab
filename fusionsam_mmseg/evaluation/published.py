"""Published numbers that our runs are compared against.

The FusionSAM tables are copied verbatim from the paper (see
docs/tables.md), every value a percentage with one decimal, as printed;
the multi-modal benchmark tables (DELIVER, MCubeS) give each table's own
source and decimals. Every row carries the split it was scored on and how
its checkpoint (epoch) was selected (``PublishedTable.row_protocol``), and
where the source differs per row, its own source. Nothing here is measured
by this repository; ``tools/analysis/make_tables.py`` prints these rows
beside the numbers of a run.
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class PublishedTable:
    """One published table.

    Args:
        name (str): Short name, used for file names (``mfnet``).
        title (str): Caption.
        columns (tuple[str]): Column headers as printed in the paper.
        class_names (tuple[str | None]): For each column, the dataset class
            name it reports (as in the dataset's ``METAINFO['classes']``);
            ``None`` for summary columns (mIoU).
        metric_keys (tuple[str]): For each column, the results-json key that
            holds the value of a run (``IoU.<class>`` or ``mIoU``).
        rows (dict[str, tuple[float | None]]): Method name -> one value per
            column (None where the source publishes none).
        source (str): Where the rows come from. Defaults to the FusionSAM
            paper.
        decimals (int): Decimals of the values as printed. Defaults to 1.
        protocol (str): Split the rows were scored on and how the epoch was
            selected, for rows not in ``row_protocols``.
        row_protocols (dict[str, str]): Method name -> its split and epoch
            selection where they differ from ``protocol``.
        row_sources (dict[str, str]): Method name -> its source where it
            differs from ``source``.
    """

    name: str
    title: str
    columns: Tuple[str, ...]
    class_names: Tuple[Optional[str], ...]
    metric_keys: Tuple[str, ...]
    rows: Dict[str, Tuple[Optional[float], ...]]
    source: str = 'the FusionSAM paper (docs/tables.md)'
    decimals: int = 1
    protocol: str = ('test split, as the source prints it; how the epoch '
                     'was selected is not given with the table')
    row_protocols: Dict[str, str] = field(default_factory=dict)
    row_sources: Dict[str, str] = field(default_factory=dict)

    def row_protocol(self, method: str) -> str:
        """Split and epoch selection of the published row ``method``."""
        return self.row_protocols.get(method, self.protocol)

    def row_source(self, method: str) -> str:
        """Source of the published row ``method``."""
        return self.row_sources.get(method, self.source)

    def best_row(self, by: str = 'mIoU') -> str:
        """Name of the published row with the highest value in column ``by``.

        Args:
            by (str): Column header. Defaults to ``'mIoU'``.

        Returns:
            str: The method name.
        """
        index = self.columns.index(by)
        published = [m for m in self.rows if self.rows[m][index] is not None]
        return max(published, key=lambda method: self.rows[method][index])


def _per_class_columns(pairs: Tuple[Tuple[str, str], ...]) -> dict:
    """Columns, class names and json keys for a per-class IoU table."""
    headers = tuple(header for header, _ in pairs) + ('mIoU', )
    class_names = tuple(name for _, name in pairs) + (None, )
    keys = tuple(f'IoU.{name}' for _, name in pairs) + ('mIoU', )
    return dict(columns=headers, class_names=class_names, metric_keys=keys)


# MFNet: columns are all 9 classes in label order; `unlabeled` counts in mIoU.
MFNET_CLASSES = ('unlabeled', 'car', 'person', 'bike', 'curve', 'car_stop',
                 'guardrail', 'color_cone', 'bump')

MFNET_PER_CLASS = PublishedTable(
    name='mfnet',
    title='MFNet test set, per-class IoU (%)',
    **_per_class_columns(tuple((name, name) for name in MFNET_CLASSES)),
    rows={
        'EGFNet': (97.7, 87.6, 69.8, 58.8, 42.8, 33.8, 7.3, 48.3, 47.1, 54.8),
        'SegMiF': (98.1, 87.8, 71.4, 63.2, 47.5, 31.1, 0.0, 48.9, 50.3, 56.1),
        'EAEFNet': (97.6, 87.6, 72.6, 63.8, 48.6, 35.0, 14.2, 52.4, 58.3,
                    58.9),
        'LASNet': (97.4, 84.2, 67.1, 56.9, 41.1, 39.6, 18.9, 48.8, 40.1, 54.9),
        'SFAF-MA': (97.0, 88.1, 73.0, 61.3, 45.6, 29.5, 5.5, 45.7, 53.8,
                    55.5),
        'ECFNet': (98.0, 85.7, 73.5, 59.7, 45.7, 36.7, 4.0, 47.4, 55.1, 56.2),
        'MRFS': (98.6, 89.4, 75.4, 65.0, 49.0, 37.2, 5.4, 53.1, 58.8, 59.1),
        'FusionSAM (paper)': (98.8, 89.8, 74.0, 75.8, 69.6, 60.2, 0.0, 37.8,
                              61.4, 63.0),
    })

# FMB: the paper reports 8 of the 15 classes (T-Lamp = Lamp, T-Sign = Sign);
# its mIoU is over all classes of the dataset.
FMB_CLASSES = ('unlabeled', 'Road', 'Sidewalk', 'Building', 'Lamp', 'Sign',
               'Vegetation', 'Sky', 'Person', 'Car', 'Truck', 'Bus',
               'Motorcycle', 'Bicycle', 'Pole')

FMB_PER_CLASS = PublishedTable(
    name='fmb',
    title='FMB test set, per-class IoU (%) of the reported classes; mIoU '
    'over all classes',
    **_per_class_columns((
        ('Car', 'Car'),
        ('Person', 'Person'),
        ('Truck', 'Truck'),
        ('T-Lamp', 'Lamp'),
        ('T-Sign', 'Sign'),
        ('Building', 'Building'),
        ('Vegetation', 'Vegetation'),
        ('Pole', 'Pole'),
    )),
    rows={
        'EGFNet': (77.4, 63.0, 17.1, 25.2, 66.6, 77.2, 83.5, 41.5, 47.3),
        'SegMiF': (78.7, 65.5, 42.4, 35.6, 71.7, 80.1, 85.1, 35.7, 58.5),
        'EAEFNet': (79.7, 61.6, 22.5, 34.3, 74.6, 82.3, 86.6, 46.2, 58.0),
        'LASNet': (73.2, 58.3, 33.1, 32.6, 68.5, 80.8, 83.4, 41.0, 55.7),
        'SFAF-MA': (73.0, 55.7, 14.3, 13.6, 54.2, 73.0, 78.9, 38.1, 42.7),
        'ECFNet': (80.0, 63.1, 12.8, 40.6, 71.9, 81.4, 84.4, 44.6, 52.5),
        'MRFS': (76.2, 71.3, 34.4, 50.1, 75.8, 85.4, 87.0, 53.6, 61.2),
        'FusionSAM (paper)': (80.1, 52.8, 45.9, 43.7, 46.4, 85.5, 88.4, 50.8,
                              61.8),
    })

# Tables of mIoU on both datasets (columns: MFNet, FMB).
DATASET_COLUMNS = ('MFNet', 'FMB')

SAM_ON_FUSED = PublishedTable(
    name='sam_on_fused',
    title='Segment Anything models on the fused images, mIoU (%)',
    columns=DATASET_COLUMNS,
    class_names=(None, None),
    metric_keys=('mIoU', 'mIoU'),
    rows={
        'SAM': (32.7, 34.6),
        'SAM2': (43.0, 46.3),
        'FusionSAM': (63.0, 61.8),
    })

ABLATION = PublishedTable(
    name='ablation',
    title='Ablation, mIoU (%)',
    columns=DATASET_COLUMNS,
    class_names=(None, None),
    metric_keys=('mIoU', 'mIoU'),
    rows={
        'w/o LSTG': (35.6, 41.4),
        'concat instead of FMP': (47.3, 57.6),
        'full FusionSAM': (63.0, 61.8),
    })

# Multi-modal benchmarks (docs/tables.md): mIoU by the modalities a model is
# given, two decimals, as printed in the sources. The official MemorySAM and
# CMNeXt code evaluate after every epoch and keep the best checkpoint:
# DELIVER on its `val` split, MCubeS on list_folder/test.txt (their loaders'
# "val" reads test.txt), so none of these rows is a held-out test score.
MEMORYSAM_CODE = 'Chenfei-Liao/MemorySAM @ 1024065'
CMNEXT_CODE = 'jamycheung/DELIVER @ 4981c16'
DELIVER_MODALITIES = ('RGB', 'RGB-D', 'RGB-D-E', 'RGB-D-E-L')

DELIVER_MIOU = PublishedTable(
    name='deliver',
    title='DELIVER, mIoU (%) by input modalities (split and epoch '
    'selection per row in the notes)',
    columns=DELIVER_MODALITIES,
    class_names=(None, ) * len(DELIVER_MODALITIES),
    metric_keys=('mIoU', ) * len(DELIVER_MODALITIES),
    rows={
        'CMNeXt-B2': (57.20, 63.58, 64.44, 66.30),
        'MemorySAM (Hiera-B+)': (53.22, 63.48, 62.42, 65.38),
    },
    source='see each row',
    decimals=2,
    row_protocols={
        'CMNeXt-B2':
        'val split (tools/train_mm.py evaluates `val` after every epoch '
        'from epoch 101 and keeps the best; tools/val_mm.py reads `val`, '
        'its test line commented out), best epoch of 200 on val; frames '
        'resized to 1024x1024',
        'MemorySAM (Hiera-B+)':
        'val split (train_sam2_lora.py evaluates `val` after every epoch '
        'and keeps the best), best epoch of 200 on val (RGB-D: epoch 154); '
        'frames resized to 1024x1024',
    },
    row_sources={
        'CMNeXt-B2':
        f'CMNeXt model zoo, README.md "Model Zoo / DELIVER dataset" of '
        f'{CMNEXT_CODE}',
        'MemorySAM (Hiera-B+)':
        'RGB-D-E-L 65.38: README.md / abstract of arXiv 2503.06700 '
        f'({MEMORYSAM_CODE}); RGB-D 63.48: the released checkpoint '
        '`.../AblationStudy_RGBD_mo08_weight1lr0.00045/.../epoch154_63.48'
        '.pth` in configs/deliver_rgbdel_sam.yaml (EVAL.MODEL_PATH) of '
        f'{MEMORYSAM_CODE}; RGB 53.22 and RGB-D-E 62.42: the MemorySAM '
        'paper\'s DELIVER table, second-hand extraction (design notes), not '
        'checked against the paper here',
    })

MCUBES_MODALITIES = ('R-A', 'R-A-D', 'R-A-D-N')

MCUBES_MIOU = PublishedTable(
    name='mcubes',
    title='MCubeS, mIoU (%) by input modalities (R: RGB, A: AoLP, D: DoLP, '
    'N: NIR; split and epoch selection per row in the notes)',
    columns=MCUBES_MODALITIES,
    class_names=(None, ) * len(MCUBES_MODALITIES),
    metric_keys=('mIoU', ) * len(MCUBES_MODALITIES),
    rows={
        'MemorySAM (Hiera-B+)': (51.20, 52.20, 52.88),
        'CMNeXt-B2': (48.42, 49.48, 51.54),
    },
    source='see each row',
    decimals=2,
    row_protocols={
        'MemorySAM (Hiera-B+)':
        'list_folder/test.txt (the official loader\'s "val" reads it), '
        'best epoch on it: 259 / 326 / 453 of 500; images resized and '
        'centre-cropped to 1024x1024',
        'CMNeXt-B2':
        'list_folder/test.txt (the loader\'s "val" reads it), best epoch '
        'on it among epochs 401-500 (tools/train_mm.py, EVAL_START 400)',
    },
    row_sources={
        'MemorySAM (Hiera-B+)':
        'the released checkpoints `epoch259_51.2.pth` (R-A, lr 3.5e-4), '
        '`epoch326_52.2.pth` (R-A-D, lr 4e-4) and `epoch453_52.88.pth` '
        '(R-A-D-N, lr 3.5e-4) in configs/mcubes_rgbadn_sam.yaml '
        f'(EVAL.MODEL_PATH) of {MEMORYSAM_CODE}; 52.88 also in its README '
        '/ the abstract of arXiv 2503.06700',
        'CMNeXt-B2':
        'CMNeXt model zoo, README.md "Model Zoo / MCubeS" of '
        f'{CMNEXT_CODE} (it also lists RGB only: 48.16)',
    })

# Fusion quality on MSRS (docs/fusion_metrics.md, docs/sage.md): values as
# the metrics define them
# (not percentages). Only SAGE's Qabf is transcribed (second-hand); the other
# columns of its table are left empty rather than guessed.
FUSION_METRIC_COLUMNS = ('EN', 'SD', 'SF', 'AG', 'MI', 'SCD', 'VIF', 'Qabf')

SAGE_MSRS_FUSION = PublishedTable(
    name='fusion_msrs',
    title='MSRS test set, fusion quality of the fused images',
    columns=FUSION_METRIC_COLUMNS,
    class_names=(None, ) * len(FUSION_METRIC_COLUMNS),
    metric_keys=FUSION_METRIC_COLUMNS,
    rows={'SAGE (paper)': (None, ) * 7 + (0.6242, )},
    source='SAGE (Wu et al., CVPR 2025), Qabf as listed by a second-hand '
    'aggregator (docs/sage.md); its other columns are not transcribed',
    decimals=4)

PUBLISHED_TABLES = {
    table.name: table
    for table in (MFNET_PER_CLASS, FMB_PER_CLASS, SAM_ON_FUSED, ABLATION,
                  DELIVER_MIOU, MCUBES_MIOU, SAGE_MSRS_FUSION)
}
