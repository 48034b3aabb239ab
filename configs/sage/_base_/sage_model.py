# SAGE (Wu et al., CVPR 2025; official code RollingPlain/SAGE_IVIF): a
# SAM-guided teacher (Semantic Persistent Attention on Y, IR and the top-4
# SAM masks of each modality) distilled into a SAM-free student U-Net
# (width 32) by alternating student / teacher steps. Losses and weights of
# the official code (docs/sage.md).
num_masks = 4
# Official SAM ViT-B: the first two encoder blocks are the frozen feature
# space of the contrastive-semantic loss (None: random, tests only).
sam_checkpoint = 'checkpoints/sam/sam_vit_b_01ec64.pth'
model = dict(
    type='SAGE',
    num_masks=num_masks,
    sam_checkpoint=sam_checkpoint,
    teacher=dict(
        type='SAGETeacher',
        channels=64,
        num_heads=2,
        head_channels=32,
        feature_channels=32,
        shared_stages=True),
    student=dict(type='SAGEStudent', channels=32),
    # teacher: MSE(F, Y) + MSE(F, IR) + 2 L1(|grad F|, max |grad sources|)
    loss_teacher=dict(
        type='FusionFidelityLoss', mse_weights=(1.0, 1.0, 0.0),
        gradient_weights=(2.0, 0.0)),
    # student: 3 * (3 MSE(Y) + 2 MSE(IR) + 4 MSE(ref)) + 3 * (9 G + 3 G_ref)
    loss_student=dict(
        type='FusionFidelityLoss', mse_weights=(9.0, 6.0, 12.0),
        gradient_weights=(27.0, 9.0)),
    loss_semantic=dict(
        type='ContrastiveSemanticLoss', sam_type='vit_b', num_blocks=2,
        loss_weight=1 / 3000),
    loss_feature=dict(type='FeatureCosineLoss'),
    student_feature_weight=0.3,
    teacher_student_weight=0.1,
    teacher_feature_weight=0.01,
    # raw 0..255 inputs (the model maps them to [0, 1] itself). The student
    # takes any size (max-pooling floors, upsampling goes to the skip's
    # size): size_divisor only satisfies mmseg's stack_batch for training
    # batches (192x256 crops, multiples of 16: nothing is padded); test
    # images are not padded (no test_cfg), FMB's 600 rows included
    data_preprocessor=dict(
        type='SegDataPreProcessor', bgr_to_rgb=False, size_divisor=16))
# Bi-level optimisation: one Adam per network (teacher 5e-4, student 2e-3).
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    teacher=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=5e-4)),
    student=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3)))
# DDP: each network is wrapped on its own, SAGE.train_step alternates them.
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel', broadcast_buffers=False,
    find_unused_parameters=False)
