import Foundation
import Synchronization
import XCTest
@testable import LSTMKit

/// CPUWorkerPool, the CPU path's threads: every chunk of a job runs exactly once, whatever the chunk count, and a
/// thread that is held up has its remaining chunks taken by the others.
final class CPUWorkerPoolTests: XCTestCase {
    func testEveryChunkRunsExactlyOnce() {
        let pool = CPUWorkerPool.shared
        for n in [1, 2, 3, pool.threads, pool.threads + 1, 7, 8, 64, 1000] {
            let counts = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: n)
            for i in 0..<n { (counts + i).initialize(to: Atomic(0)) }
            defer { counts.deallocate() }
            let box = UncheckedSendable(counts)
            for _ in 0..<20 {
                pool.run(n) { c in _ = (box.value + c).pointee.add(1, ordering: .relaxed) }
            }
            let wrong = (0..<n).filter { (counts + $0).pointee.load(ordering: .relaxed) != 20 }
            XCTAssertEqual(wrong, [], "n \(n): chunks not run exactly 20 times in 20 jobs")
        }
    }

    /// The caller owns chunks [0, n / threads) and is held up in chunk 0: its other chunks must be run by the
    /// other threads meanwhile (taken from the back of its share) instead of after the hold-up. Chunk 0 waits (up to
    /// 10 s) for chunks 1..<own to finish: only a take-over can finish them while it waits. Whoever runs chunk 0 (on a
    /// loaded machine a worker can take the caller's whole share, chunk 0 last), the others are done by then; without
    /// the take-over the caller runs chunk 0 first and waits in vain, and the test fails.
    func testAHeldUpThreadsChunksAreTakenByTheOthers() throws {
        let pool = CPUWorkerPool.shared
        guard pool.threads >= 2 else {
            throw XCTSkip("CPUWorkerPool has 1 thread on this machine (LSTMKIT_CPU_THREADS or 1 core): nothing to take over")
        }
        let n = 4 * pool.threads, own = n / pool.threads
        let done = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 2)
        done.initialize(to: Atomic(0))           // chunks of 1..<own finished
        (done + 1).initialize(to: Atomic(-1))    // what chunk 0 saw when it stopped waiting
        defer { done.deallocate() }
        let box = UncheckedSendable(done)
        pool.run(n) { c in
            let done = box.value
            if c == 0 {
                let deadline = Date().addingTimeInterval(10)
                while done.pointee.load(ordering: .acquiring) < own - 1 && Date() < deadline { usleep(200) }
                (done + 1).pointee.store(done.pointee.load(ordering: .acquiring), ordering: .releasing)
            } else if c < own {
                _ = done.pointee.add(1, ordering: .releasing)
            }
        }
        XCTAssertEqual((done + 1).pointee.load(ordering: .acquiring), own - 1,
                       "the caller's chunks 1..<\(own) should have run on other threads while chunk 0 was held up")
    }
}
