# The "SAM on fused images" baseline (StockSAMHead: frozen stock SAM with its
# own 4-token mask decoder, same point + box prompts, no FMP dense prompt,
# per-class readout) at the tiny random-initialised sizes of
# ../fusionsam_tiny_demo.py, on the bundled demo data, CPU. As in the paper
# configs only the readout trains; LSTG + FMP are frozen, loaded from a
# trained ../fusionsam_tiny_demo.py checkpoint at `fusionsam_checkpoint`
# (None: random, a smoke run):
#
#   python tools/train.py configs/fusionsam_tiny_demo.py \
#       --work-dir work_dirs/tiny
#   python tools/train.py configs/baselines/sam_tiny_fused_demo.py \
#       --cfg-options \
#       model.part_checkpoints.backbone=work_dirs/tiny/iter_300.pth \
#       model.part_checkpoints.neck=work_dirs/tiny/iter_300.pth
_base_ = ['../fusionsam_tiny_demo.py']

fusionsam_checkpoint = None
readout_channels = 16

model = dict(
    part_checkpoints=dict(
        backbone=fusionsam_checkpoint, neck=fusionsam_checkpoint),
    freeze_fusion=True,
    decode_head=dict(type='StockSAMHead', readout_channels=readout_channels))
