# FusionSAM with a frozen SAM ViT-B on FMB: the ViT-H config with the
# smaller encoder (the paper reports ViT-H); every other setting, and the
# protocol, is that of fusionsam_vith_fmb.py.
#   python tools/misc/download_checkpoints.py --models sam_vit_b vgg16
_base_ = './fusionsam_vith_fmb.py'

sam_type = 'vit_b'
sam_checkpoint = 'checkpoints/sam/sam_vit_b_01ec64.pth'
model = dict(decode_head=dict(sam_type=sam_type, checkpoint=sam_checkpoint))
