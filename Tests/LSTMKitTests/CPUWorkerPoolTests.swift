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
    /// other threads meanwhile (taken from the back of its share) instead of after the hold-up.
    func testAHeldUpThreadsChunksAreTakenByTheOthers() throws {
        let pool = CPUWorkerPool.shared
        guard pool.threads >= 2 else {
            throw XCTSkip("CPUWorkerPool has 1 thread on this machine (LSTMKIT_CPU_THREADS or 1 core): nothing to take over")
        }
        let n = 4 * pool.threads, own = n / pool.threads
        let caller = pthread_self()
        let ranOnCaller = UnsafeMutablePointer<Bool>.allocate(capacity: n)
        defer { ranOnCaller.deallocate() }
        let box = UncheckedSendable(ranOnCaller)
        // On a loaded machine the caller can be descheduled before it starts, and a worker then takes its chunk 0
        // too: such an attempt says nothing, so up to 5 are made. With the take-over disabled every attempt in which
        // the caller ran chunk 0 shows it also ran 1..<own, and the test fails.
        var outcomes: [String] = []
        for _ in 0..<5 {
            ranOnCaller.initialize(repeating: false, count: n)
            pool.run(n) { c in
                if c == 0 { Thread.sleep(forTimeInterval: 0.1) }
                box.value[c] = pthread_equal(pthread_self(), caller) != 0
            }
            guard ranOnCaller[0] else { outcomes.append("chunk 0 ran on a worker (inconclusive)"); continue }
            let takenOver = (1..<own).filter { !ranOnCaller[$0] }
            if takenOver == Array(1..<own) { return }
            outcomes.append("taken over: \(takenOver) of 1..<\(own)")
        }
        XCTFail("the caller's chunks 1..<\(own) should have run on other threads while it slept in chunk 0: \(outcomes)")
    }
}
