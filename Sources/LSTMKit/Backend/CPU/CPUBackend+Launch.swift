/// The CPU twins of the table's kernels (`Kernel`), by the same names and argument order: the switch is exhaustive,
/// so a kernel without its twin does not compile. Profiled under the kernel's name. An optional buffer of a kernel
/// (a bias, a peephole, a mask) is passed with its flag argument, and reaches the twin as nil when the flag is 0.
extension CPUBackend {
    func launch(_ kernel: Kernel, _ a: KernelArguments) throws {
        /// Argument i as a buffer pointer, an Int32 pointer, a scalar; `opt` nil when the flag argument is 0.
        func v(_ i: Int) -> UnsafeMutablePointer<S> { ptr(a.view(i)) }
        func opt(_ i: Int, if flag: Int) -> UnsafeMutablePointer<S>? { a.int(flag) != 0 ? ptr(a.view(i)) : nil }
        /// Buffer argument i advanced by int argument `offset` (lstm_variants.cl's parameters: one buffer, offsets).
        func at(_ i: Int, _ offset: Int) -> UnsafeMutablePointer<S> { ptr(a.view(i)) + a.int(offset) }
        func at(_ i: Int, _ offset: Int, if flag: Int) -> UnsafeMutablePointer<S>? { a.int(flag) != 0 ? at(i, offset) : nil }
        func n(_ i: Int) -> Int { a.int(i) }
        func f(_ i: Int) -> S { S(a.float(i)) }
        func idx(_ i: Int) -> UnsafePointer<Int32> { lengths(a.buffer(i)) }
        timed(kernel.name) {
            switch kernel {
            // elementwise.cl
            case .fill: CPUKernels.fill(n(0), f(1), v(2))
            case .transpose01: CPUKernels.transpose01(n(0), n(1), n(2), v(3), v(4))
            case .columnSum: CPUKernels.column_sum(n(0), n(1), v(2), n(3), f(4), v(5))
            case .dropout: CPUKernels.dropout(n(0), Float(a.float(1)), a.uint(2), v(3), v(4))
            // gru_cell.cl
            case .gruCellForward:
                CPUGRUKernels.gru_cell_forward(n(0), n(1), n(2), n(3), n(4) == 1, idx(5), v(6), v(7), opt(8, if: 10), opt(9, if: 10),
                                               v(11), v(12), v(13), n(14), n(15), n(16))
            case .gruCellBackward:
                CPUGRUKernels.gru_cell_backward(n(0), n(1), n(2), n(3), n(4) == 1, idx(5), v(6), v(7), v(8), n(9), v(10), v(11), v(12),
                                                n(13), n(14))
            // lstm_cell.cl
            case .lstmCellForward:
                let masked = opt(21, if: 20)
                CPUKernels.lstm_cell_forward(n(0), n(1), n(2), n(3), n(4) == 1, idx(5), v(6), v(7), opt(8, if: 10), opt(9, if: 10),
                                             v(11), v(12), v(13), opt(14, if: 22), n(15), f(16), opt(17, if: 18), opt(19, if: 20), masked,
                                             n(23), n(24))
            case .lstmCellBackward:
                CPUKernels.lstm_cell_backward(n(0), n(1), n(2), n(3), n(4) == 1, idx(5), v(6), v(7), v(8), n(9), v(10), v(11), v(12), v(13),
                                              f(14), opt(15, if: 16), opt(17, if: 18), n(19), n(20))
            // training.cl
            case .addRowBias: CPUTrainingKernels.add_row_bias(n(0), n(1), v(2), v(3))
            case .activationForward: CPUTrainingKernels.activation_forward(n(0), n(1), v(2), v(3))
            case .activationBackward: CPUTrainingKernels.activation_backward(n(0), n(1), v(2), v(3), v(4))
            case .softmaxRows: CPUTrainingKernels.softmax_rows(n(0), n(1), v(2), v(3))
            case .softmaxBackwardRows: CPUTrainingKernels.softmax_backward_rows(n(0), n(1), v(2), v(3), v(4))
            case .lossRows: CPUTrainingKernels.loss_rows(n(0), n(1), n(2), v(3), v(4), f(5), v(6), v(7))
            case .metricRows: CPUTrainingKernels.metric_rows(n(0), n(1), n(2), v(3), v(4), v(5))
            case .embeddingForward: CPUTrainingKernels.embedding_forward(n(0), n(1), v(2), v(3), v(4))
            case .embeddingBackward: CPUTrainingKernels.embedding_backward(n(0), n(1), v(2), v(3), v(4))
            case .gatherRows: CPUTrainingKernels.gather_rows(n(0), n(1), idx(2), v(3), v(4))
            case .axpby: CPUTrainingKernels.axpby(n(0), f(1), v(2), f(3), v(4))
            case .mul: CPUTrainingKernels.mul(n(0), v(1), v(2), v(3))
            case .mergeDirections: CPUTrainingKernels.merge_directions(n(0), n(1), n(2), v(3), v(4))
            case .mergeDirectionsBackward: CPUTrainingKernels.merge_directions_backward(n(0), n(1), n(2), v(3), v(4), v(5))
            case .sumSquares: CPUTrainingKernels.sum_squares(n(0), v(1), v(2), n(3))
            case .sgdUpdate:
                CPUTrainingKernels.sgd_update(n(0), v(1), v(2), v(3), f(4), f(5), n(6) == 1, f(7), f(8), v(9), n(10), f(11))
            case .adamUpdate:
                CPUTrainingKernels.adam_update(n(0), v(1), v(2), v(3), v(4), f(5), f(6), f(7), f(8), f(9), f(10), n(11) == 1, f(12), f(13),
                                               f(14), v(15), n(16), f(17))
            case .rmspropUpdate:
                CPUTrainingKernels.rmsprop_update(n(0), v(1), v(2), v(3), f(4), f(5), f(6), f(7), f(8), f(9), v(10), n(11), f(12))
            // lstm_variants.cl
            case .lstmPeepholeGrad: CPUVariantKernels.lstm_peephole_grad(n(0), n(1), n(2), v(3), v(4), v(5))
            case .lstmProjectionForward:
                CPUVariantKernels.lstm_projection_forward(n(0), n(1), n(2), n(3), n(4) == 1, idx(5), v(6), v(7), n(8), opt(9, if: 10),
                                                          opt(11, if: 10))
            case .lstmProjectionBackward:
                CPUVariantKernels.lstm_projection_backward(n(0), n(1), n(2), n(3), n(4) == 1, idx(5), v(6), n(7), v(8), v(9), opt(10, if: 11))
            // lstm_variants.cl layer norm: the parameters are one buffer and offsets (`at`).
            case .layerNormForward: CPUVariantKernels.layer_norm_forward(n(0), n(1), v(2), at(3, 4), at(3, 5), v(6), v(7))
            case .layerNormBackward: CPUVariantKernels.layer_norm_backward(n(0), n(1), v(2), v(3), v(4), at(5, 6), v(7))
            case .layerNormParamGrad:
                CPUVariantKernels.layer_norm_param_grad(n(0), n(1), v(2), v(3), v(4), n(5), n(6), at(7, 8), at(7, 9))
            case .lstmLayerNormCellForward:
                CPUVariantKernels.lstm_ln_cell_forward(n(0), n(1), n(2), n(3), n(4) == 1, idx(5), v(6), v(7), at(8, 9, if: 11),
                                                       at(8, 10, if: 11), at(8, 12), at(8, 13), at(8, 14), at(8, 15), at(8, 16, if: 17),
                                                       v(18), v(19), v(20), v(21), opt(22, if: 28), n(23), f(24), opt(25, if: 26),
                                                       opt(27, if: 26))
            case .lstmLayerNormCellBackward:
                CPUVariantKernels.lstm_ln_cell_backward(n(0), n(1), n(2), n(3), n(4) == 1, idx(5), at(6, 7), at(6, 8), at(6, 9),
                                                        at(6, 10, if: 11), v(12), v(13), v(14), v(15), v(16), n(17), v(18), v(19),
                                                        v(20), v(21), v(22), v(23), f(24), opt(25, if: 26))
            // conv.cl
            case .im2col:
                CPUConvKernels.im2col(n(0), n(1), n(2), n(3), n(4), n(5), n(6), n(7), n(8), n(9), n(10), n(11), n(12), n(13), v(14), v(15))
            case .col2im:
                CPUConvKernels.col2im(n(0), n(1), n(2), n(3), n(4), n(5), n(6), n(7), n(8), n(9), n(10), n(11), n(12), n(13), v(14), v(15))
            case .convBiasAct: CPUConvKernels.conv_bias_act(n(0), n(1), n(2), n(3), v(4), v(5))
            // pooling.cl
            case .maxPoolForward:
                CPUConvKernels.max_pool_forward(n(0), n(1), n(2), n(3), n(4), n(5), n(6), n(7), n(8), n(9), n(10), n(11), v(12), v(13), v(14))
            case .maxPoolBackward:
                CPUConvKernels.max_pool_backward(n(0), n(1), n(2), n(3), n(4), n(5), n(6), n(7), n(8), n(9), n(10), n(11), v(12), v(13), v(14))
            case .maxPoolBackwardScatter:
                CPUConvKernels.max_pool_backward_scatter(n(0), n(1), n(2), n(3), n(4), n(5), n(6), n(7), n(8), n(9), n(10), n(11), v(12),
                                                         v(13), v(14))
            case .avgPoolForward:
                CPUConvKernels.avg_pool_forward(n(0), n(1), n(2), n(3), n(4), n(5), n(6), n(7), n(8), n(9), n(10), n(11), v(12), v(13))
            case .avgPoolBackward:
                CPUConvKernels.avg_pool_backward(n(0), n(1), n(2), n(3), n(4), n(5), n(6), n(7), n(8), n(9), n(10), n(11), v(12), v(13))
            // inference.cl: h and c at offset offS.
            case .lstmCellInfer:
                CPUInferenceKernels.lstm_cell_infer(n(0), n(1), n(2), n(3), n(4) == 1, idx(5), v(6), v(7), opt(8, if: 10), opt(9, if: 10),
                                                    v(11) + n(13), v(12) + n(13), opt(14, if: 16), n(15), f(17), opt(18, if: 19))
            case .lstmStepInfer:
                CPUInferenceKernels.lstm_step_infer(n(0), n(1), n(2), n(3), n(4) == 1, idx(5), v(6), v(7), opt(8, if: 10), opt(9, if: 10),
                                                    v(11) + n(14), v(12) + n(14), v(13) + n(14), opt(15, if: 17), n(16), f(18),
                                                    opt(19, if: 20))
            // lstm_persistent.cl
            case .lstmSequenceForward:
                CPUPersistentKernels.lstm_sequence_forward(n(0), n(1), n(2), n(3) == 1, idx(4), v(5), v(6), opt(7, if: 9), opt(8, if: 9),
                                                           v(10), v(11), v(12), v(13), n(14), f(15))
            }
        }
    }
}
