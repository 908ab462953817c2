import Foundation
import XCTest
@testable import LSTMCLI
@testable import LSTMKit

/// `lstm forecast-stream` and `lstm forecast` on the streaming API: the forecasts printed as values arrive on
/// standard input are those of `lstm forecast` (which steps every window as one stream of a batch) for the same
/// windows, and those equal `predict` on the windows.
///
/// Tolerances: the printed values have 6 significant digits (%.6g), so 2e-5 relative (plus 1e-6 for values near 0);
/// stepping against `predict` sums the products in another order: float32 rounding, 1e-5 on normalised values.
final class ForecastStreamTests: CLITestCase {
    func testForecastStreamPrintsEachForecastAsItsValueArrives() throws {
        let csv = try seriesCSV(rows: 60)
        let out = path("stream-run")
        XCTAssertEqual(lstm(["train", "forecast", "--csv", csv, "--column", "value", "--window", "6", "--horizon", "2", "--layers", "2",
                             "--hidden", "12", "--epochs", "2", "--batch-size", "8", "--out", out] + cpu).code, 0)
        let f = try Forecaster.forecast(run: RunDirectory(out), csvPath: csv, column: nil, timeColumn: nil, device: .cpu)
        let values = f.rows.compactMap { Double($0[1]) }  // "actual" of rows 7...60
        // The same numbers as predict on the windows.
        let (config, n) = try Forecaster.open(RunDirectory(out), option: "--model")
        let model = try RunDirectory(out).loadModel(Forecaster.layers(Forecaster.settings(config)), inputShape: [6, 1], device: .cpu,
                                                    seed: config.seed, option: "--model")
        let all = try CSVTable(path: csv).numbers("value", option: "--column")
        let z = all.map { Float(($0 - n.mean) / n.std) }
        var xs: [Float] = []
        for i in 6...all.count { xs += z[(i - 6)..<i] }
        let predicted = try model.predict(try DataArray(shape: [all.count - 5, 6, 1], values: xs)).values
        let streamed = try Forecaster.streamForecasts(model: model, windows: xs, count: all.count - 5, window: 6)
        assertClose(streamed.map(Double.init), predicted.map(Double.init), atol: 1e-5, "streamed windows against predict")
        XCTAssertEqual(values.count, 54)

        var input = all.map { String($0) }
        input.insert("", at: 3)  // a blank line is skipped
        var printed: [String] = []
        var next = 0
        try Forecaster.streamForecast(run: RunDirectory(out), device: .cpu, readLine: {
            defer { next += 1 }
            return next < input.count ? input[next] : nil
        }, print: { printed.append($0) })
        XCTAssertEqual(printed.count, all.count - 5, "one line per value from the window's 6th on")
        for (j, line) in printed.enumerated() {
            let got = line.split(separator: ",").map { Double($0)! }
            let expected = f.rows[j][2...].map { Double($0)! }  // step_1, step_2 (row, actual, step_1, step_2: no time column)
            assertClose(got, expected, atol: 1e-6, rtol: 2e-5, "line \(j + 1)")
        }

        next = 0
        input = ["1.5", "abc"]
        XCTAssertThrowsError(try Forecaster.streamForecast(run: RunDirectory(out), device: .cpu, readLine: {
            defer { next += 1 }
            return next < input.count ? input[next] : nil
        }, print: { _ in })) { error in
            XCTAssertEqual((error as? CLIError)?.message, "standard input line 2: 'abc' is not a finite number: give one value per line")
        }
    }
}
