import Foundation
import XCTest
@testable import LSTMCLI

/// The forecaster's scores against numbers worked out by hand, and `--difference` undone on output.
final class ForecastMetricsTests: XCTestCase {
    func testMetricsByHand() throws {
        // values 10, 12, 11, 13, 15, 14; season 2.
        let values: [Double] = [10, 12, 11, 13, 15, 14]
        // Forecast A from origin 2 (last known 11): steps for values[3] = 13 and values[4] = 15 -> 12, 16.
        // Forecast B from origin 4 (last known 15): steps for values[5] = 14 and values[6] (past the end, not scored) -> 15, 99.
        let m = try XCTUnwrap(ForecastMetrics.compute(values: values, origins: [2, 4], forecasts: [[12, 16], [15, 99]], season: 2))
        XCTAssertEqual(m.count, 3)
        // Model errors: 12-13 = -1, 16-15 = 1, 15-14 = 1 -> MAE 1, RMSE 1.
        XCTAssertEqual(m.mae, 1, accuracy: 1e-12)
        XCTAssertEqual(m.rmse, 1, accuracy: 1e-12)
        // Naive (last known value): 11-13 = -2, 11-15 = -4, 15-14 = 1 -> MAE 7/3, RMSE sqrt(21/3).
        XCTAssertEqual(m.naiveMAE, 7.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.naiveRMSE, (21.0 / 3).squareRoot(), accuracy: 1e-12)
        // Seasonal naive, season 2: values[3] <- values[1] = 12 (-1), values[4] <- values[2] = 11 (-4), values[5] <- values[3] = 13 (-1)
        // -> MAE 2, RMSE sqrt(18/3).
        XCTAssertEqual(m.seasonalMAE!, 2, accuracy: 1e-12)
        XCTAssertEqual(m.seasonalRMSE!, 6.0.squareRoot(), accuracy: 1e-12)
        XCTAssertTrue(m.line(season: 2).hasSuffix(": beats the baselines"), m.line(season: 2))
        XCTAssertNil(ForecastMetrics.compute(values: values, origins: [5], forecasts: [[1]], season: nil), "nothing to score past the end")
    }

    func testDifferencesAreUndone() {
        // Normalised differences 1 and -0.5 with mean 0.2, std 2: differences 2.2 and -0.8, from the last value 10.
        var n = Normalization(column: "c", mean: 0.2, std: 2, window: 3, horizon: 2)
        n.difference = true
        assertClose(Forecaster.undo([1, -0.5], n, last: 10), [12.2, 11.4], atol: 1e-12, "undone differences")   // Double rounding only
        n.difference = nil
        assertClose(Forecaster.undo([1, -0.5], n, last: 10), [2.2, -0.8], atol: 1e-12, "denormalised values")
        XCTAssertEqual(Forecaster.modelSeries([1, 4, 9], difference: true), [3, 5])
    }

    func testSeasonDetection() {
        // A period-12 wave on a trend: the differences repeat every 12 values.
        let wave = (0..<120).map { Double($0) * 0.1 + sin(Double($0) * 2 * .pi / 12) }
        XCTAssertEqual(ForecastMetrics.detectSeason(wave)?.season, 12)
        XCTAssertNil(ForecastMetrics.detectSeason((0..<120).map { Double($0) }), "a straight line has no season")
    }
}
