import Foundation
import XCTest
@testable import LSTMKit
import LSTMKitKernels

/// Compiled programs are cached per context: a second layer on the same device builds nothing.
final class ProgramCacheTests: XCTestCase {
    func testSecondLayerDoesNotRecompile() throws {
        let device = try openCLDeviceOrSkip()
        let context = try XCTUnwrap(device.openCL)
        func trainStep() throws {
            let lstm = try LSTM(inputSize: 6, hiddenSize: 10, numLayers: 2, bidirectional: true, device: device, seed: 1)
            let x = try Tensor(shape: [4, 3, 6], values: (0..<72).map { Float($0) / 72 }, device: device)
            let (y, _) = try lstm.forward(x, lengths: [4, 2, 1])
            _ = try lstm.backward(gradOutput: Tensor(shape: y.shape, values: Array(repeating: 1, count: y.count), device: device))
            try device.synchronize()
        }
        try trainStep()
        let builds = context.buildCount
        XCTAssertGreaterThan(builds, 0)
        try trainStep()
        XCTAssertEqual(context.buildCount, builds, "a second layer on the same context must not compile again")
        XCTAssert(try Device.opencl(platform: context.info.platformIndex, device: context.info.deviceIndex) === device,
                  "asking for the same OpenCL device twice must give the same context")
    }

    func testBuildFailureCarriesTheBuildLog() throws {
        let context = try XCTUnwrap(try openCLDeviceOrSkip().openCL)
        XCTAssertThrowsError(try context.buildForTesting(source: "__kernel void broken(__global float *x) { x[0] = undefined_name; }",
                                                         file: "broken.cl")) { error in
            guard case let OpenCLError.build(file, _, log) = error else { return XCTFail("expected .build, got \(error)") }
            XCTAssertEqual(file, "broken.cl")
            XCTAssert(log.contains("undefined_name"), "the build log should name the error: \(log)")
        }
    }

    /// The .cl files on disk (Kernels/, found from this file's path).
    static func kernelFilesOnDisk() throws -> [String: Data] {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Kernels")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".cl") }
        return try Dictionary(uniqueKeysWithValues: names.map { ($0, try Data(contentsOf: dir.appendingPathComponent($0))) })
    }

    /// Every Kernels/*.cl on disk is embedded (kernels.c's list is the same set), with the file's exact bytes.
    func testEveryKernelFileIsEmbedded() throws {
        let onDisk = try Self.kernelFilesOnDisk()
        XCTAssertGreaterThanOrEqual(onDisk.count, 9, "Kernels/ should hold common.cl and the 8 kernel files")
        let embedded = (0..<Int(lstmkit_kernel_file_count())).map { String(cString: lstmkit_kernel_file_name(Int32($0))!) }
        XCTAssertEqual(Set(embedded), Set(onDisk.keys), "kernels.c must embed exactly the .cl files of Kernels/")
        XCTAssertEqual(embedded.count, Set(embedded).count, "a file listed twice in kernels.c")
        for (file, bytes) in onDisk {
            guard let source = lstmkit_kernel_source(file) else { XCTFail("\(file) is not embedded"); continue }
            XCTAssertEqual(Data(bytes: source, count: strlen(source)), bytes, "\(file): the embedded copy differs from the file")
        }
        XCTAssertNil(lstmkit_kernel_source("nope.cl"))
        XCTAssertThrowsError(try OpenCLContext.source(of: "nope.cl"))
    }

    /// The kernels of a .cl source and their parameters, in order, as kinds: "int", "uint", "float" or "ptr".
    static func kernelParameters(_ source: String) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        let pattern = try NSRegularExpression(pattern: #"__kernel[^;{]*?\bvoid\s+(\w+)\s*\(([^)]*)\)"#)
        for m in pattern.matches(in: source, range: NSRange(source.startIndex..., in: source)) {
            let name = String(source[Range(m.range(at: 1), in: source)!])
            let params = String(source[Range(m.range(at: 2), in: source)!]).split(separator: ",").map { p -> String in
                let words = p.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
                if p.contains("*") { return "ptr" }
                return words.contains("float") ? "float" : words.contains("uint") || words.contains("unsigned") ? "uint" : "int"
            }
            out[name] = params
        }
        return out
    }

    /// The kernel table (`Kernel`): every line names a kernel of an embedded .cl file, with the kernel's parameters in
    /// order (a `view` is a pointer and its int offset, a `mem` a pointer), a launch rule of 1-3 dimensions, and a
    /// CPU twin of the same name (a `static func` in Sources/LSTMKit/Backend/CPU, launched from CPUBackend+Launch.swift,
    /// whose switch over the table is exhaustive). Every kernel of Kernels/*.cl is in the table or in the short list of
    /// kernels launched by hand.
    func testEveryTableKernelIsInItsFileWithItsArgumentsAndHasACPUTwin() throws {
        let onDisk = try Self.kernelFilesOnDisk()
        let kernelsByFile = try onDisk.mapValues { try Self.kernelParameters(String(decoding: $0, as: UTF8.self)) }
        let cpuDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/LSTMKit/Backend/CPU")
        let cpuSources = try FileManager.default.contentsOfDirectory(atPath: cpuDir.path).filter { $0.hasSuffix(".swift") }
            .map { try String(contentsOf: cpuDir.appendingPathComponent($0), encoding: .utf8) }.joined(separator: "\n")
        let launch = try String(contentsOf: cpuDir.appendingPathComponent("CPUBackend+Launch.swift"), encoding: .utf8)
        XCTAssertEqual(Kernel.table.count, Kernel.allCases.count)
        XCTAssertEqual(Set(Kernel.table.map(\.name)).count, Kernel.table.count, "a kernel listed twice")
        for kernel in Kernel.allCases {
            let d = kernel.description
            guard let params = kernelsByFile[d.file]?[d.name] else { XCTFail("\(d.name) is not a kernel of \(d.file)"); continue }
            let expected = d.arguments.split(separator: ",").flatMap { arg -> [String] in
                switch arg.split(separator: " ").first ?? "" {
                case "view": return ["ptr", "int"]
                case "mem": return ["ptr"]
                case let kind: return [String(kind)]
                }
            }
            XCTAssertEqual(expected, params, "\(d.name): the table's arguments and \(d.file)'s parameters differ")
            XCTAssertLessThanOrEqual(d.arguments.split(separator: ",").count, KernelArguments.capacity, d.name)
            XCTAssert((1...3).contains(d.dims), d.name)
            XCTAssert(cpuSources.contains("static func \(d.name)<"), "\(d.name) has no CPU twin of the same name")
            XCTAssert(launch.contains(".\(d.name)(") && launch.contains("case .\(kernel):"),
                      "CPUBackend+Launch.swift does not launch the twin \(d.name) for .\(kernel)")
        }
        // Launched by hand, each for its reason (Kernel's doc comment): the gemm family (gemm.cl, gemm_local.cl) and
        // the streaming step.
        let byHand: Set<String> = ["gemm", "lstm_stream_step"]
        let all = Set(kernelsByFile.values.flatMap(\.keys))
        XCTAssertEqual(all.subtracting(byHand), Set(Kernel.table.map(\.name)), "a kernel neither in the table nor launched by hand")
    }

    /// Every Kernels/*.cl compiles on the OpenCL device with the prelude in front and its default defines, and
    /// only common.cl defines the prelude's names (a second definition would not compile).
    func testEveryKernelFileCompiles() throws {
        let context = try XCTUnwrap(try openCLDeviceOrSkip().openCL)
        let onDisk = try Self.kernelFilesOnDisk()
        for file in onDisk.keys.sorted() {
            XCTAssertNoThrow(try context.program(file: file, defines: [:]), file)
            if file != OpenCLContext.preludeFile {
                XCTAssert(try OpenCLContext.programSource(of: file).hasPrefix(try OpenCLContext.source(of: OpenCLContext.preludeFile)), file)
            }
        }
        XCTAssertThrowsError(try context.program(file: "nope.cl", defines: [:]))
    }
}
