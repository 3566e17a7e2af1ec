/* Every op, once: X(ID, name, family). ID names the enum constant DLT_OP_<ID>,
 * `name` the op (dlt_op_def.name, and its definition dlt_op_def_<name>), and
 * `family` the file that holds its shape and gradient rules: src/ops/<family>.c
 * (src/core/<family>.c for accum). Its CPU kernel is the def's `.cpu`, its CUDA
 * kernel an entry of src/gpu's kernel lists under the same id, and its tests
 * live in tests/ops and tests/gpu under the family's name. Adding an op is a
 * line here, its def, its kernels and its tests. Internal to libdltrain. */
#ifndef DLT_OP_LIST_H
#define DLT_OP_LIST_H

#define DLT_OP_LIST(X)                                                                                     \
    X(ACCUM, accum, accum)                                                                                 \
    /* elementwise functions and their derivatives (any order) */                                          \
    X(EXP, exp, unary)                                                                                     \
    X(EXP_GRAD, exp_grad, unary)                                                                           \
    X(LOG, log, unary)                                                                                     \
    X(LOG_GRAD, log_grad, unary)                                                                           \
    X(SQRT, sqrt, unary)                                                                                   \
    X(SQRT_GRAD, sqrt_grad, unary)                                                                         \
    X(RSQRT, rsqrt, unary)                                                                                 \
    X(RSQRT_GRAD, rsqrt_grad, unary)                                                                       \
    X(POW, pow, unary)                                                                                     \
    X(POW_GRAD, pow_grad, unary)                                                                           \
    X(ABS, abs, unary)                                                                                     \
    X(ABS_GRAD, abs_grad, unary)                                                                           \
    X(CLAMP, clamp, unary)                                                                                 \
    X(CLAMP_GRAD, clamp_grad, unary)                                                                       \
    X(SQUARE, square, unary)                                                                               \
    X(SQUARE_GRAD, square_grad, unary)                                                                     \
    X(LEAKY_RELU, leaky_relu, unary)                                                                       \
    X(LEAKY_RELU_GRAD, leaky_relu_grad, unary)                                                             \
    X(ELU, elu, unary)                                                                                     \
    X(ELU_GRAD, elu_grad, unary)                                                                           \
    X(SELU, selu, unary)                                                                                   \
    X(SELU_GRAD, selu_grad, unary)                                                                         \
    X(GELU, gelu, unary)                                                                                   \
    X(GELU_GRAD, gelu_grad, unary)                                                                         \
    X(GELU_TANH, gelu_tanh, unary)                                                                         \
    X(GELU_TANH_GRAD, gelu_tanh_grad, unary)                                                               \
    X(SIGMOID, sigmoid, unary)                                                                             \
    X(SIGMOID_GRAD, sigmoid_grad, unary)                                                                   \
    X(TANH, tanh, unary)                                                                                   \
    X(TANH_GRAD, tanh_grad, unary)                                                                         \
    X(SOFTPLUS, softplus, unary)                                                                           \
    X(SOFTPLUS_GRAD, softplus_grad, unary)                                                                 \
    X(POW_TENSOR, pow_tensor, unary)                                                                       \
    X(RELU, relu, activation)                                                                              \
    X(RELU_GRAD, relu_grad, activation)                                                                    \
    X(PRELU, prelu, activation)                                                                            \
    X(PRELU_DX, prelu_dx, activation)                                                                      \
    X(ADD, add, binary)                                                                                    \
    X(SUB, sub, binary)                                                                                    \
    X(MUL, mul, binary)                                                                                    \
    X(DIV, div, binary)                                                                                    \
    X(AFFINE, affine, binary)                                                                              \
    X(DROPOUT, dropout, dropout)                                                                           \
    X(MATMUL, matmul, matmul)                                                                              \
    X(SUM, sum, reduce)                                                                                    \
    X(BROADCAST_TO, broadcast_to, reduce)                                                                  \
    X(MAX, max, reduce_ext)                                                                                \
    X(MAX_PICK, max_pick, reduce_ext)                                                                      \
    X(MAX_GRAD, max_grad, reduce_ext)                                                                      \
    X(VAR, var, reduce_ext)                                                                                \
    X(SOFTMAX, softmax, softmax)                                                                           \
    X(LOG_SOFTMAX, log_softmax, softmax)                                                                   \
    X(SOFTMAX_GRAD, softmax_grad, softmax)                                                                 \
    X(LOG_SOFTMAX_GRAD, log_softmax_grad, softmax)                                                         \
    X(TOPK_CORRECT, topk_correct, metric)                                                                  \
    X(CROSS_ENTROPY, cross_entropy, loss)                                                                  \
    X(CROSS_ENTROPY_GRAD, cross_entropy_grad, loss)                                                        \
    X(CROSS_ENTROPY_HVP, cross_entropy_hvp, loss)                                                          \
    X(POINTWISE_LOSS, pointwise_loss, loss_pw)                                                             \
    X(CONV2D, conv2d, conv)                                                                                \
    X(CONV_TRANSPOSE2D, conv_transpose2d, conv)                                                            \
    X(CONV2D_WEIGHT_GRAD, conv2d_weight_grad, conv)                                                        \
    X(MAXPOOL2D, maxpool2d, pool)                                                                          \
    X(MAXPOOL2D_BACKWARD, maxpool2d_backward, pool)                                                        \
    X(MAXPOOL2D_GATHER, maxpool2d_gather, pool)                                                            \
    X(AVGPOOL2D, avgpool2d, pool)                                                                          \
    X(AVGPOOL2D_BACKWARD, avgpool2d_backward, pool)                                                        \
    X(UPSAMPLE_NEAREST2D, upsample_nearest2d, upsample)                                                    \
    X(UPSAMPLE_NEAREST2D_BACKWARD, upsample_nearest2d_backward, upsample)                                  \
    X(UPSAMPLE_BILINEAR2D, upsample_bilinear2d, upsample)                                                  \
    X(UPSAMPLE_BILINEAR2D_BACKWARD, upsample_bilinear2d_backward, upsample)                                \
    X(BATCH_NORM, batch_norm, norm)                                                                        \
    X(GROUP_NORM, group_norm, norm)                                                                        \
    X(LAYER_NORM, layer_norm, norm)                                                                        \
    X(NORM_GRAD, norm_grad, norm)                                                                          \
    X(NORM_BACKWARD, norm_backward, norm)                                                                  \
    X(RESHAPE, reshape, shape)                                                                             \
    X(STOP_GRADIENT, stop_gradient, shape)                                                                 \
    X(PERMUTE, permute, shape_ops)                                                                         \
    X(CONCAT, concat, shape_ops)                                                                           \
    X(SPLIT2, split2, shape_ops)                                                                           \
    X(SPLIT3, split3, shape_ops)                                                                           \
    X(SPLIT4, split4, shape_ops)                                                                           \
    X(SLICE, slice, shape_slice)                                                                           \
    X(PAD, pad, shape_slice)                                                                               \
    X(PAD_REFLECT, pad_reflect, shape_slice)                                                               \
    X(PAD_REFLECT_GRAD, pad_reflect_grad, shape_slice)                                                     \
    X(TAKE, take, shape_gather)                                                                            \
    X(EMBEDDING, embedding, shape_gather)                                                                  \
    X(TAKE_GRAD, take_grad, shape_gather)                                                                  \
    X(GATHER, gather, shape_gather)                                                                        \
    X(SCATTER_ADD, scatter_add, shape_gather)                                                              \
    X(ATTENTION, attention, attention)                                                                     \
    X(ATTENTION_GRAD, attention_grad, attention)

#endif
