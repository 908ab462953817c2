/// The persistent forward's policy on OpenCL: small batches on GPUs (`OpenCLTuning.usePersistent`). The launch is the
/// table's (`Kernel.lstmSequenceForward`: one work-group per batch row, built per hidden size).
extension OpenCLBackend: PersistentLSTMBackend {
    /// The lstm_persistent.cl defines for hidden size `hidden` on this device (its local memory and work-group limit).
    func persistentDefines(hidden: Int) -> [String: String] { tuning.persistentDefines(hidden: hidden) }

    func usePersistentForward(batch: Int, hidden: Int) -> Bool { tuning.usePersistent(batch: batch, hidden: hidden) }
}
