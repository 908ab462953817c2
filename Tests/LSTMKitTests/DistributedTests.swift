import Foundation
import XCTest
@testable import LSTMKit

/// Data-parallel training on 2 ranks: runs `mpirun -np 2 lstm-mpi-check MODE` (Tests/MPICheck) as a child process
/// and checks the numbers it prints. Without mpirun these tests are skipped loudly, unless LSTMKIT_REQUIRE_MPI=1
/// (set by .ci/run), where they fail.
final class DistributedTests: XCTestCase {
    struct Run { var status: Int32; var output: String; var seconds: Double }

    func mpirunOrSkip() throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            let message = "*** NO MPIRUN: distributed tests SKIPPED. Install openmpi-bin (scripts/install-deps.sh) to run them. ***"
            if Settings.flag("LSTMKIT_REQUIRE_MPI", default: false) { XCTFail(message + " (LSTMKIT_REQUIRE_MPI=1)") }
            print(message)
            throw XCTSkip(message)
        }
        return path
    }

    /// The lstm-mpi-check executable next to the test bundle (swift build --build-tests builds it).
    func checkExecutable() throws -> String {
        var dir = Bundle(for: Self.self).bundleURL
        while dir.pathExtension == "xctest" || dir.lastPathComponent == "Contents" || dir.lastPathComponent == "MacOS" { dir.deleteLastPathComponent() }
        let path = dir.appendingPathComponent("lstm-mpi-check").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("\(path) is missing: build it with `swift build --build-tests`")
            throw XCTSkip("no lstm-mpi-check")
        }
        return path
    }

    /// Runs a command with its output in a file (orphans holding a pipe cannot block the read); kills it after `limit` s.
    func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], limit: Double) throws -> Run {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"; env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        env["OPENBLAS_NUM_THREADS"] = "1"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = handle
        process.standardError = handle
        let start = Date()
        try process.run()
        while process.isRunning && Date().timeIntervalSince(start) < limit { usleep(50_000) }
        if process.isRunning {
            process.terminate()  // SIGTERM: mpirun then ends its ranks
            process.waitUntilExit()
            try handle.close()
            XCTFail("\(arguments) still running after \(limit) s: killed. Output:\n" + (try String(contentsOf: log, encoding: .utf8)))
            return Run(status: -1, output: "", seconds: limit)
        }
        process.waitUntilExit()
        try handle.close()
        return Run(status: process.terminationStatus, output: try String(contentsOf: log, encoding: .utf8),
                   seconds: Date().timeIntervalSince(start))
    }

    func mpi(_ arguments: [String], recovery: Bool = false, environment: [String: String] = [:], limit: Double = 240) throws -> Run {
        let mpirun = try mpirunOrSkip(), check = try checkExecutable()
        return try run(mpirun, (recovery ? ["--enable-recovery"] : []) + ["-np", "2", check] + arguments, environment: environment, limit: limit)
    }

    /// key=value pairs of the first line starting with `prefix`.
    func fields(_ output: String, _ prefix: String) -> [String: String]? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        var result: [String: String] = [:]
        for part in line.split(separator: " ") { let kv = part.split(separator: "=", maxSplits: 1); if kv.count == 2 { result[String(kv[0])] = String(kv[1]) } }
        return result
    }

    /// 2 ranks with global batch 8 (shards of 4, and 2 + 3 for the last batch of 5) against 1 rank with batch 8:
    /// 3 epochs of 6 steps, Adam with a global-norm clip, a validation split.
    func checkEquivalence(_ device: String, tolerance: Double, samples: Int = 50) throws {
        let r = try mpi(["equivalence", device, "\(samples)"])
        guard let f = fields(r.output, "RESULT") else { return XCTFail("no RESULT line (status \(r.status)):\n\(r.output)") }
        print("equivalence \(device): \(f.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(f["ranks"], "2")
        XCTAssertEqual(f["steps"], "18"); XCTAssertEqual(f["refSteps"], "18")
        let loss = Double(f["lossMaxRel"]!)!, weights = Double(f["weightNormRel"]!)!, val = Double(f["valLossRel"]!)!
        XCTAssertLessThan(loss, tolerance, "per-step losses")
        XCTAssertLessThan(weights, tolerance, "final weights (max |difference| / max |weight|)")
        XCTAssertLessThan(val, tolerance, "validation loss")
        XCTAssertEqual(Double(f["rankSpread"]!)!, 0, "both ranks hold the same weights")
    }

    func testEquivalenceFloat32CPU() throws { try checkEquivalence("cpu", tolerance: 1e-6) }
    func testEquivalenceFloat64CPU() throws { try checkEquivalence("cpu64", tolerance: 1e-12) }
    /// 41 training samples: each epoch's last batch has 1 sample, so rank 0 trains on nothing in that step and
    /// contributes zero gradients; the result must still be the 1-sample batch's.
    func testEquivalenceWithAnEmptyShardFloat64() throws { try checkEquivalence("cpu64", tolerance: 1e-12, samples: 45) }
    func testEquivalenceWithAnEmptyShardFloat32() throws { try checkEquivalence("cpu", tolerance: 1e-6, samples: 45) }
    func testEquivalenceOpenCL() throws {
        _ = try openCLDeviceOrSkip()
        try checkEquivalence("opencl", tolerance: 1e-6)
    }

    func testBatchSmallerThanRanksIsATypedErrorOnEveryRank() throws {
        let r = try mpi(["bad-batch"], limit: 60)
        for rank in 0..<2 {
            XCTAssertTrue(r.output.contains("TYPED-ERROR rank=\(rank) type=DistributedError message=rank \(rank): the ranks cannot train together: the global batch size 1 is smaller than the 2 ranks"), r.output)
        }
        XCTAssertNotEqual(r.status, 0)
    }

    func testRanksWithDifferentModelsGetATypedErrorOnEveryRank() throws {
        let r = try mpi(["bad-model"], limit: 60)
        for rank in 0..<2 {
            XCTAssertTrue(r.output.contains("TYPED-ERROR rank=\(rank) type=DistributedError message=rank \(rank): the ranks cannot train together: the ranks disagree on the model"), r.output)
        }
        XCTAssertNotEqual(r.status, 0)
    }

    /// Zombie or live lstm-mpi-check processes whose command line names `marker` (or zombies of that name).
    func leftovers(_ marker: String) -> [String] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.filter { Int($0) != nil }.compactMap { pid -> String? in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), stat.contains("(lstm-mpi-check)") else { return nil }
            let cmd = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            let zombie = stat.components(separatedBy: ") ").last?.hasPrefix("Z") ?? false
            return zombie || cmd.contains(marker) ? "\(pid): \(stat.prefix(60))" : nil
        }
    }

    func waitForNoLeftovers(_ marker: String) {
        let start = Date()
        while !leftovers(marker).isEmpty && Date().timeIntervalSince(start) < 10 { usleep(100_000) }
        XCTAssertEqual(leftovers(marker), [], "processes left behind")
    }

    /// Rank 1 kills itself (SIGKILL) in epoch 3. (a) Plain mpirun ends the whole job; (b) with --enable-recovery the
    /// survivor sees its all-reduce time out and throws DistributedError.timeout. Then the last checkpoint (epoch 2,
    /// written by rank 0) loads and trains on with 1 rank.
    func testADeadRankEndsTheJobAndTheCheckpointResumesOnOneRank() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-die-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = try mpi(["die", dir.path], environment: ["LSTMKIT_MPI_TIMEOUT": "10"], limit: 60)
        print("dead rank, plain mpirun: status \(plain.status) after \(String(format: "%.1f", plain.seconds)) s")
        XCTAssertTrue(plain.output.contains("DYING rank=1"), plain.output)
        XCTAssertNotEqual(plain.status, 0, "mpirun must report the dead rank")
        XCTAssertLessThan(plain.seconds, 30, "the job must end within 30 s")
        XCTAssertFalse(plain.output.contains("UNEXPECTED"), plain.output)
        waitForNoLeftovers(dir.path)

        try? FileManager.default.removeItem(at: dir)
        let recovering = try mpi(["die", dir.path], recovery: true, environment: ["LSTMKIT_MPI_TIMEOUT": "10"], limit: 60)
        print("dead rank, mpirun --enable-recovery: status \(recovering.status) after \(String(format: "%.1f", recovering.seconds)) s")
        XCTAssertTrue(recovering.output.contains("DYING rank=1"), recovering.output)
        guard let typed = fields(recovering.output, "TYPED-ERROR rank=0") else { return XCTFail("rank 0 printed no typed error:\n\(recovering.output)") }
        XCTAssertEqual(typed["type"], "DistributedError")
        XCTAssertTrue(recovering.output.contains("did not complete within 10.0 s: a peer rank died or hangs"), recovering.output)
        XCTAssertLessThan(recovering.seconds, 30, "the survivor must give up within 30 s")
        XCTAssertTrue(recovering.output.contains("SAVED epoch=2"), recovering.output)
        XCTAssertFalse(recovering.output.contains("SAVED epoch=3"), recovering.output)
        waitForNoLeftovers(dir.path)

        // The epoch-2 checkpoint loads and training continues on 1 rank (no mpirun), from Adam's saved state.
        let resumed = try run(try checkExecutable(), ["resume", dir.path], limit: 120)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        guard let f = fields(resumed.output, "RESULT resumed") else { return XCTFail("no RESULT line:\n\(resumed.output)") }
        XCTAssertEqual(f["ranks"], "1"); XCTAssertEqual(f["optimizerState"], "true")
        let before = Double(f["lossBefore"]!)!, after = Double(f["lossAfter"]!)!
        print("resumed on 1 rank: loss \(before) -> \(after)")
        XCTAssertLessThan(after, before, "two more epochs lower the loss")
    }

    /// `mpirun -np 2 lstm train charlm` against the same command on 1 rank: the same history (within 1e-6 relative),
    /// one run directory written by rank 0, and `--resume` of the 2-rank run with 1 rank continues it.
    func testCLITrainsUnderMpirunLikeOneRankAndResumesOnOneRank() throws {
        let mpirun = try mpirunOrSkip()
        let lstm = URL(fileURLWithPath: try checkExecutable()).deletingLastPathComponent().appendingPathComponent("lstm").path
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let text = String(repeating: "LAWYER, n.  One skilled in circumvention of the law.\nCAT, n.  A soft, indestructible automaton.\n", count: 40)
        try text.write(to: tmp.appendingPathComponent("text.txt"), atomically: true, encoding: .utf8)
        func train(_ out: String, extra: [String] = []) -> [String] {
            ["train", "charlm", "--text", tmp.appendingPathComponent("text.txt").path, "--out", tmp.appendingPathComponent(out).path,
             "--epochs", "2", "--hidden", "16", "--batch-size", "16", "--device", "cpu", "--verbose", "2"] + extra
        }
        let two = try run(mpirun, ["-np", "2", lstm] + train("two"), limit: 240)
        XCTAssertEqual(two.status, 0, two.output)
        XCTAssertEqual(two.output.components(separatedBy: "Epoch 2/2").count, 2, "only rank 0 prints progress:\n\(two.output)")
        let one = try run(lstm, train("one"), limit: 240)
        XCTAssertEqual(one.status, 0, one.output)
        func history(_ out: String) throws -> [[Double]] {
            try String(contentsOf: tmp.appendingPathComponent(out).appendingPathComponent("history.csv"), encoding: .utf8)
                .split(separator: "\n").dropFirst().map { $0.split(separator: ",").map { Double($0)! } }
        }
        let h2 = try history("two"), h1 = try history("one")
        XCTAssertEqual(h2.count, 2); XCTAssertEqual(h1.count, 2)
        let worst = zip(h2.joined(), h1.joined()).map { abs($0 - $1) / max(abs($1), 1e-12) }.max() ?? .infinity
        print("lstm train charlm, 2 ranks vs 1 rank: history max relative difference \(worst)")
        XCTAssertLessThan(worst, 1e-6)
        let resumed = try run(lstm, ["train", "charlm", "--text", tmp.appendingPathComponent("text.txt").path, "--out",
                                     tmp.appendingPathComponent("two").path, "--resume", "--epochs", "2", "--device", "cpu", "--verbose", "2"], limit: 240)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertEqual(try history("two").count, 4, "--resume on 1 rank adds 2 epochs to the 2-rank run")
    }

    /// The pids of live processes whose command line contains `marker` and whose OMPI_COMM_WORLD_RANK is `rank`.
    static func rankProcesses(_ marker: String, rank: Int) -> [Int32] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap { Int32($0) }.filter { pid in
            guard let cmd = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8), cmd.contains(marker),
                  let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            return env.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=\(rank)" }
        }
    }

    /// `mpirun -np 2 lstm train charlm`: rank 1 is killed (SIGKILL) once rank 0 has committed an epoch. The job ends within
    /// 30 s, nothing is left running, the run's newest checkpoint loads, and `--resume` on 1 rank continues after it.
    func testKillingARankOfLstmTrainEndsTheJobAndTheRunResumesOnOneRank() throws {
        let mpirun = try mpirunOrSkip()
        let lstm = URL(fileURLWithPath: try checkExecutable()).deletingLastPathComponent().appendingPathComponent("lstm").path
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let text = String(repeating: "LAWYER, n.  One skilled in circumvention of the law.\nCAT, n.  A soft, indestructible automaton.\n", count: 200)
        try text.write(to: tmp.appendingPathComponent("text.txt"), atomically: true, encoding: .utf8)
        let out = tmp.appendingPathComponent("run")
        let args = ["-np", "2", lstm, "train", "charlm", "--text", tmp.appendingPathComponent("text.txt").path, "--out", out.path,
                    "--epochs", "200", "--hidden", "32", "--batch-size", "8", "--device", "cpu", "--verbose", "2"]
        // Kill rank 1 from a second thread once ckpt-000002 exists.
        let killed = DispatchSemaphore(value: 0)
        final class Victim: @unchecked Sendable { var pid: Int32 = 0 }
        let victim = Victim()
        DispatchQueue.global().async {
            let start = Date()
            while Date().timeIntervalSince(start) < 120 {
                if FileManager.default.fileExists(atPath: out.appendingPathComponent("ckpt-000002").path),
                   let pid = Self.rankProcesses(out.path, rank: 1).first {
                    victim.pid = pid
                    kill(pid, SIGKILL)
                    break
                }
                usleep(50_000)
            }
            killed.signal()
        }
        let r = try run(mpirun, args, limit: 180)
        killed.wait()
        XCTAssertNotEqual(victim.pid, 0, "rank 1 was never found:\n\(r.output)")
        print("lstm train under mpirun, rank 1 (pid \(victim.pid)) killed: mpirun status \(r.status) after \(String(format: "%.1f", r.seconds)) s")
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("exited on signal 9") || r.output.contains("did not complete within"), r.output)
        waitForNoLeftovers(out.path)
        XCTAssertEqual(Self.rankProcesses(out.path, rank: 0), [], "rank 0 must not survive")
        let history = try String(contentsOf: out.appendingPathComponent("history.csv"), encoding: .utf8).split(separator: "\n").count - 1
        XCTAssertGreaterThanOrEqual(history, 2)
        let resumed = try run(lstm, ["train", "charlm", "--text", tmp.appendingPathComponent("text.txt").path, "--out", out.path,
                                     "--resume", "--epochs", "1", "--device", "cpu", "--verbose", "2"], limit: 120)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        let after = try String(contentsOf: out.appendingPathComponent("history.csv"), encoding: .utf8).split(separator: "\n").count - 1
        print("resumed on 1 rank after epoch \(history): history now \(after) epochs")
        XCTAssertEqual(after, history + 1)
    }
}
