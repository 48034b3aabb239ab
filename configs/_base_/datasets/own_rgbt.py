# Your own RGB-T data (docs/own_data.md): one folder per modality, files
# matched by stem, labels as class-id PNGs that
# tools/dataset_converters/prepare_own_dataset.py writes from colour labels,
# with the split files it writes:
#
#   data_root/rgb/<stem>.jpg         visible, 3 channels
#   data_root/thermal/<stem>.png     thermal, 1 channel (grey)
#   data_root/labels/<stem>.png      colour labels (the palette below)
#   data_root/label_ids/<stem>.png   class ids (written by the converter)
#   data_root/splits/{train,val,test}.txt
#
# Edit the settings block for your data: the classes and their palette
# colours (class id = position), and one entry per modality (name, folder,
# file suffix, channels; visible first); the model configs read the
# classes, modalities and normalisation from here. To
# train on the colour labels without converting them, set
# label_folder='labels' and label_format='color'.
# The example values are those of the example folder that
# `tools/dataset_converters/make_demo_rgbt.py --format multimodal_folder`
# writes.
# Protocol (docs/datasets.md): train on splits/train.txt, validate (model
# selection) on splits/val.txt, test once on splits/test.txt at native
# resolution.

# ---- your data --------------------------------------------------------------
dataset_type = 'MultiModalFolderDataset'
data_root = 'data/own_rgbt'
classes = ('background', 'person', 'car', 'bicycle', 'lane_mark', 'pole')
palette = [[0, 0, 0], [220, 20, 60], [0, 0, 142], [119, 11, 32],
           [255, 255, 255], [153, 153, 153]]
modalities = [
    dict(name='rgb', folder='rgb', suffix='.jpg', channels=3),
    dict(name='thermal', folder='thermal', suffix='.png', channels=1),
]
label_folder = 'label_ids'
label_format = 'id'
image_size = (480, 640)  # (H, W) of your images: the train rescaling base
crop_size = (480, 640)
batch_size = 4
# -----------------------------------------------------------------------------

num_classes = len(classes)
modality_names = tuple(m['name'] for m in modalities)
modality_channels = tuple(m['channels'] for m in modalities)
num_modalities = len(modalities)
# Per-channel normalisation for the models' data preprocessors: ImageNet's
# for R, G, B, and 127.5 / 64 for every other channel (0..255 to about
# -2..2).
extra_channels = sum(modality_channels[1:])
norm_mean = [123.675, 116.28, 103.53] + [127.5] * extra_channels
norm_std = [58.395, 57.12, 57.375] + [64.0] * extra_channels
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
             'pad_shape', 'scale_factor', 'flip', 'flip_direction',
             'reduce_zero_label', 'modality_channels', 'modality_names',
             'modality_paths')
train_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadCheckedAnnotations'),
    dict(
        type='RandomResize',
        scale=(image_size[1], image_size[0]),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='MultiModalPhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadCheckedAnnotations'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
dataset = dict(
    type=dataset_type,
    data_root=data_root,
    metainfo=dict(classes=classes, palette=palette),
    modalities=modalities,
    data_prefix=dict(seg_map_path=label_folder),
    label_format=label_format)
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        **dataset, ann_file='splits/train.txt', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, ann_file='splits/val.txt', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        **dataset, ann_file='splits/test.txt', pipeline=test_pipeline))
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
