import Foundation
@_spi(Benchmark) import LSTMKit

/// `lstm-bench --predict-batches 16,32,auto --predict-samples N`: `Sequential.predict` of the preset's stacked
/// LSTMLayers (returnSequences, batch-first [N, T, I] host input, host output) on N samples, one batch size
/// against another. The batch sizes take turns within each round (A/B/A/B), so they see the same machine load;
/// median over `rounds` rounds after one untimed round. `auto` is predict's own choice (`batchSize: nil`); a
/// trailing `s` (`64s`, `autos`) runs the CPU's LSTM inference step by step instead of as one job per layer
/// (`InferenceHooks.sequenceJob`), for A/Bs. (Batches move with one block copy each: element-by-element copies
/// measured 633 against 386 ms at preset M and were dropped, docs/decisions/0024.)
enum PredictBatchBench {
    static func run(config: BenchConfig, devices: [Device], batches: [String], samples: Int, rounds: Int) throws {
        let (T, I, H) = (config.seq, config.input, config.hidden)
        var g: UInt64 = 0x9E37_79B9_7F4A_7C15
        let values = (0..<(samples * T * I)).map { _ -> Float in
            g = g &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: g >> 11) % 2001 - 1000) / 1000
        }
        let x = try DataArray(shape: [samples, T, I], values: values)
        for d in devices {
            let model = Sequential((0..<config.layers).map { _ in LSTMLayer(units: H, returnSequences: true) }, device: d, seed: 7)
            try model.build(inputShape: [T, I])
            let auto = try InferenceHooks.predictBatch(model, samples: samples)
            say("\n== predict \(config.name) [N=\(samples), T=\(T), I=\(I)] -> LSTM(\(H)) x\(config.layers) on \(d); auto batch = \(auto)")
            let stepwise = batches.map { $0.hasSuffix("s") }
            let sizes: [Int?] = batches.map { b in
                let v = b.hasSuffix("s") ? String(b.dropLast()) : b
                return v == "auto" ? nil : Int(v)
            }
            var times = [[Double]](repeating: [], count: sizes.count)
            var reference: [Float]? = nil
            for round in 0...rounds {
                for (i, b) in sizes.enumerated() {
                    InferenceHooks.sequenceJob = !stepwise[i]
                    defer { InferenceHooks.sequenceJob = true }
                    let t0 = now()
                    let y = try model.predict(x, batchSize: b)
                    let t = now() - t0
                    if round > 0 { times[i].append(t) }
                    if reference == nil { reference = y.values } else if round == 0, y.values != reference! {
                        say("*** \(batches[i]) gives other bits than \(batches[0])")
                    }
                }
            }
            // Where one predict's time goes (wall time per primitive; the rest is host work: slicing, upload, read-back).
            try BenchmarkHooks.setProfiling(true, on: d)
            _ = try BenchmarkHooks.takeProfile(of: d)
            InferenceHooks.sequenceJob = !stepwise[0]
            let t0 = now()
            _ = try model.predict(x, batchSize: sizes[0])
            let wall = now() - t0
            InferenceHooks.sequenceJob = true
            let kernels = try BenchmarkHooks.takeProfile(of: d)
            try BenchmarkHooks.setProfiling(false, on: d)
            say(String(format: "profile of one predict (%@): %.2f ms wall, %.2f ms in primitives", batches[0], wall * 1e3,
                       kernels.reduce(0) { $0 + $1.seconds } * 1e3))
            for k in kernels.prefix(8) {
                say("    " + k.name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: " %9.2f ms  %6d launches", k.seconds * 1e3, k.launches))
            }
            for (i, b) in sizes.enumerated() {
                let med = median(times[i])
                say(String(format: "batch %8@  median %9.2f ms (min %9.2f, max %9.2f, n=%d)  %9.1f samples/s",
                           (b.map(String.init) ?? "auto(\(auto))") + (stepwise[i] ? " steps" : ""), med * 1e3, times[i].min()! * 1e3, times[i].max()! * 1e3,
                           times[i].count, Double(samples) / med))
            }
        }
    }
}
