# FusionSAM ViT-H on MFNet's night-time test images (`test_night.txt`, stems
# ending in N); trained exactly as
# fusionsam_vith_mfnet.py, so test the same checkpoint:
#
#   python tools/test.py configs/fusionsam_vith_mfnet_night.py CKPT \
#       --work-dir work_dirs/mfnet_test_night
#
# Same as `--cfg-options test_dataloader.dataset.ann_file=test_night.txt` on
# any MFNet config.
_base_ = ['./fusionsam_vith_mfnet.py']

test_dataloader = dict(dataset=dict(ann_file='test_night.txt'))
