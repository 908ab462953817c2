import LSTMKit

/// Prints, after each epoch, the validation windows' errors in the column's units beside the baselines.
final class ForecastValidation: Callback {
    let evaluate: (Sequential) throws -> ForecastMetrics?
    let season: Int?
    init(season: Int?, evaluate: @escaping (Sequential) throws -> ForecastMetrics?) {
        self.season = season
        self.evaluate = evaluate
    }
    func onEpochEnd(epoch: Int, logs: [String: Double], model: Sequential) throws {
        if let m = try evaluate(model) { print("  validation, column units: " + m.line(season: season)) }
    }
}
