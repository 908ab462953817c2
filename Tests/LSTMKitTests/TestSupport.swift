import Foundation
import XCTest
@testable import LSTMKit

/// Asserts |actual - expected| <= atol + rtol * |expected| elementwise. On failure prints the first
/// mismatches and the max absolute error, so the cause is visible without a debugger.
func assertClose(_ actual: [Double], _ expected: [Double], atol: Double, rtol: Double = 0, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("\(what): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return
    }
    var maxError = 0.0, bad: [String] = []
    for i in actual.indices {
        let err = abs(actual[i] - expected[i])
        if !(err <= atol + rtol * abs(expected[i])) {  // also catches NaN
            if bad.count < 5 { bad.append("[\(i)] got \(actual[i]) expected \(expected[i]) (error \(err))") }
        }
        maxError = max(maxError, err.isNaN ? .infinity : err)
    }
    if !bad.isEmpty {
        XCTFail("\(what): max abs error \(maxError) > atol \(atol) + rtol \(rtol); first mismatches:\n  "
            + bad.joined(separator: "\n  "), file: file, line: line)
    }
}

func maxAbs(_ x: [Double]) -> Double { x.map(abs).max() ?? 0 }
func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

/// Tests/Fixtures, found from this file's path (works in a fresh clone and in CI).
let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The OpenCL device under test: LSTMKIT_TEST_DEVICE (default "opencl:0"). With no OpenCL platform the test is
/// skipped with a loud message, unless LSTMKIT_REQUIRE_OPENCL=1 (set by .ci/run), where it fails instead.
func openCLDeviceOrSkip() throws -> Device {
    let spec = Settings.text("LSTMKIT_TEST_DEVICE") ?? "opencl:0"
    if Device.openCLDevices().isEmpty {
        let message = "*** NO OPENCL PLATFORM: OpenCL tests SKIPPED. Install pocl-opencl-icd to run them. ***"
        if Settings.flag("LSTMKIT_REQUIRE_OPENCL", default: false) {
            XCTFail(message + " (LSTMKIT_REQUIRE_OPENCL=1)")
            throw LSTMKitError.noOpenCLPlatform
        }
        print(message)
        throw XCTSkip(message)
    }
    return try Device.named(spec)
}

/// Runs `body` on the CPU, then on the OpenCL test device. The CPU half always runs; the OpenCL half is skipped
/// loudly by `openCLDeviceOrSkip()` (a failure under LSTMKIT_REQUIRE_OPENCL=1) when there is no OpenCL platform.
func onBothDevices(_ body: (Device) throws -> Void) throws {
    try body(.cpu)
    try body(try openCLDeviceOrSkip())
}

/// Seeded uniform values in [-scale, scale).
func randomValues(_ n: Int, seed: UInt64, scale: Double = 1) -> [Double] {
    var g = SeededGenerator(seed: seed)
    return (0..<n).map { _ in Double.random(in: -scale..<scale, using: &g) }
}

/// Everything one forward + backward produces, read back as Double.
struct LSTMRun {
    var output: [Double], hn: [Double], cn: [Double]
    var dInput: [Double], dh0: [Double], dc0: [Double]
    var grads: [String: [Double]]
}

/// Runs forward and backward with the loss sum(out*gOut) + sum(h_n*gH) + sum(c_n*gC).
func runLSTM(_ lstm: LSTM, input: [Double], inputShape: [Int], lengths: [Int]?, h0: [Double]?, c0: [Double]?,
             gOut: [Double], gH: [Double], gC: [Double]) throws -> LSTMRun {
    let dev = lstm.device
    let x = try Tensor(shape: inputShape, doubles: input, device: dev)
    let B = lstm.batchFirst ? inputShape[0] : inputShape[1]
    let hShape = [lstm.numLayers * lstm.numDirections, B, lstm.outputSize]  // h: the projection size, if any
    let stateShape = [lstm.numLayers * lstm.numDirections, B, lstm.hiddenSize]
    let initial = try h0.map { (try Tensor(shape: hShape, doubles: $0, device: dev), try Tensor(shape: stateShape, doubles: c0!, device: dev)) }
    let (y, (hn, cn)) = try lstm.forward(x, lengths: lengths, initialState: initial)
    let g = try lstm.backward(gradOutput: Tensor(shape: y.shape, doubles: gOut, device: dev),
                              gradH: Tensor(shape: hShape, doubles: gH, device: dev),
                              gradC: Tensor(shape: stateShape, doubles: gC, device: dev))
    var grads: [String: [Double]] = [:]
    for name in lstm.parameterNames { grads[name] = try lstm.gradients[name]!.toDoubles() }
    return LSTMRun(output: try y.toDoubles(), hn: try hn.toDoubles(), cn: try cn.toDoubles(),
                   dInput: try g.input.toDoubles(), dh0: try g.h0.toDoubles(), dc0: try g.c0.toDoubles(), grads: grads)
}

/// Runs one test of this test binary in a child process (`Class/test`, e.g. "BadInputTests/testNoOpenCLPlatform"),
/// with `environment` added to this process's, under `ulimit -v addressSpaceKiB` when given; returns how it ended
/// and everything it printed (stdout and stderr). A trap in the child is reported here instead of ending the run.
func runTestInChild(_ test: String, environment: [String: String], addressSpaceKiB: Int? = nil)
    throws -> (reason: Process.TerminationReason, status: Int32, output: String) {
    let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    let child = Process()
    if let kib = addressSpaceKiB {
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", "ulimit -v \(kib) && exec \"$0\" \"$@\"", binary, "LSTMKitTests.\(test)"]
    } else {
        child.executableURL = URL(fileURLWithPath: binary)
        child.arguments = ["LSTMKitTests.\(test)"]
    }
    child.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let pipe = Pipe()
    child.standardOutput = pipe
    child.standardError = pipe
    try child.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    child.waitUntilExit()
    return (child.terminationReason, child.terminationStatus, output)
}

/// Whether `python3 -c "import MODULES"` succeeds (the tests that run PyTorch or onnxruntime skip without them).
func pythonImports(_ modules: String) -> Bool {
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    probe.arguments = ["python3", "-c", "import \(modules)"]
    probe.standardError = FileHandle.nullDevice
    guard (try? probe.run()) != nil else { return false }
    probe.waitUntilExit()
    return probe.terminationStatus == 0
}

/// A new device on `base`'s OpenCL context (same queue and program cache) whose backend uses `base`'s tuning changed
/// by `change`; the registered device keeps its own tuning.
func tunedDevice(_ base: Device, _ change: (inout OpenCLTuning) -> Void) -> Device {
    var tuning = (base.backend as! OpenCLBackend).tuning
    change(&tuning)
    return Device(backend: OpenCLBackend(context: base.openCL!, tuning: tuning),
                  description: base.description + " tuned", openCL: base.openCL)
}

/// A made-up OpenCL device description for the tuning rules: a CPU or GPU with 2 compute units, 1 GiB, and `width` as
/// its preferred float vector width (0: the device did not say).
func openCLDeviceInfo(gpu: Bool, width: Int) -> OpenCLDeviceInfo {
    OpenCLDeviceInfo(platformIndex: 0, deviceIndex: 0, platformName: "test", deviceName: gpu ? "gpu" : "cpu",
                     isGPU: gpu, computeUnits: 2, globalMemoryBytes: 1 << 30, preferredFloatVectorWidth: width)
}
