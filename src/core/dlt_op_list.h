/* Every op, once: X(ID, name, family, cuda). ID names the enum constant
 * DLT_OP_<ID>, `name` the op (dlt_op_def.name, and its definition
 * dlt_op_def_<name>), `family` the file that holds its def, shape and gradient
 * rules: src/ops/<family>.c (src/core/accum.c for accum), and `cuda` the file
 * of its CUDA kernel, src/gpu/k_<cuda>.cu, whose kernel list holds it under
 * the same id: the family's own file, k_<family>.cu (device code that
 * families share is in src/gpu/k_<topic>.cuh headers; a long family may keep
 * part of its code in k_<family>_*.cu, as attention's backward). Its CPU
 * kernel is the def's `.cpu` (in <family>.c or the family's *_kernels.c); its
 * tests live in tests/ops and tests/gpu under the family's name. dltrain
 * --list-ops prints all of it. Adding an op is a line here, its
 * def, its kernels and its tests. Internal to libdltrain. */
#ifndef DLT_OP_LIST_H
#define DLT_OP_LIST_H

#define DLT_OP_LIST(X)                                                                                     \
    X(ACCUM, accum, accum, accum)                                                                           \
    /* elementwise functions and their derivatives (any order) */                                          \
    X(EXP, exp, unary, unary)                                                                               \
    X(EXP_GRAD, exp_grad, unary, unary)                                                                     \
    X(LOG, log, unary, unary)                                                                               \
    X(LOG_GRAD, log_grad, unary, unary)                                                                     \
    X(SQRT, sqrt, unary, unary)                                                                             \
    X(SQRT_GRAD, sqrt_grad, unary, unary)                                                                   \
    X(RSQRT, rsqrt, unary, unary)                                                                           \
    X(RSQRT_GRAD, rsqrt_grad, unary, unary)                                                                 \
    X(POW, pow, unary, unary)                                                                               \
    X(POW_GRAD, pow_grad, unary, unary)                                                                     \
    X(ABS, abs, unary, unary)                                                                               \
    X(ABS_GRAD, abs_grad, unary, unary)                                                                     \
    X(CLAMP, clamp, unary, unary)                                                                           \
    X(CLAMP_GRAD, clamp_grad, unary, unary)                                                                 \
    X(SQUARE, square, unary, unary)                                                                         \
    X(SQUARE_GRAD, square_grad, unary, unary)                                                               \
    X(LEAKY_RELU, leaky_relu, unary, unary)                                                                 \
    X(LEAKY_RELU_GRAD, leaky_relu_grad, unary, unary)                                                       \
    X(ELU, elu, unary, unary)                                                                               \
    X(ELU_GRAD, elu_grad, unary, unary)                                                                     \
    X(SELU, selu, unary, unary)                                                                             \
    X(SELU_GRAD, selu_grad, unary, unary)                                                                   \
    X(GELU, gelu, unary, unary)                                                                             \
    X(GELU_GRAD, gelu_grad, unary, unary)                                                                   \
    X(GELU_TANH, gelu_tanh, unary, unary)                                                                   \
    X(GELU_TANH_GRAD, gelu_tanh_grad, unary, unary)                                                         \
    X(SIGMOID, sigmoid, unary, unary)                                                                       \
    X(SIGMOID_GRAD, sigmoid_grad, unary, unary)                                                             \
    X(TANH, tanh, unary, unary)                                                                             \
    X(TANH_GRAD, tanh_grad, unary, unary)                                                                   \
    X(SOFTPLUS, softplus, unary, unary)                                                                     \
    X(SOFTPLUS_GRAD, softplus_grad, unary, unary)                                                           \
    X(POW_TENSOR, pow_tensor, unary, unary)                                                                 \
    X(RELU, relu, activation, activation)                                                                   \
    X(RELU_GRAD, relu_grad, activation, activation)                                                         \
    X(PRELU, prelu, activation, activation)                                                                 \
    X(PRELU_DX, prelu_dx, activation, activation)                                                           \
    X(ADD, add, binary, binary)                                                                             \
    X(SUB, sub, binary, binary)                                                                             \
    X(MUL, mul, binary, binary)                                                                             \
    X(DIV, div, binary, binary)                                                                             \
    X(AFFINE, affine, binary, binary)                                                                       \
    X(DROPOUT, dropout, dropout, dropout)                                                                   \
    /* random tensors drawn in the graph (no inputs) */                                                    \
    X(RANDOM_NORMAL, random_normal, random, random)                                                         \
    X(RANDOM_UNIFORM, random_uniform, random, random)                                                       \
    X(MATMUL, matmul, matmul, matmul)                                                                       \
    X(SUM, sum, reduce, reduce)                                                                             \
    X(BROADCAST_TO, broadcast_to, reduce, reduce)                                                           \
    X(MAX, max, reduce_ext, reduce_ext)                                                                     \
    X(MAX_PICK, max_pick, reduce_ext, reduce_ext)                                                           \
    X(MAX_GRAD, max_grad, reduce_ext, reduce_ext)                                                           \
    X(VAR, var, reduce_ext, reduce_ext)                                                                     \
    X(SOFTMAX, softmax, softmax, softmax)                                                                   \
    X(LOG_SOFTMAX, log_softmax, softmax, softmax)                                                           \
    X(SOFTMAX_GRAD, softmax_grad, softmax, softmax)                                                         \
    X(LOG_SOFTMAX_GRAD, log_softmax_grad, softmax, softmax)                                                 \
    X(TOPK_CORRECT, topk_correct, metric, metric)                                                           \
    X(CROSS_ENTROPY, cross_entropy, loss, loss)                                                             \
    X(CROSS_ENTROPY_GRAD, cross_entropy_grad, loss, loss)                                                   \
    X(CROSS_ENTROPY_HVP, cross_entropy_hvp, loss, loss)                                                     \
    X(POINTWISE_LOSS, pointwise_loss, loss_pw, loss_pw)                                                     \
    X(CONV2D, conv2d, conv, conv)                                                                           \
    X(CONV_TRANSPOSE2D, conv_transpose2d, conv, conv)                                                       \
    X(CONV2D_WEIGHT_GRAD, conv2d_weight_grad, conv, conv)                                                   \
    X(MAXPOOL2D, maxpool2d, pool, pool)                                                                     \
    X(MAXPOOL2D_BACKWARD, maxpool2d_backward, pool, pool)                                                   \
    X(MAXPOOL2D_GATHER, maxpool2d_gather, pool, pool)                                                       \
    X(AVGPOOL2D, avgpool2d, pool, pool)                                                                     \
    X(AVGPOOL2D_BACKWARD, avgpool2d_backward, pool, pool)                                                   \
    X(UPSAMPLE_NEAREST2D, upsample_nearest2d, upsample, upsample)                                           \
    X(UPSAMPLE_NEAREST2D_BACKWARD, upsample_nearest2d_backward, upsample, upsample)                         \
    X(UPSAMPLE_BILINEAR2D, upsample_bilinear2d, upsample, upsample)                                         \
    X(UPSAMPLE_BILINEAR2D_BACKWARD, upsample_bilinear2d_backward, upsample, upsample)                       \
    X(BATCH_NORM, batch_norm, norm, norm)                                                                   \
    X(GROUP_NORM, group_norm, norm, norm)                                                                   \
    X(LAYER_NORM, layer_norm, norm, norm)                                                                   \
    X(NORM_GRAD, norm_grad, norm, norm)                                                                     \
    X(NORM_BACKWARD, norm_backward, norm, norm)                                                             \
    X(NORM_APPLY, norm_apply, norm, norm)                                                                   \
    X(RESHAPE, reshape, shape, shape)                                                                       \
    X(STOP_GRADIENT, stop_gradient, shape, shape)                                                           \
    X(PERMUTE, permute, shape_ops, shape_ops)                                                               \
    X(CONCAT, concat, shape_ops, shape_ops)                                                                 \
    X(SPLIT2, split2, shape_ops, shape_ops)                                                                 \
    X(SPLIT3, split3, shape_ops, shape_ops)                                                                 \
    X(SPLIT4, split4, shape_ops, shape_ops)                                                                 \
    X(SLICE, slice, shape_slice, shape_slice)                                                               \
    X(PAD, pad, shape_slice, shape_slice)                                                                   \
    X(PAD_REFLECT, pad_reflect, shape_slice, shape_slice)                                                   \
    X(PAD_REFLECT_GRAD, pad_reflect_grad, shape_slice, shape_slice)                                         \
    X(TAKE, take, shape_gather, shape_gather)                                                               \
    X(EMBEDDING, embedding, shape_gather, shape_gather)                                                     \
    X(TAKE_GRAD, take_grad, shape_gather, shape_gather)                                                     \
    X(GATHER, gather, shape_gather, shape_gather)                                                           \
    X(SCATTER_ADD, scatter_add, shape_gather, shape_gather)                                                 \
    X(ATTENTION, attention, attention, attention)                                                           \
    X(ATTENTION_GRAD, attention_grad, attention, attention)                                                 \
    /* recurrent cells and categorical sampling (rnn family) */                                            \
    X(LSTM_CELL, lstm_cell, rnn, rnn)                                                                       \
    X(LSTM_CELL_GRAD, lstm_cell_grad, rnn, rnn)                                                             \
    X(GRU_CELL, gru_cell, rnn, rnn)                                                                         \
    X(GRU_CELL_GRAD, gru_cell_grad, rnn, rnn)                                                               \
    X(CATEGORICAL_SAMPLE, categorical_sample, rnn, rnn)                                                     \
    /* detection boxes (box family) */                                                                      \
    X(BOX_IOU, box_iou, box, box)                                                                           \
    X(BOX_ENCODE, box_encode, box, box)                                                                     \
    X(BOX_DECODE, box_decode, box, box)                                                                     \
    X(BOX_DECODE_GRAD, box_decode_grad, box, box)                                                           \
    X(BOX_TOPK, box_topk, box, box)                                                                         \
    X(BOX_NMS, box_nms, box, box)                                                                           \
    X(BOX_MATCH, box_match, box, box)                                                                       \
    X(BOX_SAMPLE, box_sample, box, box)                                                                     \
    /* roi family: RoIAlign, its backward, FPN level assignment */                                         \
    X(ROI_ALIGN, roi_align, roi, roi)                                                                       \
    X(ROI_ALIGN_BACKWARD, roi_align_backward, roi, roi)                                                     \
    X(ROI_LEVEL, roi_level, roi, roi)                                                                       \
    /* i32/f32 conversion (cast family) */                                                                 \
    X(CAST, cast, cast, cast)

#endif
