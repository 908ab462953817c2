import Foundation
import LSTMKit

/// Time-series forecasting: the last `window` values of one CSV column (normalised with the training part's
/// mean and standard deviation, stored in normalization.json) predict the next `horizon` values.
/// Model: LSTM x layers -> Dense(horizon), mean squared error. The validation windows are the last ones in time.
enum Forecaster {
    struct Settings {
        var hidden = 32
        var layers = 1
        var window = 24
        var horizon = 1
        var dropout = 0.0
    }

    static func layers(_ s: Settings) -> [Layer] {
        var layers: [Layer] = []
        for i in 0..<s.layers {
            if i > 0, s.dropout > 0 { layers.append(Dropout(s.dropout)) }
            layers.append(LSTMLayer(units: s.hidden, returnSequences: i < s.layers - 1))
        }
        layers.append(Dense(units: s.horizon))
        return layers
    }

    static func settings(_ c: RunConfig) -> Settings {
        Settings(hidden: c.hidden, layers: c.layers, window: c.window ?? 24, horizon: c.horizon ?? 1, dropout: c.dropout)
    }

    /// Checks that `window + horizon` values fit in a series of `count` values.
    static func checkFits(count: Int, window: Int, horizon: Int, what: String) throws {
        let (sum, overflow) = window.addingReportingOverflow(horizon)
        guard !overflow, sum <= count else {
            throw CLIError("--window \(window) + --horizon \(horizon) = \(overflow ? "more than \(Int.max)" : String(sum)) values do not fit in \(what), "
                + "which has \(count) values: use a smaller --window (at most \(max(count - min(horizon, count), 0)))")
        }
    }

    /// Refuses sizes that cannot fit in the device's memory, before anything is allocated.
    static func checkMemory(_ s: Settings, batch: Int, device: Device, source: String) throws {
        let parameters = RunChecks.add(RunChecks.lstmParameters(input: 1, hidden: s.hidden, layers: s.layers, directions: 1),
                                       RunChecks.mul(s.hidden, s.horizon), s.horizon)
        let bytes = RunChecks.trainingBytes(parameters: parameters, batch: batch, steps: s.window, hidden: s.hidden, layers: s.layers,
                                            directions: 1, embedding: 1, outputs: s.horizon, outputSteps: 1)
        try RunChecks.checkMemory(bytes: bytes, device: device,
                                  what: "\(source)--hidden \(s.hidden) --layers \(s.layers) --window \(s.window) --horizon \(s.horizon) --batch-size \(batch)",
                                  fix: "use a smaller --hidden, --layers, --window or --batch-size")
        try RunChecks.checkSizes([("hidden", s.hidden, 1...RunChecks.maxUnits), ("layers", s.layers, 1...RunChecks.maxLayers),
                                  ("window", s.window, 1...RunChecks.maxLength), ("horizon", s.horizon, 1...RunChecks.maxLength)])
    }

    /// The series normalised with `n`; values whose normalisation is not a finite number are an error.
    static func normalise(_ values: [Double], _ n: Normalization, what: String) throws -> [Double] {
        let z = values.map { ($0 - n.mean) / n.std }
        if let i = z.firstIndex(where: { !$0.isFinite }) {
            throw CLIError("\(what): the value \(values[i]) on line \(i + 2) normalises to \(z[i]) with mean \(n.mean) and std \(n.std): "
                + "the values are too large to work with; scale the column down")
        }
        return z
    }

    /// What the model sees: the values, or with `difference` their first differences (one fewer).
    static func modelSeries(_ values: [Double], difference: Bool) -> [Double] {
        difference ? zip(values.dropFirst(), values).map { $0 - $1 } : values
    }

    /// The index in the values of the last value known to window i of the model series (its forecasts are for the
    /// values after it).
    static func origin(window i: Int, _ s: Settings, difference: Bool) -> Int { i + s.window - 1 + (difference ? 1 : 0) }

    /// Normalised model outputs `[horizon]` back to values: x*std + mean, then with `difference` the running sum
    /// from the last known value.
    static func undo(_ p: ArraySlice<Float>, _ n: Normalization, last: Double) -> [Double] {
        let d = p.map { Double($0) * n.std + n.mean }
        guard n.difference == true else { return d }
        var level = last
        return d.map { level += $0; return level }
    }

    /// Inputs `[N, window, 1]` and targets `[N, horizon]` of every window of the (normalised) series, in time order.
    static func windows(_ z: [Double], window w: Int, horizon k: Int) throws -> (x: DataArray, y: DataArray) {
        let n = z.count - w - k + 1
        var xs: [Float] = [], ys: [Float] = []
        for i in 0..<max(n, 0) {
            xs += z[i..<(i + w)].map { Float($0) }
            ys += z[(i + w)..<(i + w + k)].map { Float($0) }
        }
        return (try DataArray(shape: [max(n, 0), w, 1], values: xs), try DataArray(shape: [max(n, 0), k], values: ys))
    }

    static func open(_ run: RunDirectory, option: String) throws -> (RunConfig, Normalization) {
        let config = try run.config(option: option, task: .forecast)
        let n: Normalization = try run.readJSON("normalization.json")
        try RunChecks.check(n, config: config, file: "\(run.path)/\(run.stateName("normalization.json"))")
        return (config, n)
    }

    // MARK: Training

    struct TrainResult {
        var job: TrainingJob.Result
        var normalization: Normalization
        var validationMAE: Double?
        var naiveMAE: Double?
        var validation: ForecastMetrics?
    }

    static func train(csvPath: String, column flagColumn: String?, timeColumn: String?, windowFlag: Int?, horizonFlag: Int?,
                      differenceFlag: Bool = false, seasonFlag: Int? = nil,
                      options o: TrainingOptions, run: RunDirectory) throws -> TrainResult {
        try o.validateValues()
        let device = try o.deviceOption.resolve()
        var config: RunConfig
        var s = Settings()
        var previous: [[String: Double]] = []
        var stored: Normalization? = nil
        if o.resume {
            let (c, n) = try open(run, option: "--resume: --out")
            config = c; stored = n; s = settings(c)
            try TrainingOptions.checkResumed("hidden", o.hidden, c.hidden, run: run)
            try TrainingOptions.checkResumed("layers", o.layers, c.layers, run: run)
            try TrainingOptions.checkResumed("window", windowFlag, c.window, run: run)
            try TrainingOptions.checkResumed("horizon", horizonFlag, c.horizon, run: run)
            try TrainingOptions.checkResumed("dropout", o.dropout, c.dropout, run: run)
            try TrainingOptions.checkResumed("column", flagColumn, c.column, run: run)
            try TrainingOptions.checkResumed("difference", differenceFlag ? true : nil, n.difference ?? false, run: run)
        } else {
            s.hidden = o.hidden ?? s.hidden; s.layers = o.layers ?? s.layers; s.dropout = o.dropout ?? s.dropout
            s.window = windowFlag ?? s.window; s.horizon = horizonFlag ?? s.horizon
            if s.window < 1 { throw CLIError("--window must be at least 1 (got \(s.window))") }
            if s.horizon < 1 { throw CLIError("--horizon must be at least 1 (got \(s.horizon))") }
            config = RunConfig(task: .forecast, hidden: s.hidden, layers: s.layers, dropout: s.dropout, window: s.window, horizon: s.horizon,
                               source: csvPath, batchSize: o.batchSize ?? 32, learningRate: o.lr ?? 0.005, seed: o.seed,
                               device: device.description)
        }
        // Read and check the data before anything is written.
        let table = try CSVTable(path: csvPath)
        let columnName = try flagColumn ?? config.column ?? onlyNumericColumn(table)
        let values = try table.numbers(columnName, option: "--column")
        let resolvedColumn = table.header[try table.column(columnName, option: "--column")]
        let timeName = try (timeColumn ?? (o.resume ? config.timeColumn : nil)).map { table.header[try table.column($0, option: "--time-column")] }
        let difference = stored?.difference ?? differenceFlag
        if let season = seasonFlag, !(1...RunChecks.maxLength).contains(season) { throw CLIError("--season must be in 1...\(RunChecks.maxLength) (got \(season))") }
        let series = modelSeries(values, difference: difference)
        try checkFits(count: series.count, window: s.window, horizon: s.horizon,
                      what: "column '\(resolvedColumn)' of \(table.displayName)\(difference ? " (differenced: one value fewer)" : "")")
        let validationSplit = o.validationSplit ?? 0.2
        let windowCount = series.count - s.window - s.horizon + 1
        let trainWindows = windowCount - Int(Double(windowCount) * validationSplit)
        guard trainWindows >= 1 else {
            throw CLIError("\(table.displayName) gives \(windowCount) windows: too few to train on; use a smaller --window or --validation-split")
        }
        var normalization: Normalization
        if let stored {
            normalization = stored
        } else {
            let trainPart = series[0..<(trainWindows - 1 + s.window + s.horizon)]
            let mean = trainPart.reduce(0, +) / Double(trainPart.count)
            let variance = trainPart.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(trainPart.count)
            guard mean.isFinite, variance.isFinite else {
                throw CLIError("column '\(resolvedColumn)' of \(table.displayName): the values are too large to normalise (their "
                    + "\(mean.isFinite ? "variance" : "mean") overflows a Double): scale the column down")
            }
            normalization = Normalization(column: resolvedColumn, mean: mean, std: variance > 0 ? variance.squareRoot() : 1,
                                          window: s.window, horizon: s.horizon)
        }
        normalization.difference = difference
        normalization.trainWindows = trainWindows
        normalization.seriesLength = values.count
        var seasonNote = ""
        if let season = seasonFlag {
            normalization.season = season
            seasonNote = "season \(season) (--season)"
        } else if !o.resume || stored?.season == nil,
                  let found = ForecastMetrics.detectSeason(Array(values[0..<(origin(window: trainWindows - 1, s, difference: difference) + 1)])) {
            normalization.season = found.season
            seasonNote = String(format: "season %d (detected: autocorrelation %.2f of the differences at that lag)", found.season, found.autocorrelation)
        } else if let season = normalization.season {
            seasonNote = "season \(season)"
        }
        let z = try normalise(series, normalization, what: "column '\(resolvedColumn)' of \(table.displayName)\(difference ? " (differenced)" : "")")
        try checkMemory(s, batch: min(o.batchSize ?? config.batchSize, windowCount), device: device,
                        source: o.resume ? "\(run.path)/run.json: " : "")
        let data = try windows(z, window: s.window, horizon: s.horizon)
        let model: Sequential
        if o.resume {
            model = try run.loadModel(layers(s), inputShape: [s.window, 1], device: device, seed: config.seed, option: "--resume: --out")
            previous = try run.history(config: config)
            if let lr = o.lr { config.learningRate = lr }
            if let b = o.batchSize { config.batchSize = b }
            config.device = device.description
        } else {
            try run.checkFreshTarget(overwrite: o.overwrite)
            model = Sequential(layers(s), device: device, seed: o.seed)
            try model.build(inputShape: [s.window, 1])
        }
        config.source = csvPath
        config.column = resolvedColumn
        config.timeColumn = timeName
        let clipNorm = 5.0  // makeOptimizer's
        try model.compile(optimizer: makeOptimizer(learningRate: config.learningRate), loss: .meanSquaredError, metrics: [.meanAbsoluteError])
        if o.resume { try model.loadOptimizerState(from: run.stateDirectory) }  // Adam's moments and step count continue
        if o.verbose > 0 {
            print("Forecaster on \(device): column '\(resolvedColumn)' of \(table.displayName) (\(values.count) values, mean "
                + String(format: "%.4g, std %.4g", normalization.mean, normalization.std) + "), window \(s.window) -> horizon \(s.horizon), "
                + "\(s.layers) x LSTM(\(s.hidden))\(o.resume ? ", resuming after epoch \(config.epochsTrained)" : "")"
                + (difference ? ", on first differences (--difference)" : "") + (seasonNote.isEmpty ? "" : ", baseline \(seasonNote)"))
            print(String(format: "Adam lr %g, clip norm %g, batch %d, hidden %d, window %d, horizon %d, validation split %g",
                         config.learningRate, clipNorm, config.batchSize, s.hidden, s.window, s.horizon, validationSplit))
            print(model.summary())
        }
        // The validation windows in the column's units, against the naive and seasonal naive forecasts.
        let validationOrigins = (trainWindows..<windowCount).map { origin(window: $0, s, difference: difference) }
        let finalNormalization = normalization
        func validationMetrics(_ model: Sequential) throws -> ForecastMetrics? {
            guard trainWindows < windowCount else { return nil }
            let p = try model.predict(data.x.rows(trainWindows..<windowCount), batchSize: 256).values
            let forecasts = validationOrigins.enumerated().map { j, origin in
                undo(p[(j * s.horizon)..<((j + 1) * s.horizon)], finalNormalization, last: values[origin])
            }
            return ForecastMetrics.compute(values: values, origins: validationOrigins, forecasts: forecasts, season: finalNormalization.season)
        }
        var job = TrainingJob(model: model, x: data.x, y: data.y, validationSplit: validationSplit, epochs: o.epochs ?? 30,
                              batchSize: config.batchSize, seed: config.seed, patience: o.patience, timeLimit: o.timeLimit,
                              verbose: o.verbose, run: run, config: config, previous: previous, fresh: !o.resume,
                              taskFile: { ("normalization.json", try CheckpointStore.encodeJSON(finalNormalization)) })
        if o.verbose > 0 { job.callbacks = [ForecastValidation(season: normalization.season, evaluate: validationMetrics)] }
        let result = try job.fit()
        let metrics = try validationMetrics(model)
        return TrainResult(job: result, normalization: normalization, validationMAE: metrics?.mae, naiveMAE: metrics?.naiveMAE, validation: metrics)
    }

    /// The column to forecast when --column is not given: the only column whose first value is a number.
    static func onlyNumericColumn(_ table: CSVTable) throws -> String {
        let numeric = table.header.indices.filter { Double(table.rows[0][$0].trimmingCharacters(in: .whitespaces)) != nil }
        guard numeric.count == 1 else {
            throw CLIError("\(table.displayName) has \(numeric.isEmpty ? "no numeric column" : "several numeric columns") "
                + "(its columns: \(table.header.joined(separator: ", "))): pass the one to forecast with --column")
        }
        return table.header[numeric[0]]
    }

    // MARK: Forecasting

    struct Forecast {
        var header: [String]
        var rows: [[String]]
        var mae: Double?
        var rmse: Double?
        var naiveMAE: Double?
        /// Forecasts made from training windows, and from validation windows, when the CSV is the one trained on.
        var training: ForecastMetrics? = nil
        var validation: ForecastMetrics? = nil
        var all: ForecastMetrics? = nil
        var season: Int? = nil
        var future: [Double]
        var futureRows: ClosedRange<Int>
        var count: Int
    }

    /// Forecasts from every window of a CSV column: row r (1-based, a data row of the file) gets the forecasts made
    /// from the `window` values before it: `step_1` for row r, `step_k` for row r+k-1. The last row, one past
    /// the data, holds the forecast beyond the end of the series.
    static func forecast(run: RunDirectory, csvPath: String?, column flagColumn: String?, timeColumn flagTime: String?,
                         device: Device, option: String = "--model") throws -> Forecast {
        let (config, n) = try open(run, option: option)
        let s = settings(config)
        let path = csvPath ?? config.source
        let table = try CSVTable(path: path)
        let columnName = flagColumn ?? n.column
        let values = try table.numbers(columnName, option: "--column")
        let timeName = flagTime ?? (table.header.contains(config.timeColumn ?? "\u{0}") ? config.timeColumn : nil)
        let times = try timeName.map { try table.strings($0, option: "--time-column") }
        let difference = n.difference == true
        guard s.window + (difference ? 1 : 0) <= values.count else {
            throw CLIError("the model's window of \(s.window) values\(difference ? " (of differences: \(s.window + 1) values)" : "") is longer than column '\(columnName)' of \(table.displayName) "
                + "(\(values.count) values): give a CSV with at least \(s.window + (difference ? 1 : 0)) rows")
        }
        try checkMemory(s, batch: 1, device: device, source: "\(run.path)/run.json: ")
        let model = try run.loadModel(layers(s), inputShape: [s.window, 1], device: device, seed: config.seed, option: option)
        let series = modelSeries(values, difference: difference)
        let z = try normalise(series, n, what: "column '\(columnName)' of \(table.displayName)\(difference ? " (differenced)" : "")")
        // Origin i: the forecasts for rows i, i+1, ... (0-based) from the values before row i.
        let origins = Array((s.window + (difference ? 1 : 0))...values.count)
        var xs: [Float] = []
        for i in origins { xs += z[(i - s.window - (difference ? 1 : 0))..<(i - (difference ? 1 : 0))].map { Float($0) } }
        let raw = try streamForecasts(model: model, windows: xs, count: origins.count, window: s.window)
        let forecasts = origins.enumerated().map { j, i in undo(raw[(j * s.horizon)..<((j + 1) * s.horizon)], n, last: values[i - 1]) }
        let predictions = forecasts.flatMap { $0 }
        var header = ["row"] + (timeName.map { [$0] } ?? []) + ["actual"]
        header += (1...s.horizon).map { "step_\($0)" }
        var rows: [[String]] = []
        for (j, i) in origins.enumerated() {
            var row = [String(i + 1)]
            if let times { row.append(i < values.count ? times[i] : "") }
            row.append(i < values.count ? String(values[i]) : "")
            row += forecasts[j].map { String(format: "%.6g", $0) }
            rows.append(row)
        }
        // Scored separately: forecasts from the training windows and from the validation windows (window index
        // i - window (- 1 with differences) against trainWindows), when this is the series trained on.
        let lastKnown = origins.map { $0 - 1 }
        let all = ForecastMetrics.compute(values: values, origins: lastKnown, forecasts: forecasts, season: n.season)
        var training: ForecastMetrics? = nil, validation: ForecastMetrics? = nil
        if let trainWindows = n.trainWindows, n.seriesLength == values.count, path == config.source {
            let split = min(trainWindows, origins.count)
            training = ForecastMetrics.compute(values: values, origins: Array(lastKnown[..<split]), forecasts: Array(forecasts[..<split]), season: n.season)
            validation = ForecastMetrics.compute(values: values, origins: Array(lastKnown[split...]), forecasts: Array(forecasts[split...]), season: n.season)
        }
        let future = Array(predictions.suffix(s.horizon))
        return Forecast(header: header, rows: rows, mae: all?.mae, rmse: all?.rmse, naiveMAE: all?.naiveMAE, training: training,
                        validation: validation, all: all, season: n.season, future: future,
                        futureRows: (values.count + 1)...(values.count + s.horizon), count: values.count)
    }

    /// The forecast as CSV text.
    static func csv(_ f: Forecast) -> String {
        ([f.header] + f.rows).map { $0.map(csvField).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// Actual values, one-step-ahead forecasts and the forecast beyond the data, as a chart.
    static func chart(_ f: Forecast, column: String) -> LineChart {
        let actualIndex = f.header.firstIndex(of: "actual")!, stepIndex = actualIndex + 1
        let rows = f.rows.map { Double($0[0])! }
        let actual = f.rows.map { Double($0[actualIndex]) ?? .nan }
        let oneStep = f.rows.map { Double($0[stepIndex]) ?? .nan }
        var series: [(name: String, x: [Double], y: [Double])] = [("actual", rows, actual), ("forecast, 1 step ahead", rows, oneStep)]
        series.append(("forecast beyond the data", f.futureRows.map(Double.init), f.future))
        return LineChart(title: "Forecast of \(column)", xLabel: "row", yLabel: column, series: series)
    }
}
