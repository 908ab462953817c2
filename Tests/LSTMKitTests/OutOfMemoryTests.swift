import Foundation
import XCTest
@testable import LSTMKit

/// Sizes that overflow, or that no device can hold, are typed errors (`invalidArgument`, `shapeMismatch`,
/// `outOfMemory`) on both devices, never a trap, an abort in the OpenCL runtime or a loop until memory runs
/// out. Running out of memory for real is tested in child processes: under an address-space limit
/// (`ulimit -v`), and on OpenCL past CL_DEVICE_GLOBAL_MEM_SIZE; each child must exit normally having printed
/// the typed error.
final class OutOfMemoryTests: XCTestCase {
    func devices() throws -> [Device] {
        Device.openCLDevices().isEmpty ? [.cpu] : [.cpu, try openCLDeviceOrSkip()]
    }

    /// Bytes held by the device's live buffers, as its allocator accounts them.
    func liveBytes(_ device: Device) -> Int {
        device.openCL.map { $0.liveBytes.load(ordering: .relaxed) } ?? Memory.liveHostBytes.load(ordering: .relaxed)
    }

    /// Asserts that `body` throws `outOfMemory` for `bytes` on `device`, and returns the error's description.
    @discardableResult
    func expectOutOfMemory<T>(bytes: Int, on device: Device, _ body: @autoclosure () throws -> T,
                              file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try body()
            XCTFail("expected outOfMemory(\(bytes) bytes) on \(device), got no error", file: file, line: line)
        } catch let LSTMKitError.outOfMemory(b, d, reason) {
            XCTAssertEqual(b, bytes, "bytes named by the error", file: file, line: line)
            XCTAssertEqual(d, device.description, "device named by the error", file: file, line: line)
            XCTAssertFalse(reason.isEmpty, file: file, line: line)
            return "\(LSTMKitError.outOfMemory(bytes: b, device: d, reason: reason))"
        } catch {
            XCTFail("expected outOfMemory(\(bytes) bytes) on \(device), got \(error)", file: file, line: line)
        }
        return ""
    }

    func expectError<T>(_ expected: LSTMKitError, _ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? LSTMKitError, expected, file: file, line: line)
        }
    }

    /// Element counts that overflow Int are shape errors; byte counts that overflow, or that exceed what the
    /// device can hold, are `outOfMemory` naming the bytes and the device; nothing stays accounted afterwards.
    func testOverflowingAndHugeTensorsAreTypedErrors() throws {
        for device in try devices() {
            let before = liveBytes(device)
            let huge = [1 << 40, 1 << 40]
            expectError(.shapeMismatch(what: "tensor", expected: "dimensions whose product (the element count) fits in Int", got: huge),
                        try Tensor.zeros(huge, device: device))
            expectError(.shapeMismatch(what: "tensor", expected: "dimensions whose product (the element count) fits in Int", got: huge),
                        try Tensor(shape: huge, values: [], device: device))
            expectError(.shapeMismatch(what: "tensor", expected: "non-negative dimensions", got: [-1, -1]),
                        try Tensor(shape: [-1, -1], values: [1], device: device))
            // 2^40 floats: 4 TiB, more than either device holds (the CPU: RAM + swap; PoCL: one buffer's maximum).
            let text = expectOutOfMemory(bytes: 4 << 40, on: device, try Tensor.zeros([1 << 20, 1 << 20], device: device))
            XCTAssert(text.hasPrefix("out of memory on \(device.description): cannot allocate 4398046511104 bytes"), text)
            // 2^62 floats: the element count fits in Int, the byte count does not.
            expectOutOfMemory(bytes: .max, on: device, try Tensor.zeros([1 << 31, 1 << 31], device: device))
            XCTAssertEqual(liveBytes(device), before, "refused requests must leave nothing accounted on \(device)")
        }
    }

    /// The layers check their parameter counts before building anything (no loop over 10^24 names or values).
    func testOverflowingLayerSizesAreTypedErrors() throws {
        for device in try devices() {
            let before = liveBytes(device)
            let big = 1 << 40
            let lstmSizes = "inputSize \(big), hiddenSize \(big), numLayers 1"
            expectError(.invalidArgument(name: "recurrent layer sizes", value: lstmSizes, reason: "the parameter count overflows Int"),
                        try LSTM(inputSize: big, hiddenSize: big, device: device))
            expectError(.invalidArgument(name: "recurrent layer sizes", value: lstmSizes, reason: "the parameter count overflows Int"),
                        try GRU(inputSize: big, hiddenSize: big, device: device))
            expectError(.invalidArgument(name: "recurrent layer sizes", value: "inputSize 1, hiddenSize 1, numLayers \(1 << 60)",
                                         reason: "the parameter count overflows Int"),
                        try LSTM(inputSize: 1, hiddenSize: 1, numLayers: 1 << 60, device: device))
            expectError(.invalidArgument(name: "recurrent layer sizes", value: "inputSize 1, hiddenSize 1, numLayers \(1 << 62)",
                                         reason: "the parameter count overflows Int"),
                        try GRU(inputSize: 1, hiddenSize: 1, numLayers: 1 << 62, bidirectional: true, device: device))
            // Counts that fit but cannot be allocated: 4 x 100000 x (100 + 100000 + 2) floats (160 GB) for
            // LSTM(100, 100000), as `lstm train charlm --hidden 100000`.
            let lstmBytes = 4 * 100_000 * (100 + 100_000 + 2) * 4
            expectOutOfMemory(bytes: lstmBytes, on: device, try LSTM(inputSize: 100, hiddenSize: 100_000, device: device))
            expectOutOfMemory(bytes: 3 * 100_000 * (100 + 100_000 + 2) * 4, on: device,
                              try GRU(inputSize: 100, hiddenSize: 100_000, device: device))
            expectOutOfMemory(bytes: 1_000_000_000_000 * 4, on: device,  // 16 parameters per layer
                              try LSTM(inputSize: 1, hiddenSize: 1, numLayers: 1_000_000_000_000 / 16, device: device))

            expectError(.invalidArgument(name: "Embedding", value: "\(big)x\(big)", reason: "inputDim x outputDim overflows Int"),
                        try Embedding(inputDim: big, outputDim: big).build(inputShape: [10], device: device, seed: 1))
            // outputDim 1e12: refused before a single value is drawn (it used to loop until memory ran out).
            expectOutOfMemory(bytes: 1_000_000_000_000 * 4, on: device,
                              try Embedding(inputDim: 1, outputDim: 1_000_000_000_000).build(inputShape: [10], device: device, seed: 1))
            expectError(.invalidArgument(name: "Dense.units x input features", value: "\(big) x \(big)", reason: "the parameter count overflows Int"),
                        try Dense(units: big).build(inputShape: [big], device: device, seed: 1))
            expectOutOfMemory(bytes: (1_000_000_000_000 * 10 + 1_000_000_000_000) * 4, on: device,
                              try Dense(units: 1_000_000_000_000).build(inputShape: [10], device: device, seed: 1))
            XCTAssertEqual(liveBytes(device), before, "refused layers must leave nothing accounted on \(device)")
        }
    }

    /// The sizes that crashed the model.json loader (issue 13: Dense units 1e12, LSTM units 1e6, Embedding 2^40),
    /// built through `Sequential`: typed errors on both devices.
    func testModelSizesFromTheIssueAreTypedErrors() throws {
        for device in try devices() {
            let before = liveBytes(device)
            func build(_ layers: [Layer], _ shape: [Int]) throws { try Sequential(layers, device: device, seed: 1).build(inputShape: shape) }
            expectOutOfMemory(bytes: (1_000_000_000_000 * 8 + 1_000_000_000_000) * 4, on: device,
                              try build([LSTMLayer(units: 8), Dense(units: 1_000_000_000_000)], [5, 3]))
            // LSTM units 1e6 on 3 inputs: 4e6 x (3 + 1e6 + 2) floats.
            expectOutOfMemory(bytes: 4_000_000 * (3 + 1_000_000 + 2) * 4, on: device, try build([LSTMLayer(units: 1_000_000)], [5, 3]))
            expectOutOfMemory(bytes: (1 << 40) * 8 * 4, on: device, try build([Embedding(inputDim: 1 << 40, outputDim: 8), LSTMLayer(units: 4)], [5]))
            XCTAssertEqual(liveBytes(device), before, "refused models must leave nothing accounted on \(device)")
        }
    }

    /// The allocators account every live buffer and give its bytes back when it is released; CPU buffers are
    /// 64-byte aligned (the AVX-512 cell kernels run on them).
    func testLiveBytesAreAccountedAndReleased() throws {
        for device in try devices() {
            let before = liveBytes(device), hostBefore = Memory.liveHostBytes.load(ordering: .relaxed)
            var tensors = [try Tensor.zeros([1000, 3], device: device), try Tensor.zeros([0], device: device)]
            tensors.append(try Tensor(shape: [5], values: [1, 2, 3, 4, 5], device: device))
            let element = device.precision == .float64 ? 8 : 4
            XCTAssertEqual(liveBytes(device) - before, (3000 + 1 + 5) * element, "live bytes on \(device)")
            // Buffers in host memory (the CPU's, PoCL's) count against the host's limit as well.
            let inHostMemory = device.openCL.map { $0.hostUnified } ?? true
            XCTAssertEqual(Memory.liveHostBytes.load(ordering: .relaxed) - hostBefore, inHostMemory ? (3000 + 1 + 5) * element : 0)
            if !device.isOpenCL {
                for t in tensors {
                    let address = Int(bitPattern: UnsafeRawPointer((t.view.buffer as! CPUBuffer<Float>).pointer))
                    XCTAssertEqual(address % 64, 0, "CPU buffer alignment")
                }
            }
            XCTAssertEqual(try tensors[2].toArray(), [1, 2, 3, 4, 5])
            tensors.removeAll()
            XCTAssertEqual(liveBytes(device), before, "released buffers give their bytes back on \(device)")
            XCTAssertEqual(Memory.liveHostBytes.load(ordering: .relaxed), hostBefore)
        }
    }

    /// The layers' initial values are unchanged by the chunked initialisation: the same as one host array
    /// drawn from the same generator (PyTorch's U(-k, k) for LSTM; Keras's glorot_uniform kernel, drawn on
    /// [in, units] and transposed, and zero bias for Dense; U(-0.05, 0.05) for Embedding), bit for bit, also across
    /// a chunk boundary.
    func testChunkedInitialisationDrawsTheSameValues() throws {
        var g = SeededGenerator(seed: 7)
        let n = Tensor.streamChunk + 3
        let expected = (0..<n).map { _ in Float(Double.random(in: -0.5..<0.5, using: &g)) }
        var g2 = SeededGenerator(seed: 7)
        let t = try Tensor.streaming(shape: [n], device: .cpu) { Double.random(in: -0.5..<0.5, using: &g2) }
        XCTAssertEqual(try t.toArray(), expected)

        let dense = Dense(units: 3)
        _ = try dense.build(inputShape: [5], device: .cpu, seed: 11)
        var gd = SeededGenerator(seed: 11)
        let limit = (6 / Double(5 + 3)).squareRoot()
        let kernel = (0..<15).map { _ in Double.random(in: -limit...limit, using: &gd) }   // Keras's [5, 3]
        let weight = (0..<15).map { kernel[($0 % 5) * 3 + $0 / 5] }                         // [3, 5]
        XCTAssertEqual(try dense.parameterBuffers[0].parameters.toArray(), (weight + [0, 0, 0]).map { Float($0) })

        let embedding = Embedding(inputDim: 3, outputDim: 3)
        _ = try embedding.build(inputShape: [4], device: .cpu, seed: 5)
        var ge = SeededGenerator(seed: 5)
        XCTAssertEqual(try embedding.parameterBuffers[0].parameters.toArray(), (0..<9).map { _ in Float(Double.random(in: -0.05..<0.05, using: &ge)) })

        let lstm = try LSTM(inputSize: 3, hiddenSize: 2, seed: 9)
        var gl = SeededGenerator(seed: 9)
        let kl = 1 / Double(2).squareRoot()
        XCTAssertEqual(try lstm.flatParameters.toArray(), (0..<lstm.flatParameters.count).map { _ in Float(Double.random(in: -kl..<kl, using: &gl)) })
    }

    // MARK: Out of memory for real, in child processes

    /// Runs this test binary on one test in a child process with `environment` added, under `ulimit -v`
    /// (KiB) when given; returns how it ended and what it printed.
    func runChild(_ test: String, environment: [String: String], addressSpaceKiB: Int? = nil)
        throws -> (reason: Process.TerminationReason, status: Int32, output: String) {
        try runTestInChild("OutOfMemoryTests/\(test)", environment: environment, addressSpaceKiB: addressSpaceKiB)
    }

    /// The child's part: allocates `chunk`-byte buffers on `device` until the allocator refuses, at most `cap`
    /// buffers, then writes one value to each (so an OpenCL runtime that allocates at first use allocates them
    /// all, without touching the rest); prints the typed error on a line starting with "OOM-TYPED-ERROR: "; then frees everything and
    /// checks that the device still computes. Returns the bytes it held when refused.
    @discardableResult
    func allocateUntilRefused(on device: Device, chunk: Int, cap: Int) throws -> (held: Int, error: LSTMKitError?) {
        // Build the kernels and start the threads first, so that only the buffers run into the limit.
        XCTAssertEqual(try Tensor(shape: [4], values: [1, 2, 3, 4], device: device).to(.cpu).toArray(), [1, 2, 3, 4])
        _ = try Tensor.zeros([4], device: device).toArray()
        let elements = chunk / (device.precision == .float64 ? 8 : 4)
        var buffers: [DeviceBuffer] = [], failure: LSTMKitError? = nil
        while buffers.count < cap {
            do { buffers.append(try device.backend.allocate(elements)) } catch let error as LSTMKitError {
                failure = error
                break
            }
        }
        // Only now use them: a runtime that allocates at first use (PoCL) must not fail here either.
        for b in buffers { try device.backend.write([Float(1)], to: BufferView(b, elements - 1)) }
        let held = buffers.count * chunk
        print("OOM-CHILD: \(buffers.count) buffers of \(chunk) bytes held on \(device) when refused (cap \(cap))")
        if let failure { print("OOM-TYPED-ERROR: \(failure)") }
        buffers.removeAll()
        XCTAssertEqual(try Tensor.zeros([3], device: device).toArray(), [0, 0, 0], "the device computes after running out of memory")
        return (held, failure)
    }

    static let childVariable = "LSTMKIT_OOM_CHILD"

    /// Allocating until an address-space limit (`ulimit -v`) is reached gives the typed error on the CPU
    /// (posix_memalign fails; it used to be `Fatal error: failed to allocate`) and on OpenCL (the host cannot map
    /// the buffer; PoCL used to abort with `pocl_util.c:789: Assertion 'p->mem_ptr != NULL'`). The child
    /// exits normally, having printed the error.
    func testOutOfMemoryUnderAddressSpaceLimit() throws {
        if let which = Settings.text(Self.childVariable) {
            guard which == "cpu-limit" || which == "opencl-limit" else { return }
            let device: Device = which == "cpu-limit" ? .cpu : try Device.opencl()
            let (_, failure) = try allocateUntilRefused(on: device, chunk: 256 << 20, cap: 64)
            guard case .outOfMemory(256 << 20, device.description, _)? = failure else {
                return XCTFail("expected outOfMemory(268435456 bytes) on \(device) under the address-space limit, got \(String(describing: failure))")
            }
            return
        }
        var kinds = ["cpu-limit"]
        // Start what the child starts (the CPU threads, the OpenCL runtime and a kernel), so that this process
        // maps about what the child will before its buffers.
        _ = try Tensor.zeros([4], device: .cpu).toArray()
        if !Device.openCLDevices().isEmpty {
            _ = try Tensor.zeros([4], device: try openCLDeviceOrSkip()).toArray()
            kinds.append("opencl-limit")
        }
        // The limit: what this process maps now plus 2 GiB, so that the child runs out after a few of its
        // 256 MiB buffers (64 would take 16 GiB, of address space only: each is touched at one value).
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let vmSize = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmSize:") }
            .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) }, "VmSize in /proc/self/status")
        let limitKiB = vmSize + (2 << 20)
        print("OOM-PARENT: VmSize \(vmSize) KiB; the children run under ulimit -v \(limitKiB)")
        for kind in kinds {
            let (reason, status, output) = try runChild("testOutOfMemoryUnderAddressSpaceLimit",
                                                        environment: [Self.childVariable: kind], addressSpaceKiB: limitKiB)
            let device = kind == "cpu-limit" ? "out of memory on cpu" : "out of memory on opencl"
            XCTAssertEqual(reason, .exit, "\(kind): the child must exit, not die of a signal:\n\(output)")
            XCTAssertEqual(status, 0, "\(kind): the child failed:\n\(output)")
            XCTAssert(output.contains("OOM-TYPED-ERROR: \(device)"), "\(kind): no typed error printed:\n\(output)")
            XCTAssert(output.contains("Executed 1 test"), "\(kind): the child must have run the scenario:\n\(output)")
            print(output.split(separator: "\n").filter { $0.hasPrefix("OOM-") }.joined(separator: "\n"))
        }
    }

    /// Many buffers on an OpenCL device whose memory is host memory (PoCL): the device's live buffers are held
    /// to CL_DEVICE_GLOBAL_MEM_SIZE, so the allocator refuses with the typed error once they would pass it.
    /// Before, PoCL handed out buffers far past it and aborted when a malloc finally failed.
    func testOpenCLBuffersPastGlobalMemoryAreRefused() throws {
        if Settings.text(Self.childVariable) == "opencl-global" {
            let device = try Device.opencl()
            let context = try XCTUnwrap(device.openCL)
            let chunk = min(1 << 30, context.maxAllocBytes)
            // Twice the global memory in buffers, at most: the old code went on past it.
            let cap = 2 * context.globalMemoryBytes / chunk + 2
            let (held, failure) = try allocateUntilRefused(on: device, chunk: chunk, cap: cap)
            print("OOM-CHILD: CL_DEVICE_GLOBAL_MEM_SIZE \(context.globalMemoryBytes), CL_DEVICE_MAX_MEM_ALLOC_SIZE \(context.maxAllocBytes)")
            guard case .outOfMemory(chunk, device.description, _)? = failure else {
                return XCTFail("expected outOfMemory(\(chunk) bytes) on \(device) after \(held) bytes, got \(String(describing: failure))")
            }
            XCTAssertLessThanOrEqual(held, context.globalMemoryBytes, "live buffers must stay within CL_DEVICE_GLOBAL_MEM_SIZE")
            XCTAssertGreaterThan(held + chunk, context.globalMemoryBytes, "refused although the buffer fitted")
            return
        }
        if Settings.text(Self.childVariable) != nil { return }
        _ = try openCLDeviceOrSkip()
        let (reason, status, output) = try runChild("testOpenCLBuffersPastGlobalMemoryAreRefused",
                                                    environment: [Self.childVariable: "opencl-global"])
        XCTAssertEqual(reason, .exit, "the child must exit, not die of a signal:\n\(output)")
        XCTAssertEqual(status, 0, "the child failed:\n\(output)")
        XCTAssert(output.contains("OOM-TYPED-ERROR: out of memory on opencl"), "no typed error printed:\n\(output)")
        XCTAssert(output.contains("CL_DEVICE_GLOBAL_MEM_SIZE"), output)
        print(output.split(separator: "\n").filter { $0.hasPrefix("OOM-") }.joined(separator: "\n"))
    }
}
