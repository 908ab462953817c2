import Foundation
import XCTest
@testable import LSTMKit

/// A model saved here loads in PyTorch and gives PyTorch the same outputs. Runs when python3 with torch and
/// safetensors is installed (`pip install torch safetensors`); skipped, with a message, otherwise.
final class PyTorchInteropTests: XCTestCase {
    func testSavedModelLoadsInPyTorch() throws {
        guard pythonImports("torch, safetensors") else { throw XCTSkip("python3 with torch and safetensors not installed") }

        let lstm = try LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, batchFirst: true, bidirectional: true, seed: 21)
        let x = randomValues(2 * 4 * 3, seed: 22)
        let y = try lstm.forward(Tensor(shape: [2, 4, 3], doubles: x)).output.toDoubles()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-interop-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try lstm.save(to: dir.appendingPathComponent("model.safetensors"))
        let script = """
        import sys, torch
        from safetensors.torch import load_file
        m = torch.nn.LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True)
        m.load_state_dict(load_file(sys.argv[1] + "/model.safetensors"))
        x = torch.tensor([\(x.map { "\($0)" }.joined(separator: ","))], dtype=torch.float32).reshape(2, 4, 3)
        print(" ".join(repr(v) for v in m(x)[0].detach().flatten().tolist()))
        """
        let run = Process()
        run.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        run.arguments = ["python3", "-c", script, dir.path]
        let pipe = Pipe()
        run.standardOutput = pipe
        try run.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 0)
        let torchY = text.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        assertClose(y, torchY, atol: 2e-6, "PyTorch output from LSTMKit's saved weights")
    }
}
