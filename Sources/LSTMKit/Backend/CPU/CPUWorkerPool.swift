import CBLAS
import CSmallGemm
import Dispatch
import Foundation
import Synchronization

// MARK: Worker pool

/// The CPU path's threads: the caller plus `threads - 1` workers that spin briefly between jobs, then park.
///
/// Why not OpenBLAS's own threads plus `DispatchQueue.concurrentPerform` for the cell kernels: OpenBLAS's idle
/// threads spin (sched_yield) for a while after each gemm, so on a 2-core machine they fight the cell kernel's
/// GCD threads, and the next small gemm pays a hand-off. With this pool OpenBLAS runs single-threaded and
/// every parallel primitive (gemm split along M or N, cell rows, column sums) uses the same threads.
/// LSTMKIT_CPU_THREADS sets the number of threads (default: all cores); 1 leaves OpenBLAS's threading alone.
///
/// A job of n chunks gives each thread a contiguous share to run front to back (the same rows at every step, so
/// each core reads what it wrote); a thread that finishes its share takes the others' remaining chunks from their
/// back. When every core runs at the same speed nothing moves; when one runs slower (a busy neighbour on a shared
/// VM, a smaller core) the others finish its share instead of waiting for it.
final class CPUWorkerPool: @unchecked Sendable {
    static let shared = CPUWorkerPool()

    let threads: Int
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    /// Bit i set: worker i is parked on wakeups[i].
    private let parked = Atomic<Int>(0)
    private let wakeups: [DispatchSemaphore]
    private let callerLock = NSLock()
    nonisolated(unsafe) private var job: ((Int) -> Void)?
    /// Thread i's chunks not yet taken: [low, high) packed as low | high << 32, one cache line per thread.
    private let shares: UnsafeMutablePointer<Atomic<Int>>
    private static let shareStride = 8

    private init() {
        _ = Settings.applyToC
        threads = Settings.int("LSTMKIT_CPU_THREADS", default: min(max(1, ProcessInfo.processInfo.activeProcessorCount), 63), in: 1...63)
        wakeups = (0..<threads).map { _ in DispatchSemaphore(value: 0) }
        shares = .allocate(capacity: threads * Self.shareStride)
        for i in 0..<(threads * Self.shareStride) { (shares + i).initialize(to: Atomic(0)) }
        guard threads > 1 else { return }
        openblas_set_num_threads(1)
        for index in 1..<threads {
            let thread = Thread { [unowned self] in self.work(index) }
            thread.name = "lstmkit-cpu-\(index)"
            thread.start()
        }
    }

    private func work(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var g = generation.load(ordering: .sequentiallyConsistent)
            while g == seen {
                spins += 1
                if spins > 200_000 {  // ~0.2-0.5 ms of spinning, then park until the next job
                    parked.bitwiseOr(1 << index, ordering: .sequentiallyConsistent)
                    if generation.load(ordering: .sequentiallyConsistent) == seen { wakeups[index].wait() }
                    parked.bitwiseAnd(~(1 << index), ordering: .sequentiallyConsistent)
                    spins = 0
                }
                g = generation.load(ordering: .sequentiallyConsistent)
            }
            seen = g
            runJob(index)
            pending.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    /// A worker's part of the current job. A function of its own, so that its reference to the job is released
    /// when it returns, before the worker reports done: `run`'s `withoutActuallyEscaping` traps if the job is
    /// still referenced when it ends.
    @inline(never) private func runJob(_ index: Int) {
        guard let job else { return }
        runChunks(index, job)
    }

    /// Takes one chunk of thread `owner`'s share: from the front for the owner, from the back for another thread.
    private func take(from owner: Int, front: Bool) -> Int? {
        let share = shares + owner * Self.shareStride
        var v = share.pointee.load(ordering: .relaxed)
        while true {
            let low = v & 0xFFFF_FFFF, high = v >> 32
            if low >= high { return nil }
            let next = front ? (low + 1) | high << 32 : low | (high - 1) << 32
            let (done, now) = share.pointee.compareExchange(expected: v, desired: next, ordering: .acquiringAndReleasing)
            if done { return front ? low : high - 1 }
            v = now
        }
    }

    /// Thread `index`'s part of a job: its own share, then what is left of the others'.
    private func runChunks(_ index: Int, _ body: (Int) -> Void) {
        while let c = take(from: index, front: true) { body(c) }
        for offset in 1..<threads {
            let other = (index + offset) % threads
            while let c = take(from: other, front: false) { body(c) }
        }
    }

    /// body(0..<n), every chunk once, on all threads (the caller included); returns when every chunk is done.
    /// Thread t's own share is chunks [n*t/threads, n*(t+1)/threads).
    func run(_ n: Int, _ body: (Int) -> Void) {
        if n <= 1 || threads == 1 { for i in 0..<max(n, 1) { body(i) }; return }
        precondition(n < 1 << 31)
        callerLock.lock(); defer { callerLock.unlock() }
        for t in 0..<threads {
            (shares + t * Self.shareStride).pointee.store(n * t / threads | (n * (t + 1) / threads) << 32, ordering: .relaxed)
        }
        withoutActuallyEscaping(body) { body in
            job = body
            pending.store(threads - 1, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            let sleepers = parked.load(ordering: .sequentiallyConsistent)
            for i in 1..<threads where sleepers & (1 << i) != 0 { wakeups[i].signal() }
            runChunks(0, body)
            while pending.load(ordering: .sequentiallyConsistent) > 0 {}
            job = nil
        }
    }
}
