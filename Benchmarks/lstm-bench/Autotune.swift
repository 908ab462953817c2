import ArgumentParser
import Foundation
@_spi(Benchmark) import LSTMKit

/// `lstm-bench --autotune`: a coordinate-descent search over the OpenCL tuning values of each OpenCL device.
///
/// Each candidate is a full set of tuning values (`BenchmarkHooks.tuningNames`) on a new backend that shares the
/// device's context. It is first checked against the CPU path (forward outputs and every gradient, max |diff| /
/// max |ref| <= 1e-3, as lstm-bench's own check), and only then timed: training steps of the preset, about
/// `--budget` seconds per candidate, scored by their median. Per value, in `axes` order, every candidate of that
/// value is tried with the others fixed, the incumbent included; the candidates are timed in interleaved rounds
/// (other processes' load on a shared machine then slows all of them alike), and one replaces the incumbent only
/// when its median is at least `minGain` lower and it was faster in every round. The winner is then timed against
/// the defaults the same way (twice as long) and kept only if it beats them by the same rule. What differs from
/// the defaults is stored (`BenchmarkHooks.storeTuning`): the library applies it to every later backend of that
/// device.
struct Autotune {
    /// One value to search and its candidates (the incumbent is always tried as well).
    struct Axis {
        let name: String
        let values: [String]
    }

    /// One candidate of one comparison: its workload on a tuned device (nil once rejected) and its step times.
    final class Candidate {
        let label: String
        let values: [String: String]
        var workload: Workload?
        var forwardError = Double.nan, gradientError = Double.nan
        var verdict = "ok"
        var times: [Double] = []
        /// The median step time of each round, in seconds.
        var roundMedians: [Double] = []
        init(label: String, values: [String: String]) { self.label = label; self.values = values }
        /// The median step time in ms, nil when rejected.
        var medianMs: Double? { verdict == "ok" && !times.isEmpty ? median(times) * 1e3 : nil }
    }

    /// The candidates on a CPU device (PoCL): the block sizes of the work log's sweeps, around the defaults.
    static let cpuAxes = [
        Axis(name: "GEMM_NN", values: ["8x16/16/16", "8x16/16/8", "8x32/16/8", "4x32/16/16", "8x16/8/16", "4x16/16/16"]),
        Axis(name: "GEMM_TN", values: ["8x32/16/16", "8x32/16/8", "8x16/16/16", "4x32/16/16", "8x16/8/16"]),
        Axis(name: "PREFER_NN", values: ["1", "0"]),
        Axis(name: "GEMM_NT", values: ["4x4/8/16", "4x4/8/8", "4x4/16/16", "2x4/8/16", "4x8/8/16"]),
        Axis(name: "GEMM_KCHUNK", values: ["1024", "512", "2048", "0"]),
        Axis(name: "CELL_VW", values: ["16", "8", "4"]),
        Axis(name: "NATIVE_EXP", values: ["1", "0"]),
        Axis(name: "COLUMN_VW", values: ["16", "8", "4"]),
    ]
    /// The candidates on a GPU (untested here: no GPU on the benchmark machine; the group is fixed at 16 x 16).
    static let gpuAxes = [
        Axis(name: "GEMM_NN", values: ["4x4/4/auto", "4x8/4/auto", "4x8/8/auto", "8x8/4/auto", "2x4/4/auto"]),
        Axis(name: "GEMM_TN", values: ["4x4/4/auto", "4x8/4/auto", "4x8/8/auto", "8x8/4/auto", "2x4/4/auto"]),
        Axis(name: "PREFER_NN", values: ["1", "0"]),
        Axis(name: "GEMM_NT", values: ["2x2/4/auto", "2x4/4/auto", "4x4/4/auto", "2x2/8/auto"]),
        Axis(name: "GEMM_KCHUNK", values: ["0", "1024"]),
        Axis(name: "CELL_VW", values: ["1", "4", "8", "16"]),
        Axis(name: "NATIVE_EXP", values: ["0", "1"]),
        Axis(name: "COLUMN_VW", values: ["1", "4", "16"]),
    ]

    let config: BenchConfig
    /// Seconds of timed steps per candidate and comparison, split over the rounds.
    let budget: Double
    let warmup: Int
    let minRepeats: Int
    let maxRepeats: Int
    let dryRun: Bool
    /// A candidate must be this much faster (fraction) than the incumbent to replace it, and faster in every round.
    /// Interleaved medians of the same configuration differ by 5-10% on the 2-core benchmark machine.
    let minGain = 0.05
    /// Interleaved rounds per comparison, and for the final defaults-vs-winner comparison (twice the budget).
    let rounds = 3, finalRounds = 4
    /// The search stops trying new values after this many seconds per device (the final comparison still runs).
    let searchLimit: Double = 240

    /// The forward values (y, h_n, c_n) and gradients (dx, dh0, dc0, every parameter) of a fresh workload after one
    /// forward and backward, as `checkAgainst` compares them.
    static func forwardBackwardValues(_ w: Workload) throws -> (outputs: [Float], gradients: [[Float]]) {
        w.lstm.training = true
        let (y, (hn, cn)) = try w.lstm.forward(w.x)
        let (dx, dh0, dc0) = try w.lstm.backward(gradOutput: w.dy)
        var g = [try dx.toArray(), try dh0.toArray(), try dc0.toArray()]
        g += try w.lstm.parameterNames.map { try w.lstm.gradients[$0]!.toArray() }
        return (try y.toArray() + hn.toArray() + cn.toArray(), g)
    }

    /// The 1-minute load average (other processes slow every timing on a shared machine).
    static func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "?"
    }

    func run(devices: [(device: Device, isGPU: Bool)]) throws {
        let start = now()
        say("autotune: \(config.name) \(config.shape), training step (\(TrainingStep.description))")
        say(String(format: "scoring: median training step, ~%.1f s per candidate in %d interleaved rounds (%d warm-up), after a " +
                   "check against the CPU path (<= 1e-3); a change must gain %.0f%% and win every round", budget, rounds, warmup, minGain * 100))
        say("tuning store: \(BenchmarkHooks.tuningStorePath)\(dryRun ? " (dry run: not written)" : "")")
        let reference = try Self.forwardBackwardValues(Workload(config, on: .cpu))
        for (base, isGPU) in devices {
            try tune(base, axes: isGPU ? Self.gpuAxes : Self.cpuAxes, reference: reference)
        }
        say(String(format: "\nautotune took %.0f s", now() - start))
    }

    private func tune(_ base: Device, axes: [Axis], reference: (outputs: [Float], gradients: [[Float]])) throws {
        let start = now()
        let key = BenchmarkHooks.tuningKey(of: base) ?? base.description
        let defaults = BenchmarkHooks.defaultTuning(of: base)
        let names = BenchmarkHooks.tuningNames
        func show(_ values: [String: String]) -> String { names.map { "\($0)=\(values[$0] ?? "?")" }.joined(separator: " ") }
        say("\n== \(base)   (load average \(Self.loadAverage()))\n  store key: \(key)")
        say("  defaults: \(show(defaults))")
        if let stored = BenchmarkHooks.storedTuning(of: base) {
            say("  stored:   \(stored.isEmpty ? "(empty entry: the defaults)" : names.compactMap { n in stored[n].map { "\(n)=\($0)" } }.joined(separator: " "))")
        }
        let environment = names.compactMap { n in Settings.text("LSTMKIT_" + n).map { "LSTMKIT_\(n)=\($0)" } }
        if !environment.isEmpty {
            say("  environment (not used by the candidates, but it wins over the store later): " + environment.joined(separator: " "))
        }

        var tried = 0, rejected = 0
        say("  value        candidate    median training step             check fwd / grad  verdict")
        var incumbent = defaults
        for axis in axes {
            if now() - start > searchLimit {
                say("  \(axis.name): skipped (search limit of \(Int(searchLimit)) s reached)")
                continue
            }
            if axis.name == "GEMM_NT" && incumbent["PREFER_NN"] == "1" {
                say("  GEMM_NT: skipped (not launched while PREFER_NN=1: the LSTM runs its gemms as NN and TN)")
                continue
            }
            var labels = [incumbent[axis.name]!]
            for v in axis.values where !labels.contains(v) { labels.append(v) }
            let candidates = labels.map { v in
                var values = incumbent
                values[axis.name] = v
                return Candidate(label: v, values: values)
            }
            compare(axis.name, candidates, rounds: rounds, budget: budget, base: base, reference: reference)
            tried += candidates.count
            rejected += candidates.filter { $0.medianMs == nil }.count
            if let best = candidates.filter({ $0.medianMs != nil }).min(by: { $0.medianMs! < $1.medianMs! }), best !== candidates[0],
               candidates[0].medianMs == nil || beats(best, candidates[0]) {
                incumbent[axis.name] = best.label
                say("  -> \(axis.name)=\(best.label)")
            }
        }

        // The winner against the defaults, interleaved the same way.
        var winner = incumbent
        let final = [Candidate(label: "defaults", values: defaults)] + (winner == defaults ? [] : [Candidate(label: "winner", values: winner)])
        say(final.count == 2 ? "  final comparison:" : "  no change beat the incumbent by \(Int(minGain * 100))% in every round; the defaults once more:")
        compare("final", final, rounds: finalRounds, budget: 2 * budget, base: base, reference: reference)
        if final.count == 2, !beats(final[1], final[0]) {
            say("  the winner did not beat the defaults by \(Int(minGain * 100))% in every round of the final comparison: keeping the defaults")
            winner = defaults
        }

        let changed = names.filter { winner[$0] != defaults[$0] }
        let entry = Dictionary(uniqueKeysWithValues: changed.map { ($0, winner[$0]!) })
        say("\n  candidates tried: \(tried) (\(rejected) rejected), " + String(format: "%.0f s, load average %@", now() - start, Self.loadAverage()))
        say("  winner: \(show(winner))")
        say("  changed from the defaults: \(changed.isEmpty ? "nothing" : changed.map { "\($0)=\(winner[$0]!)" }.joined(separator: " "))")
        if let d = final[0].medianMs {
            if final.count == 2, let w = final[1].medianMs {
                say(String(format: "  training step in the final comparison: search winner %.2f ms, defaults %.2f ms (%+.1f%%)%@",
                           w, d, 100 * (w - d) / d, winner == defaults ? "; the defaults are kept" : ""))
            } else {
                say(String(format: "  training step in the final comparison: defaults %.2f ms", d))
            }
        }
        let entryText = entry.isEmpty ? "{} (the defaults)" : changed.map { "\($0)=\(winner[$0]!)" }.joined(separator: " ")
        if dryRun {
            say("  dry run: not stored (the entry for \"\(key)\" would be \(entryText))")
        } else {
            let path = try BenchmarkHooks.storeTuning(entry, for: base)
            say("  stored \(entryText) for \"\(key)\" in \(path)")
        }
    }

    /// True when `a` passed and `b` did not, or `a`'s median is at least `minGain` lower and `a` was faster in every round.
    private func beats(_ a: Candidate, _ b: Candidate) -> Bool {
        guard let ma = a.medianMs else { return false }
        guard let mb = b.medianMs else { return true }
        return ma < mb * (1 - minGain) && zip(a.roundMedians, b.roundMedians).allSatisfy { $0 < $1 }
    }

    /// Builds and checks every candidate against the CPU path, times the ones that pass for about `budget` seconds
    /// each in `rounds` interleaved rounds (the order rotated each round), prints one line each, frees the workloads.
    private func compare(_ axis: String, _ candidates: [Candidate], rounds: Int, budget: Double, base: Device,
                         reference: (outputs: [Float], gradients: [[Float]])) {
        func reject(_ c: Candidate, _ error: Error) {
            let line = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            c.verdict = "REJECTED: " + String(line.prefix(120))
            c.workload = nil
        }
        for c in candidates {
            do {
                let w = try Workload(config, on: BenchmarkHooks.openCLDevice(like: base, tuningOverrides: c.values))
                let got = try Self.forwardBackwardValues(w)
                c.forwardError = relativeError(got.outputs, reference.outputs)
                c.gradientError = zip(got.gradients, reference.gradients).map { relativeError($0, $1) }.max() ?? 0
                if c.forwardError <= 1e-3 && c.gradientError <= 1e-3 {
                    c.workload = w
                } else {
                    c.verdict = "REJECTED: differs from the CPU path by more than 1e-3"
                }
            } catch { reject(c, error) }
        }
        for round in 0..<rounds {
            for i in candidates.indices {
                let c = candidates[(i + round) % candidates.count]
                guard let w = c.workload else { continue }
                do {
                    let times = try timeRepeats(warmup: round == 0 ? warmup : 0, minRepeats: (minRepeats + rounds - 1) / rounds,
                                                maxRepeats: max(1, maxRepeats / rounds), budget: budget / Double(rounds), w.trainStep)
                    c.times += times
                    c.roundMedians.append(median(times))
                } catch { reject(c, error) }
            }
        }
        for c in candidates {
            c.workload = nil
            let value = axis == "final" ? "" : c.label
            let shown = axis == "final" ? c.label : axis
            let timing = c.medianMs.map { String(format: "%9.2f ms (min %8.2f, n=%2d)", $0, c.times.min()! * 1e3, c.times.count) }
                ?? String(repeating: " ", count: 32)
            say("  " + shown.padding(toLength: 12, withPad: " ", startingAt: 0) + " " + value.padding(toLength: 12, withPad: " ", startingAt: 0)
                + " " + timing + String(format: "  check %.1e / %.1e  ", c.forwardError, c.gradientError) + c.verdict)
        }
    }
}

extension LSTMBench {
    /// `--autotune`: the preset (M unless --preset or a custom shape is given) on every OpenCL device of --device.
    func runAutotune() throws {
        let customShape = batch != nil || seq != nil || input != nil || hidden != nil || layers != nil
        let presetGiven = CommandLine.arguments.contains { $0 == "--preset" || $0.hasPrefix("--preset=") }
        let chosen = customShape || presetGiven ? try configs() : BenchConfig.presets.filter { $0.name == "M" }
        guard chosen.count == 1, let config = chosen.first else {
            throw ValidationError("--autotune tunes for one preset or shape (got \(chosen.count))")
        }
        let infos = Device.openCLDevices()
        var devices: [(device: Device, isGPU: Bool)] = []
        for d in try self.devices() where d.isOpenCL {
            let info = try infos.first { try Device.opencl(platform: $0.platformIndex, device: $0.deviceIndex) == d }
            devices.append((d, info?.isGPU ?? false))
        }
        if devices.isEmpty { throw ValidationError("--autotune needs an OpenCL device (--device \(device) has none)") }
        let machine = Machine.current()
        say("lstm-bench --autotune: \(machine.model), \(machine.cores) cores")
        try Autotune(config: config, budget: budget, warmup: warmup, minRepeats: minRepeats, maxRepeats: maxRepeats,
                     dryRun: dryRun).run(devices: devices)
    }
}
