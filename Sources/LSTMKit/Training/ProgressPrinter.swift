import Foundation

/// Keras-like progress output of `fit`. verbose 1 on a terminal: a bar redrawn in place with steps, elapsed
/// time, ms/step, loss and metrics, then the epoch's final line; verbose 1 elsewhere (a pipe, a file, CI) and
/// verbose 2: one plain line per epoch. verbose 0: nothing.
final class ProgressPrinter {
    let verbose: Int
    let epochs: Int
    let isTerminal = isatty(STDOUT_FILENO) != 0
    private var steps = 0
    private var start = Date()
    private var lastDraw = Date.distantPast

    init(verbose: Int, epochs: Int) {
        self.verbose = verbose
        self.epochs = epochs
    }

    static func format(_ logs: [String: Double]) -> String {
        let order = ["loss"] + logs.keys.filter { $0 != "loss" && !$0.hasPrefix("val_") }.sorted() + logs.keys.filter { $0.hasPrefix("val_") }.sorted()
        return order.compactMap { key in logs[key].map { "\(key): \(String(format: "%.4f", $0))" } }.joined(separator: " - ")
    }

    func beginEpoch(_ epoch: Int, steps: Int) {
        self.steps = steps
        start = Date()
        if verbose == 1 { print("Epoch \(epoch)/\(epochs)"); fflush(nil) }
        if verbose == 2 { print("Epoch \(epoch)/\(epochs)", terminator: ""); fflush(nil) }
    }

    private func bar(_ step: Int) -> String {
        let width = 30, done = steps > 0 ? width * step / steps : width
        let body = step >= steps ? String(repeating: "=", count: width)
            : String(repeating: "=", count: max(done - 1, 0)) + ">" + String(repeating: ".", count: width - max(done, 1))
        let digits = String(steps).count
        return String(repeating: " ", count: digits - String(step).count) + "\(step)/\(steps) [\(body)]"
    }

    func step(_ step: Int, logs: [String: Double]) {
        guard verbose == 1, isTerminal, step < steps, Date().timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = Date()
        let elapsed = Date().timeIntervalSince(start)
        let eta = elapsed / Double(step) * Double(steps - step)
        print("\r\(bar(step)) - ETA: \(Int(eta.rounded()))s - \(Self.format(logs))\u{1B}[K", terminator: "")
        fflush(nil)
    }

    func endEpoch(logs: [String: Double]) {
        let elapsed = Date().timeIntervalSince(start)
        let perStep = elapsed * 1000 / Double(max(steps, 1))
        let timing = "\(Int(elapsed.rounded()))s \(Int(perStep.rounded()))ms/step"
        switch verbose {
        case 1: print("\(isTerminal ? "\r" : "")\(bar(steps)) - \(timing) - \(Self.format(logs))\(isTerminal ? "\u{1B}[K" : "")")
        case 2: print(" - \(timing) - \(Self.format(logs))")
        default: return
        }
        fflush(nil)
    }
}
