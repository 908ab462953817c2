import Foundation
import XCTest
@testable import LSTMKit

/// Bad input gets a typed error naming the problem; nothing crashes.
final class BadInputTests: XCTestCase {
    func expectError<T>(_ expected: LSTMKitError, _ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? LSTMKitError, expected, file: file, line: line)
            XCTAssertFalse("\(error)".isEmpty)
        }
    }

    func devices() throws -> [Device] {
        Device.openCLDevices().isEmpty ? [.cpu] : [.cpu, try openCLDeviceOrSkip()]
    }

    func testShapeMismatch() throws {
        for device in try devices() {
            let lstm = try LSTM(inputSize: 4, hiddenSize: 3, device: device)
            expectError(.shapeMismatch(what: "input", expected: "[T, B, 4]", got: [5, 2, 3]),
                        try lstm.forward(Tensor.zeros([5, 2, 3], device: device)))
            expectError(.shapeMismatch(what: "input", expected: "[T, B, 4]", got: [5, 4]),
                        try lstm.forward(Tensor.zeros([5, 4], device: device)))
            expectError(.shapeMismatch(what: "h0", expected: "[1, 2, 3]", got: [1, 3, 3]),
                        try lstm.forward(Tensor.zeros([5, 2, 4], device: device),
                                         initialState: (Tensor.zeros([1, 3, 3], device: device), Tensor.zeros([1, 2, 3], device: device))))
            expectError(.shapeMismatch(what: "lengths", expected: "[2] (one per sequence)", got: [3]),
                        try lstm.forward(Tensor.zeros([5, 2, 4], device: device), lengths: [1, 2, 3]))
            _ = try lstm.forward(Tensor.zeros([5, 2, 4], device: device))
            expectError(.shapeMismatch(what: "gradOutput", expected: "[5, 2, 3]", got: [5, 2, 4]),
                        try lstm.backward(gradOutput: Tensor.zeros([5, 2, 4], device: device)))
        }
    }

    func testBadLengthsAndEmptyBatch() throws {
        for device in try devices() {
            let lstm = try LSTM(inputSize: 2, hiddenSize: 3, batchFirst: true, device: device)
            let x = try Tensor.zeros([3, 4, 2], device: device)
            expectError(.invalidLength(index: 1, length: 0, maxLength: 4), try lstm.forward(x, lengths: [4, 0, 2]))
            expectError(.invalidLength(index: 2, length: 5, maxLength: 4), try lstm.forward(x, lengths: [4, 1, 5]))
            expectError(.emptyBatch(what: "batch (B = 0) in input of shape [0, 4, 2]"), try lstm.forward(Tensor.zeros([0, 4, 2], device: device)))
            expectError(.emptyBatch(what: "sequence (T = 0) in input of shape [3, 0, 2]"), try lstm.forward(Tensor.zeros([3, 0, 2], device: device)))
        }
    }

    func testBadConfigurationAndMisuse() throws {
        expectError(.invalidArgument(name: "hiddenSize", value: "0", reason: "must be at least 1"), try LSTM(inputSize: 2, hiddenSize: 0))
        expectError(.invalidArgument(name: "dropout", value: "1.0", reason: "must be in [0, 1)"), try LSTM(inputSize: 2, hiddenSize: 2, dropout: 1))
        expectError(.invalidArgument(name: "cellClip", value: "0.0", reason: "must be > 0 (nil turns clipping off)"),
                    try LSTM(inputSize: 2, hiddenSize: 2, cellClip: 0))
        expectError(.invalidArgument(name: "cellClip", value: "-1.0", reason: "must be > 0 (nil turns clipping off)"),
                    try Sequential([LSTMLayer(units: 2, cellClip: -1)]).build(inputShape: [3, 2]))
        let lstm = try LSTM(inputSize: 2, hiddenSize: 3)
        expectError(.noForwardPass, try lstm.backward(gradOutput: nil))
        expectError(.shapeMismatch(what: "tensor values", expected: "6 values for shape [2, 3]", got: [5]),
                    try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5]))
        if let cl = Device.openCLDevices().isEmpty ? nil : try openCLDeviceOrSkip() {
            expectError(.deviceMismatch(what: "input", expected: "cpu", got: cl.description), try lstm.forward(Tensor.zeros([2, 1, 2], device: cl)))
        }
    }

    func testUnknownDevice() throws {
        expectError(.unknownDevice("tpu"), try Device.named("tpu"))
        expectError(.unknownDevice("opencl:x"), try Device.named("opencl:x"))
        if !Device.openCLDevices().isEmpty {
            XCTAssertThrowsError(try Device.named("opencl:99")) { error in
                guard case .unknownDevice = error as? LSTMKitError else { return XCTFail("\(error)") }
            }
            XCTAssertThrowsError(try Device.opencl(platform: 0, device: 42)) { error in
                guard case .unknownDevice = error as? LSTMKitError else { return XCTFail("\(error)") }
            }
        }
        XCTAssertEqual(try Device.named("cpu"), Device.cpu)
    }

    func testStateDictMismatchesAreNamed() throws {
        let lstm = try LSTM(inputSize: 3, hiddenSize: 2)
        var entries: [String: SafeTensors.Entry] = [:]
        for name in lstm.parameterNames {
            entries[name] = SafeTensors.Entry(shape: lstm.parameters[name]!.shape, values: try lstm.parameters[name]!.toDoubles())
        }
        var missing = entries; missing["bias_hh_l0"] = nil
        expectError(.stateDict(tensor: "bias_hh_l0", reason: "missing (this layer expects 4 tensors)"), try lstm.loadStateDict(missing))
        var wrongShape = entries; wrongShape["weight_hh_l0"] = SafeTensors.Entry(shape: [8, 3], values: Array(repeating: 0, count: 24))
        expectError(.stateDict(tensor: "weight_hh_l0", reason: "shape [8, 3] does not match the layer's [8, 2]"), try lstm.loadStateDict(wrongShape))
        var extra = entries; extra["weight_ih_l1"] = entries["weight_ih_l0"]
        expectError(.stateDict(tensor: "weight_ih_l1", reason: "unexpected: this layer has no such parameter"), try lstm.loadStateDict(extra))

        // A file with an unsupported dtype is rejected with the tensor's name.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-badtype-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        var header = Data(#"{"weight_ih_l0":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var file = Data(); withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(header); file.append(Data(count: 8))
        try file.write(to: url)
        expectError(.stateDict(tensor: "weight_ih_l0", reason: "dtype I64 is not supported (expected F32 or F64) in \(url.path)"), try lstm.load(from: url))
        // A truncated file, too.
        try Data(file.prefix(12)).write(to: url)
        XCTAssertThrowsError(try lstm.load(from: url)) { XCTAssertNotNil($0 as? LSTMKitError) }
    }

    /// With no OpenCL platform, asking for OpenCL fails with `.noOpenCLPlatform` and only `Device.any()`
    /// falls back to the CPU. Run for real in a child process whose ICD loader sees an empty vendor directory.
    func testNoOpenCLPlatform() throws {
        if Settings.flag("LSTMKIT_NO_PLATFORM_CHILD", default: false) {
            XCTAssert(Device.openCLDevices().isEmpty)
            expectError(.noOpenCLPlatform, try Device.opencl())
            expectError(.noOpenCLPlatform, try Device.named("opencl:0"))
            XCTAssertEqual(Device.any(), Device.cpu)
            return
        }
        let emptyVendors = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-no-icd-\(getpid())")
        try FileManager.default.createDirectory(at: emptyVendors, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: emptyVendors) }
        let child = try runTestInChild("BadInputTests/testNoOpenCLPlatform",
                                       environment: ["LSTMKIT_NO_PLATFORM_CHILD": "1", "OCL_ICD_VENDORS": emptyVendors.path])
        let output = child.output
        XCTAssertEqual(child.status, 0, "child run without OpenCL platforms failed:\n\(output)")
        XCTAssert(output.contains("Executed 1 test"), "the child must have run the probe:\n\(output)")
    }
}
