import Foundation
import XCTest
@testable import LSTMKit

/// The layer-normalised LSTM with tiny and odd hidden sizes on OpenCL against the CPU. H = 2 and 3 once crashed the
/// process on PoCL (lstm_ln_cell_forward at a work-group of 2 work-items); 1, 5 and 17 take work-groups of 1, 4 and 16
/// with idle or twice-used work-items.
final class LSTMLayerNormSmallHiddenTests: XCTestCase {
    /// Forward and backward of a 2-layer bidirectional layer-norm LSTM ([B, T, I] batch-first, variable lengths so the
    /// padding branch of the cell kernels runs) on OpenCL and on the CPU in Float32, both against the CPU in Float64.
    /// A tensor passes within the variant parity bounds of LSTMVariantTests (forward 2e-5 absolute, gradients 1e-4 of
    /// the tensor's largest magnitude) or 10x the CPU Float32 path's own error.
    func testOpenCLMatchesCPUForTinyHiddenSizes() throws {
        let cl = try openCLDeviceOrSkip()
        let (I, L, B, T, D) = (4, 2, 3, 6, 2), lengths = [6, 2, 4]
        for H in [1, 2, 3, 5, 17] {
            func make(_ device: Device, seed: UInt64) throws -> LSTM {
                try LSTM(inputSize: I, hiddenSize: H, numLayers: L, batchFirst: true, bidirectional: true, layerNorm: true,
                         device: device, seed: seed)
            }
            let reference = try make(.cpuFloat64, seed: 51)
            for (n, name) in reference.parameterNames.enumerated() where name.hasPrefix("ln_") {
                let t = reference.parameters[name]!
                let base: Double = name.contains("_weight") ? 1 : 0
                try t.assign(randomValues(t.count, seed: 60 + UInt64(n), scale: 0.5).map { base + $0 })
            }
            let x = randomValues(B * T * I, seed: 52)
            let h0 = randomValues(L * D * B * H, seed: 53, scale: 0.5), c0 = randomValues(L * D * B * H, seed: 54, scale: 0.5)
            let gOut = randomValues(B * T * D * H, seed: 55)
            let gH = randomValues(L * D * B * H, seed: 56), gC = randomValues(L * D * B * H, seed: 57)
            let runs = try [Device.cpuFloat64, .cpu, cl].map { device in
                let lstm = try make(device, seed: 0)
                try lstm.flatParameters.assign(try reference.flatParameters.toDoubles())
                return try runLSTM(lstm, input: x, inputShape: [B, T, I], lengths: lengths, h0: h0, c0: c0, gOut: gOut, gH: gH, gC: gC)
            }
            let (exact, cpu, ocl) = (runs[0], runs[1], runs[2])
            var tensors = [(ocl.output, cpu.output, exact.output, "output", true), (ocl.hn, cpu.hn, exact.hn, "h_n", true),
                           (ocl.cn, cpu.cn, exact.cn, "c_n", true), (ocl.dInput, cpu.dInput, exact.dInput, "d input", false),
                           (ocl.dh0, cpu.dh0, exact.dh0, "d h0", false), (ocl.dc0, cpu.dc0, exact.dc0, "d c0", false)]
            tensors += reference.parameterNames.map { (ocl.grads[$0]!, cpu.grads[$0]!, exact.grads[$0]!, "d " + $0, false) }
            var worst = 0.0
            for (got, cpuGot, want, what, isForward) in tensors {
                XCTAssertEqual(got.count, want.count, "H\(H): \(what)")
                let scale = isForward ? 1 : max(maxAbs(want), 1e-30)
                let cpuErr = maxAbsDiff(cpuGot, want)
                assertClose(got, want, atol: max(isForward ? 2e-5 : 1e-4 * scale, 10 * cpuErr), "H\(H): \(what) (cpu float32 error \(cpuErr))")
                worst = max(worst, maxAbsDiff(got, want) / scale)
            }
            print("layer norm H\(H): opencl vs float64, worst error \(worst) (relative for gradients)")
        }
    }

    /// `LSTMLayer(units: 3, layerNorm: true)` in a model predicts on OpenCL what it predicts on the CPU.
    func testLayerNormLSTMLayerWithThreeUnitsRunsOnOpenCL() throws {
        let cl = try openCLDeviceOrSkip()
        let x = try DataArray(shape: [2, 5, 4], values: randomValues(2 * 5 * 4, seed: 71).map(Float.init))
        var outputs: [[Double]] = []
        for device in [Device.cpu, cl] {
            let model = Sequential([LSTMLayer(units: 3, returnSequences: true, layerNorm: true)], device: device, seed: 72)
            try model.build(inputShape: [5, 4])
            outputs.append(try model.predict(x).values.map(Double.init))
        }
        assertClose(outputs[1], outputs[0], atol: 2e-5, "LSTMLayer(units: 3, layerNorm: true) OpenCL vs CPU")
    }
}
