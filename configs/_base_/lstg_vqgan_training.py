# How LSTG trains as a VQ-GAN, one definition for both stages: stage 1
# (configs/lstg/, LSTG alone) and stage 2 (the FusionSAM configs, where LSTG
# keeps its losses while FMP and SAM train). Both read these values, so the
# stages cannot drift apart; the reasons stand beside them. They follow
# taming-transformers' VQGAN, the objective LSTG's Eq. 7 takes over.

# Weight of the VGG16 perceptual term against the L1 reconstruction term
# (weight 1.0). 1.0: taming-transformers' VQGAN loss weighs its perceptual
# term 1.0 beside its pixel term; a smaller weight moves the objective back
# towards an L1-only autoencoder, whose reconstructions are blurred.
perceptual_loss_weight = 1.0

# Iteration from which the PatchGAN terms count (0 before). 10000: the
# decoders first learn to reconstruct, then the discriminator sharpens them;
# against an untrained decoder the discriminator wins at once and its
# gradient carries little. taming-transformers' custom VQGAN config starts
# at 10000; it is half of stage 1's 20000 iterations and about half of a
# paper FusionSAM run (MFNet: 100 epochs x 196 iterations). The count
# restarts in stage 2: a stage-1 discriminator rejoins once FMP and the SAM
# head, new in stage 2, have settled.
adversarial_start_iter = 10000

# Optimizer settings of the discriminator: the paramwise_cfg.custom_keys
# entry both stages give the key 'loss_adv.discriminator' (LSTG's PatchGAN),
# on top of the stage's Adam. Betas (0.5, 0.9): what taming-transformers
# trains its discriminator with; the lower beta1 lets it follow the moving
# generator instead of averaging stale gradients. decay_mult 0.0: no weight
# decay (taming-transformers decays nothing); shrinking the critic's weights
# fights the hinge margin it has to keep.
discriminator_optim = dict(betas=(0.5, 0.9), decay_mult=0.0)
