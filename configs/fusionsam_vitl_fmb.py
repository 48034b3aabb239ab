# FusionSAM with a frozen SAM ViT-L on FMB: the ViT-H config with the
# smaller encoder (the paper reports ViT-H); every other setting, and the
# protocol, is that of fusionsam_vith_fmb.py.
#   python tools/misc/download_checkpoints.py --models sam_vit_l vgg16
_base_ = './fusionsam_vith_fmb.py'

sam_type = 'vit_l'
sam_checkpoint = 'checkpoints/sam/sam_vit_l_0b3195.pth'
model = dict(decode_head=dict(sam_type=sam_type, checkpoint=sam_checkpoint))
