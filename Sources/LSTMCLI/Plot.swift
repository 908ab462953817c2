import Foundation

/// A line chart as a self-contained SVG: axes with ticks and labels, a title, a legend and one polyline per
/// series (a series' missing values, NaN, break its line).
struct LineChart {
    var title: String
    var xLabel: String
    var yLabel: String
    var series: [(name: String, x: [Double], y: [Double])]
    /// Whole-number x ticks only (epochs, rows).
    var integerX = true
    var width = 720.0, height = 420.0

    static let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]

    func svg() -> String {
        let left = 72.0, right = 20.0, top = 40.0, bottom = 56.0
        let plotW = width - left - right, plotH = height - top - bottom
        let xs = series.flatMap(\.x).filter(\.isFinite), ys = series.flatMap(\.y).filter(\.isFinite)
        var (x0, x1) = (xs.min() ?? 0, xs.max() ?? 1), (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
        if x1 - x0 < 1e-12 { x0 -= 1; x1 += 1 }
        if y1 - y0 < 1e-12 { let pad = max(abs(y0) * 0.05, 0.5); y0 -= pad; y1 += pad }
        y1 += (y1 - y0) * (Double(series.count) * 18 + 8) / plotH   // headroom for the legend
        let yTicks = LineChart.ticks(y0, y1, count: 6), xTicks = LineChart.ticks(x0, x1, count: 8, minimumStep: integerX ? 1 : 0)
        y0 = min(y0, yTicks.first ?? y0); y1 = max(y1, yTicks.last ?? y1)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(LineChart.escape(title))</text>

        """
        // Grid and ticks.
        for t in yTicks where t >= y0 && t <= y1 {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(t)))\" stroke=\"#e0e0e0\"/>\n"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(LineChart.label(t, step: yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1))</text>\n"
        }
        for t in xTicks where t >= x0 && t <= x1 {
            out += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top + plotH))\" x2=\"\(f(px(t)))\" y2=\"\(f(top + plotH + 5))\" stroke=\"black\"/>\n"
            out += "<text x=\"\(f(px(t)))\" y=\"\(f(top + plotH + 19))\" text-anchor=\"middle\">\(LineChart.label(t, step: xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1))</text>\n"
        }
        // Axes and their labels.
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\" stroke=\"black\"/>\n"
        out += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">\(LineChart.escape(xLabel))</text>\n"
        out += "<text x=\"16\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(top + plotH / 2)))\">\(LineChart.escape(yLabel))</text>\n"
        // One polyline per series; a single point (or an isolated one between gaps) gets a dot.
        for (i, s) in series.enumerated() {
            let color = LineChart.colors[i % LineChart.colors.count]
            var runs: [[String]] = [[]]
            for (x, y) in zip(s.x, s.y) {
                if x.isFinite && y.isFinite { runs[runs.count - 1].append("\(f(px(x))),\(f(py(y)))") } else if !runs.last!.isEmpty { runs.append([]) }
            }
            for run in runs where !run.isEmpty {
                if run.count == 1 {
                    let p = run[0].split(separator: ",")
                    out += "<circle cx=\"\(p[0])\" cy=\"\(p[1])\" r=\"3\" fill=\"\(color)\"/>\n"
                } else {
                    out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(run.joined(separator: " "))\"/>\n"
                }
            }
        }
        // The legend, top right, on a white box over the lines.
        let legendWidth = 44 + 7 * Double(series.map(\.name.count).max() ?? 0)
        let lx = left + plotW - legendWidth - 4
        out += "<rect x=\"\(f(lx - 6))\" y=\"\(f(top - 2))\" width=\"\(f(legendWidth + 6))\" height=\"\(f(Double(series.count) * 18 + 6))\" "
            + "fill=\"white\" fill-opacity=\"0.85\" stroke=\"#cccccc\"/>\n"
        for (i, s) in series.enumerated() {
            let color = LineChart.colors[i % LineChart.colors.count]
            let ly = top + 8 + Double(i) * 18
            out += "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            out += "<text x=\"\(f(lx + 30))\" y=\"\(f(ly + 4))\">\(LineChart.escape(s.name))</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    /// "Nice" tick positions (1, 2, 5 times a power of ten) covering [lo, hi].
    static func ticks(_ lo: Double, _ hi: Double, count: Int, minimumStep: Double = 0) -> [Double] {
        let raw = max((hi - lo) / Double(max(count - 1, 1)), minimumStep)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var t = floor(lo / step) * step, out: [Double] = []
        while t <= hi + step * 0.5 && out.count < 50 { out.append(t); t += step }
        return out
    }

    static func label(_ v: Double, step: Double) -> String {
        let decimals = max(0, min(6, Int(-floor(log10(abs(step) > 0 ? abs(step) : 1)))))
        return String(format: "%.\(decimals)f", abs(v) < step * 1e-9 ? 0 : v)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// Writes `svg` to `url`, and a PNG next to it when `rsvg-convert` is on the PATH. Returns the PNG's URL if made.
@discardableResult
func writePlot(_ svg: String, to url: URL) throws -> URL? {
    try writeAtomically(Data(svg.utf8), to: url)
    guard let converter = findExecutable("rsvg-convert") else { return nil }
    let png = url.deletingPathExtension().appendingPathExtension("png")
    let process = Process()
    process.executableURL = converter
    let tmp = png.deletingLastPathComponent().appendingPathComponent("." + png.lastPathComponent + ".lstm-tmp")
    process.arguments = ["--format", "png", "--output", tmp.path, url.path]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    process.waitUntilExit()
    guard process.terminationStatus == 0, (try? DurableIO.rename(tmp, to: png)) != nil else {
        try? FileManager.default.removeItem(at: tmp)
        return nil
    }
    return png
}

/// The first executable called `name` on the PATH.
func findExecutable(_ name: String) -> URL? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    return nil
}

/// Writes to a temporary file next to `url`, then renames it over `url`.
func writeAtomically(_ data: Data, to url: URL) throws {
    try DurableIO.replace(data, at: url)
}
