import COpenBLAS
import Foundation

/// The one owner of threads in the process (Docs/Engine.md "Threads").
///
/// Parallel work runs on `Threads.workers` worker threads and OpenBLAS is pinned to one thread
/// the first time the engine runs, so workers × BLAS threads ≤ workers and `--threads 1` is
/// one thread. Only `withBLASThreads` (the benchmark's threaded-BLAS strategy, large one-off
/// products) raises OpenBLAS's count, one region at a time, and pins it back afterwards.
public enum Threads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var configured: Int?

    /// Worker threads for parallel loops: the value given to `configure`, else
    /// `DIFFPHYS_THREADS` when it is a valid count, else the active core count.
    public static var workers: Int {
        lock.lock(); defer { lock.unlock() }
        if let configured { return configured }
        if let text = ProcessInfo.processInfo.environment["DIFFPHYS_THREADS"], let v = Int(text), v >= 1 { return v }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Sets the worker count for the rest of the process (the CLI's `--threads`).
    public static func configure(workers: Int) throws {
        guard workers >= 1 else { throw GSL.failure("Threads.configure", "threads must be ≥ 1, got \(workers)") }
        lock.lock(); configured = workers; lock.unlock()
        pinBLAS()
    }

    /// Checks `DIFFPHYS_THREADS`: nil when unset or valid, else a message naming the bad value.
    public static func environmentProblem() -> String? {
        guard let text = ProcessInfo.processInfo.environment["DIFFPHYS_THREADS"] else { return nil }
        if let v = Int(text), v >= 1 { return nil }
        return "DIFFPHYS_THREADS must be a whole number ≥ 1, got '\(text)'"
    }

    private static let pinned: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// Pins OpenBLAS to one thread (idempotent; the engine calls it before any product).
    public static func pinBLAS() { _ = pinned }

    private static let blasRegion = NSLock()

    /// Runs `body` with OpenBLAS using `count` threads, then pins it back to one. Regions are
    /// serialised; products started meanwhile on other threads may use the raised count.
    public static func withBLASThreads<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        pinBLAS()
        blasRegion.lock()
        openblas_set_num_threads(Int32(max(1, count)))
        defer {
            openblas_set_num_threads(1)
            blasRegion.unlock()
        }
        return try body()
    }

    /// OpenBLAS's current thread count (process-wide).
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }
}
