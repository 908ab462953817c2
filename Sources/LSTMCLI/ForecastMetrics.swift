import Foundation
import LSTMKit

/// Errors of forecasts in the column's units, beside two baselines: the naive forecast (every step repeats the
/// last known value) and, with a season s, the seasonal naive forecast (step h repeats the value s*ceil(h/s)
/// steps before it, i.e. the same point of the last season seen).
struct ForecastMetrics: Equatable {
    var count = 0
    var mae = 0.0, rmse = 0.0
    var naiveMAE = 0.0, naiveRMSE = 0.0
    var seasonalMAE: Double? = nil, seasonalRMSE: Double? = nil

    /// `origins[j]` is the index of the last value known to forecast j; `forecasts[j][h]` forecasts
    /// `values[origins[j] + 1 + h]`. Steps past the end of `values` are not scored. nil when nothing is scored.
    static func compute(values: [Double], origins: [Int], forecasts: [[Double]], season: Int?) -> ForecastMetrics? {
        var m = ForecastMetrics()
        var se = 0.0, ae = 0.0, nse = 0.0, nae = 0.0, sse = 0.0, sae = 0.0, seasonalCount = 0
        for (origin, f) in zip(origins, forecasts) {
            for (h, p) in f.enumerated() {
                let t = origin + 1 + h
                guard t < values.count else { break }
                let y = values[t]
                ae += abs(p - y); se += (p - y) * (p - y)
                let naive = values[origin]
                nae += abs(naive - y); nse += (naive - y) * (naive - y)
                if let s = season, s >= 1 {
                    let back = s * ((h + 1 + s - 1) / s)   // s * ceil((h + 1) / s)
                    if t - back >= 0 {
                        let sn = values[t - back]
                        sae += abs(sn - y); sse += (sn - y) * (sn - y); seasonalCount += 1
                    }
                }
                m.count += 1
            }
        }
        guard m.count > 0 else { return nil }
        let n = Double(m.count)
        m.mae = ae / n; m.rmse = (se / n).squareRoot()
        m.naiveMAE = nae / n; m.naiveRMSE = (nse / n).squareRoot()
        if seasonalCount > 0 {
            m.seasonalMAE = sae / Double(seasonalCount); m.seasonalRMSE = (sse / Double(seasonalCount)).squareRoot()
        }
        return m
    }

    /// "MAE 0.41, RMSE 0.55 (naive, last value: MAE 0.52, RMSE 0.70; seasonal naive, 12: ...)".
    func line(season: Int?) -> String {
        var s = String(format: "MAE %.4g, RMSE %.4g (naive, last value: MAE %.4g, RMSE %.4g", mae, rmse, naiveMAE, naiveRMSE)
        if let sm = seasonalMAE, let sr = seasonalRMSE, let season { s += String(format: "; seasonal naive, season %d: MAE %.4g, RMSE %.4g", season, sm, sr) }
        s += ")"
        let best = min(naiveRMSE, seasonalRMSE ?? .infinity)
        return s + (rmse < best ? ": beats the baselines" : ": does NOT beat the best baseline's RMSE")
    }

    /// The candidate seasons tried when none is given.
    static let candidateSeasons = [4, 7, 12, 24, 52]

    /// A season that is obvious in `values` (the training part): the candidate lag with the largest autocorrelation of
    /// the first differences, when it is at least 0.3 and the series holds at least three seasons. Returns the lag and
    /// the autocorrelation, or nil.
    static func detectSeason(_ values: [Double]) -> (season: Int, autocorrelation: Double)? {
        guard values.count > 2 else { return nil }
        let d = zip(values.dropFirst(), values).map { $0 - $1 }
        let mean = d.reduce(0, +) / Double(d.count)
        let variance = d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        guard variance > 0, variance.isFinite else { return nil }
        var best: (Int, Double)? = nil
        for s in candidateSeasons where 3 * s <= values.count {
            var c = 0.0
            for i in s..<d.count { c += (d[i] - mean) * (d[i - s] - mean) }
            let r = c / variance
            if r >= 0.3, r > (best?.1 ?? -1) { best = (s, r) }
        }
        return best
    }
}
