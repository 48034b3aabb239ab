# Mixing: FusionSAM-tiny (../fusionsam_tiny_demo.py: LSTG -> FMP ->
# SAMPromptHead) with SAM2's image encoder in place of SAM's ViT: the
# head's sam_type names a SAM2 model (here a tiny random one: Hydra
# overrides of sam2_hiera_b+'s image encoder, the sizes of
# ../memorysam/memorysam_tiny_demo.py), SAM's prompt encoder and class-token
# decoder take SAM2's dimensions (width 32 here, 256 for the official ones).
# Full size: sam_type='sam2.1_hiera_l', image_size=1024, encoder_cfg=None,
# checkpoint='checkpoints/sam2/sam2.1_hiera_large.pt' (official SAM2 file).
#
#   python tools/train.py configs/mixing/fusionsam_sam2_tiny_demo.py
_base_ = ['../fusionsam_tiny_demo.py']

model = dict(
    decode_head=dict(
        sam_type='sam2_hiera_b+',
        encoder_cfg=dict(
            _delete_=True,
            sam2_overrides=[
                '++model.image_encoder.trunk.embed_dim=8',
                '++model.image_encoder.trunk.num_heads=1',
                '++model.image_encoder.trunk.stages=[1,1,2,1]',
                '++model.image_encoder.trunk.global_att_blocks=[3]',
                '++model.image_encoder.trunk.window_spec=[4,4,4,4]',
                '++model.image_encoder.trunk'
                '.window_pos_embed_bkg_spatial_size=[4,4]',
                '++model.image_encoder.neck.backbone_channel_list='
                '[64,32,16,8]',
                '++model.image_encoder.neck.d_model=32',
                '++model.image_encoder.neck.position_encoding'
                '.num_pos_feats=32',
            ]),
        image_size=128))
