import COpenCL

/// The persistent forward on OpenCL: one launch of Kernels/lstm_persistent.cl, one work-group per batch row.
extension OpenCLBackend: PersistentLSTMBackend {
    private func p(_ b: DeviceBuffer) -> KernelArg { .mem((b as! CLBuffer).mem) }

    /// The lstm_persistent.cl defines for hidden size `hidden` on this device (its local memory and work-group limit).
    func persistentDefines(hidden: Int) -> [String: String] {
        tuning.persistentDefines(
            hidden: hidden,
            deviceLocalBytes: Int(OpenCLDiscovery.deviceValue(context.device, CL_DEVICE_LOCAL_MEM_SIZE, cl_ulong.self)),
            deviceMaxGroup: OpenCLDiscovery.deviceValue(context.device, CL_DEVICE_MAX_WORK_GROUP_SIZE, Int.self))
    }

    func usePersistentForward(batch: Int, hidden: Int) -> Bool { tuning.usePersistent(batch: batch, hidden: hidden) }

    func lstmSequenceForward(batch: Int, hidden: Int, steps: Int, reverse: Bool, lengths: DeviceBuffer,
                             gx: BufferView, whh: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                             hs: BufferView, cs: BufferView, gates: BufferView, y: BufferView, ldy: Int,
                             cellClip: Double) throws {
        // The step buffers are whole allocations (as lstmCellForward); the kernel indexes them by step.
        precondition(gx.offset == 0 && hs.offset == 0 && cs.offset == 0 && gates.offset == 0)
        precondition((biasIH == nil) == (biasHH == nil), "both biases or neither")
        if batch == 0 || steps == 0 { return }
        let defines = persistentDefines(hidden: hidden)
        let kernel = try context.kernel("lstm_sequence_forward", file: "lstm_persistent.cl", defines: defines)
        let wg = Int(defines["WG"]!)!
        let biasBuffer = biasIH?.buffer ?? gx.buffer  // any valid buffer when there is no bias
        try context.launch(kernel, [
            .int(batch), .int(hidden), .int(steps), .int(reverse ? 1 : 0), p(lengths), p(gx.buffer),
            p(whh.buffer), .int(whh.offset),
            p(biasBuffer), .int(biasIH?.offset ?? 0), p(biasHH?.buffer ?? biasBuffer), .int(biasHH?.offset ?? 0),
            .int(biasIH == nil ? 0 : 1),
            p(hs.buffer), p(cs.buffer), p(gates.buffer), p(y.buffer), .int(y.offset), .int(ldy), .float(cellClip),
        ], global: [batch * wg], local: [wg])
    }
}
