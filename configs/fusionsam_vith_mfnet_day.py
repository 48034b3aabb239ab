# FusionSAM ViT-H on MFNet's daytime test images (`test_day.txt`, stems
# ending in D); trained exactly as fusionsam_vith_mfnet.py, so test the same
# checkpoint:
#
#   python tools/test.py configs/fusionsam_vith_mfnet_day.py CKPT \
#       --work-dir work_dirs/mfnet_test_day
#   python tools/analysis/make_tables.py \
#       --mfnet-day work_dirs/mfnet_test_day/<ts>/<ts>.json \
#       --out work_dirs/tables
#
# Same as `--cfg-options test_dataloader.dataset.split=test_day.txt` on
# fusionsam_vith_mfnet.py (that override works for every MFNet config).
_base_ = ['./fusionsam_vith_mfnet.py']

test_split = 'test_day.txt'
test_dataloader = dict(dataset=dict(split=test_split))
