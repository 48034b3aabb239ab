# FusionSAM ViT-H on MFNet's night-time test images (`test_night.txt`, stems
# ending in N); trained exactly as fusionsam_vith_mfnet.py, so test the same
# checkpoint:
#
#   python tools/test.py configs/fusionsam_vith_mfnet_night.py CKPT \
#       --work-dir work_dirs/mfnet_test_night
#   python tools/analysis/make_tables.py \
#       --mfnet-night work_dirs/mfnet_test_night/<ts>/<ts>.json \
#       --out work_dirs/tables
#
# Same as `--cfg-options test_dataloader.dataset.split=test_night.txt` on
# fusionsam_vith_mfnet.py (that override works for every MFNet config).
_base_ = ['./fusionsam_vith_mfnet.py']

test_split = 'test_night.txt'
test_dataloader = dict(dataset=dict(split=test_split))
