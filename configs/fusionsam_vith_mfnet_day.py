# FusionSAM ViT-H on MFNet's daytime test images (`test_day.txt`, stems
# ending in D); trained exactly as
# fusionsam_vith_mfnet.py, so test the same checkpoint:
#
#   python tools/test.py configs/fusionsam_vith_mfnet_day.py CKPT \
#       --work-dir work_dirs/mfnet_test_day
#
# Same as `--cfg-options test_dataloader.dataset.ann_file=test_day.txt` on
# any MFNet config.
_base_ = ['./fusionsam_vith_mfnet.py']

test_dataloader = dict(dataset=dict(ann_file='test_day.txt'))
