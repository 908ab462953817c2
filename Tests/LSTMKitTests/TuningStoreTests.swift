import Foundation
import XCTest
@testable import LSTMKit

/// The tuning store of `lstm-bench --autotune` (TuningStore.swift) and tuned OpenCL devices.
///
/// The store tests use a temporary file and pass the store and the environment to `OpenCLTuning.forDevice`
/// explicitly, so they neither read the user's store nor change the process environment, and need no OpenCL.
/// The last test runs an LSTM on a device built with non-default tuning against the CPU path, with the
/// tolerances of OpenCLParityTests (outputs atol 1e-5; gradients 1e-4 of each tensor's largest magnitude).
final class TuningStoreTests: XCTestCase {
    /// A CPU-type device that exists nowhere: its store key is stable ("<name> [?]" when no platform has its index).
    let info = OpenCLDeviceInfo(platformIndex: 99, deviceIndex: 0, platformName: "Test", deviceName: "tuning-test-device",
                                isGPU: false, computeUnits: 2, globalMemoryBytes: 1 << 30)
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-tuning-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var defaults: [String: String] {
        OpenCLTuning.forDevice(info, store: nil, environment: [:]).overrideValues
    }

    func testStoredEntryIsAppliedAndEnvironmentAndOverridesWin() throws {
        let store = TuningStore(path: directory.appendingPathComponent("tuning.json").path)
        let key = TuningStore.deviceKey(info)
        try store.save(["GEMM_NN": "4x8/8/8", "CELL_VW": "4", "GEMM_KCHUNK": "512", "PREFER_NN": "0"], for: key)

        let stored = OpenCLTuning.forDevice(info, store: store, environment: [:])
        XCTAssertEqual(stored.nn.description, "4x8/8/8")
        XCTAssertEqual(stored.cellVW, 4)
        XCTAssertEqual(stored.gemmKChunk, 512)
        XCTAssertFalse(stored.prefersNN)
        XCTAssertEqual(stored.overrideValues["GEMM_TN"], defaults["GEMM_TN"], "values not in the entry keep the defaults")
        XCTAssertEqual(stored.overrideValues["COLUMN_VW"], defaults["COLUMN_VW"])

        // LSTMKIT_* variables win over the stored entry; other LSTMKIT_ variables are not tuning values.
        let environment = ["LSTMKIT_CELL_VW": "8", "LSTMKIT_GEMM_NN": "8x32/16/8", "LSTMKIT_DEVICE": "opencl:0"]
        let withEnvironment = OpenCLTuning.forDevice(info, store: store, environment: environment)
        XCTAssertEqual(withEnvironment.cellVW, 8)
        XCTAssertEqual(withEnvironment.nn.description, "8x32/16/8")
        XCTAssertEqual(withEnvironment.gemmKChunk, 512, "the stored value stays where the environment says nothing")

        // Explicit overrides (lstm-bench's candidates) win over both.
        var explicit = withEnvironment
        XCTAssertTrue(explicit.apply(["CELL_VW": "16", "GEMM_KCHUNK": "0"], source: "test").isEmpty)
        XCTAssertEqual(explicit.cellVW, 16)
        XCTAssertEqual(explicit.gemmKChunk, 0)

        // Another device's key gets the defaults; the values round-trip through overrideValues.
        XCTAssertEqual(store.entry(for: "another device [OpenCL 9.9]"), [:])
        var roundTrip = OpenCLTuning()
        XCTAssertTrue(roundTrip.apply(stored.overrideValues, source: "test").isEmpty)
        XCTAssertEqual(roundTrip.overrideValues, stored.overrideValues)
    }

    func testCorruptFileAndInvalidValuesAreIgnored() throws {
        let path = directory.appendingPathComponent("tuning.json").path
        let store = TuningStore(path: path)
        let key = TuningStore.deviceKey(info)

        // A missing file is an empty store, without a warning.
        XCTAssertEqual(try store.load(), [:])
        XCTAssertEqual(OpenCLTuning.forDevice(info, store: store, environment: [:]).overrideValues, defaults)

        // Not JSON, and JSON of the wrong shape: the defaults, and load() says why.
        for text in ["{\"\(key)\": {\"CELL_VW\": \"4\"", "[1, 2, 3]", "{\"\(key)\": \"CELL_VW=4\"}"] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            XCTAssertEqual(OpenCLTuning.forDevice(info, store: store, environment: [:]).overrideValues, defaults, text)
            XCTAssertThrowsError(try store.load(), text) { error in
                guard case TuningStoreError.corrupt(path, _) = error else { return XCTFail("\(error)") }
            }
            XCTAssertThrowsError(try store.save(["CELL_VW": "4"], for: key), "a corrupt store is not overwritten")
        }

        // Unreadable (a directory where the file should be): the defaults.
        let directoryStore = TuningStore(path: directory.path)
        XCTAssertEqual(OpenCLTuning.forDevice(info, store: directoryStore, environment: [:]).overrideValues, defaults)
        XCTAssertThrowsError(try directoryStore.load()) { error in
            guard case TuningStoreError.unreadable = error else { return XCTFail("\(error)") }
        }

        // Invalid values (as a hand-edited store could hold them) are left out; the valid ones are applied.
        let entry: [String: Any] = [
            "CELL_VW": "3", "COLUMN_VW": 4, "GEMM_NN": "8x12/16/16", "GEMM_TN": "8x16/16/16",
            "GEMM_NT": "4x4/5/16", "GEMM_KCHUNK": "-1", "NATIVE_EXP": "maybe", "NOT_A_NAME": "1", "PREFER_NN": [1],
        ]
        try JSONSerialization.data(withJSONObject: [key: entry]).write(to: URL(fileURLWithPath: path))
        let tuning = OpenCLTuning.forDevice(info, store: store, environment: [:])
        var expected = defaults
        expected["COLUMN_VW"] = "4"
        expected["GEMM_TN"] = "8x16/16/16"
        XCTAssertEqual(tuning.overrideValues, expected)

        var check = OpenCLTuning()
        let problems = check.apply(try store.load()[key]!, source: "test")
        let rejected = problems.compactMap { (p: TuningStoreError) -> String? in
            if case let .invalidValue(_, name, _, _) = p { return name }
            return nil
        }
        XCTAssertEqual(Set(rejected),
                       ["CELL_VW", "GEMM_NN", "GEMM_NT", "GEMM_KCHUNK", "NATIVE_EXP", "NOT_A_NAME", "PREFER_NN"])
        // The same parser reads the environment: a bad variable is ignored as well.
        let bad = OpenCLTuning.forDevice(info, store: nil, environment: ["LSTMKIT_CELL_VW": "12", "LSTMKIT_GEMM_TN": "8x32"])
        XCTAssertEqual(bad.overrideValues, defaults)
        // Saving refuses what the kernels would not compile.
        XCTAssertThrowsError(try TuningStore(path: directory.appendingPathComponent("other.json").path).save(["CELL_VW": "2"], for: key))
    }

    func testWritesKeepOtherDevicesAndLeaveNoTemporaryFiles() throws {
        let path = directory.appendingPathComponent("nested/dir/tuning.json").path
        let store = TuningStore(path: path)
        try store.save(["CELL_VW": "8"], for: "device A [OpenCL 3.0 X]")
        try store.save(["GEMM_NN": "8x32/16/8", "NATIVE_EXP": "0"], for: "device B [OpenCL 3.0 Y]")
        try store.save(["CELL_VW": "4", "COLUMN_VW": "8"], for: "device A [OpenCL 3.0 X]")
        XCTAssertEqual(try store.load(), [
            "device A [OpenCL 3.0 X]": ["CELL_VW": "4", "COLUMN_VW": "8"],
            "device B [OpenCL 3.0 Y]": ["GEMM_NN": "8x32/16/8", "NATIVE_EXP": "0"],
        ])
        try store.removeEntry(for: "device A [OpenCL 3.0 X]")
        XCTAssertEqual(try store.load(), ["device B [OpenCL 3.0 Y]": ["GEMM_NN": "8x32/16/8", "NATIVE_EXP": "0"]])
        let files = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        XCTAssertEqual(files, ["tuning.json"], "the temporary file is renamed over the store")

        XCTAssertEqual(TuningStore.defaultPath(environment: ["LSTMKIT_TUNING_FILE": "/x/t.json", "XDG_CACHE_HOME": "/c", "HOME": "/h"]),
                       "/x/t.json")
        XCTAssertEqual(TuningStore.defaultPath(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"]), "/c/lstmkit/tuning.json")
        XCTAssertEqual(TuningStore.defaultPath(environment: ["HOME": "/h"]), "/h/.cache/lstmkit/tuning.json")
    }

    func testTunedOpenCLDeviceMatchesTheCPUPath() throws {
        let base = try openCLDeviceOrSkip()
        let tunings: [[String: String]] = [
            ["CELL_VW": "4", "GEMM_NN": "4x8/8/8", "GEMM_TN": "4x16/8/auto", "COLUMN_VW": "4", "GEMM_KCHUNK": "16", "NATIVE_EXP": "0"],
            ["PREFER_NN": "0", "GEMM_NT": "2x4/4/8", "CELL_VW": "8", "COLUMN_VW": "1"],
        ]
        for overrides in tunings {
            let device = try Device.openCL(sharing: base, tuningOverrides: overrides)
            XCTAssertFalse(device === base)
            let tuning = try XCTUnwrap(device.backend as? OpenCLBackend).tuning
            for (name, value) in overrides { XCTAssertEqual(tuning.overrideValues[name], value, name) }
            XCTAssertIdentical(device.openCL, base.openCL, "the context and its programs are shared")

            // batch-first, bidirectional, two layers, lengths, H = 37 (vector and tail paths of CVW 4 and 8).
            try OpenCLParityTests.compareLayers([OpenCLParityTests.Case(I: 19, H: 37, L: 2, B: 3, T: 9, bidirectional: true,
                                                                        batchFirst: true, lengths: [9, 4, 1])],
                                                on: device, seedBase: 300, label: "tuned \(overrides)")
        }

        // An invalid override is refused (not silently replaced by a default) when asked for explicitly.
        XCTAssertThrowsError(try Device.openCL(sharing: base, tuningOverrides: ["CELL_VW": "3"])) { error in
            guard case TuningStoreError.invalidValue(_, "CELL_VW", "3", _) = error else { return XCTFail("\(error)") }
        }
    }
}
