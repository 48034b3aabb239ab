# FusionSAM with a frozen SAM ViT-B on FMB: the ViT-H config with the smaller
# encoder; every other paper setting is inherited. Put the official
# `sam_vit_b_01ec64.pth` at `sam_checkpoint` (tools/misc/download_sam_checkpoints.py
# --out-dir checkpoints/sam) or override model.decode_head.checkpoint.
_base_ = './fusionsam_vith_fmb.py'

sam_type = 'vit_b'
sam_checkpoint = 'checkpoints/sam/sam_vit_b_01ec64.pth'
model = dict(decode_head=dict(sam_type=sam_type, checkpoint=sam_checkpoint))
