import ArgumentParser
import Foundation
import LSTMKit

/// Forecasting through the streaming API (`Sequential.initialState(batch:)` and `step`): the windows of a series
/// as streams, one value per step; and `lstm forecast-stream`, which reads values from standard input and prints
/// each next forecast as soon as its value arrives.
extension Forecaster {
    /// The model's forecasts for `count` windows of `window` normalised values each (`xs` [count, window]
    /// row-major): one stream per window, all stepped together, the output of the last step kept ([count, horizon]).
    /// The same numbers as `predict` on the windows, within float rounding.
    static func streamForecasts(model: Sequential, windows xs: [Float], count: Int, window: Int) throws -> [Float] {
        var state = try model.initialState(batch: count)
        var input = [Float](repeating: 0, count: count), output: [Float] = []
        for t in 0..<window {
            for n in 0..<count { input[n] = xs[n * window + t] }
            try model.step(input, state: &state, output: &output)
        }
        return output
    }

    /// Reads one value per line from `readLine`, and once `window` values have arrived prints, after each value,
    /// the forecast of the next `horizon` values from the last `window` ones (a fresh stream over the window, as the
    /// model was trained). Blank lines are skipped; a line that is not a number is an error naming it.
    static func streamForecast(run: RunDirectory, device: Device, option: String = "--model",
                               readLine: () -> String?, print: (String) -> Void) throws {
        let (config, n) = try open(run, option: option)
        let s = settings(config)
        try checkMemory(s, batch: 1, device: device, source: "\(run.path)/run.json: ")
        let model = try run.loadModel(layers(s), inputShape: [s.window, 1], device: device, seed: config.seed, option: option)
        var state = try model.initialState(batch: 1)
        var recent: [Float] = [], output: [Float] = []
        var lineNumber = 0
        var previous: Double?
        while let line = readLine() {
            lineNumber += 1
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            guard let value = Double(text), value.isFinite else {
                throw CLIError("standard input line \(lineNumber): '\(text)' is not a finite number: give one value per line")
            }
            // A model trained with --difference reads first differences; its forecasts are undone from this value.
            defer { previous = value }
            if n.difference == true {
                guard let previous else { continue }
                recent.append(Float((value - previous - n.mean) / n.std))
            } else {
                recent.append(Float((value - n.mean) / n.std))
            }
            if recent.count > s.window { recent.removeFirst() }
            guard recent.count == s.window else { continue }
            try state.reset()
            for v in recent { try model.step([v], state: &state, output: &output) }
            print(undo(output[...], n, last: value).map { String(format: "%.6g", $0) }.joined(separator: ","))
        }
    }
}

struct ForecastStreamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast-stream",
        abstract: "Read values from standard input, one per line, and print each next forecast as it arrives.",
        discussion: """
            With a model of `lstm train forecast`: once --window values have arrived, every new value prints one line, \
            the forecasts of the next --horizon values (comma-separated, in the column's units), made from the last \
            --window values through the streaming API. Example: tail -f sensor.log | lstm forecast-stream --model runs/sensor
            """
    )
    @Option(help: "The run directory of the model.") var model: String
    @OptionGroup var deviceOption: DeviceOption

    mutating func run() throws {
        try Forecaster.streamForecast(run: RunDirectory(model), device: try deviceOption.resolve(), readLine: { Swift.readLine() },
                                      print: { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) })
    }
}
