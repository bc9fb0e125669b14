import Dispatch
import Foundation
import GSLKit

/// Runs independent chunks of trajectories on worker threads.
///
/// Determinism: chunk boundaries depend only on `count` and `chunkSize`, never on the thread
/// count, and each trajectory draws from its own `RandomStream(seed:stream:)`; results are
/// stored by chunk index. BLAS is pinned to one thread (`Threads`), so the same seed gives
/// bit-identical results on 1 or N threads.
public enum Parallel {
    /// Worker threads to use by default: `Threads.workers` (the process's one thread budget:
    /// `--threads`, else `DIFFPHYS_THREADS`, else the active core count).
    public static var defaultThreads: Int { Threads.workers }

    /// Default number of trajectories per chunk (one batched score evaluation).
    public static let defaultChunkSize = 64

    /// Splits `0..<count` into chunks of `chunkSize`, runs `body` on each with a per-worker
    /// workspace, and returns the results in chunk order. Rethrows the first error.
    public static func mapChunks<Workspace, Result>(
        count: Int, chunkSize: Int = defaultChunkSize, threads: Int = defaultThreads,
        makeWorkspace: @escaping () throws -> Workspace,
        _ body: @escaping (inout Workspace, Range<Int>) throws -> Result
    ) throws -> [Result] {
        precondition(chunkSize >= 1, "chunkSize must be ≥ 1")
        if count <= 0 { return [] }
        Threads.pinBLAS()
        let chunks = (count + chunkSize - 1) / chunkSize
        let range: @Sendable (Int) -> Range<Int> = { c in (c * chunkSize)..<min(count, (c + 1) * chunkSize) }
        let workers = max(1, min(threads, chunks))
        if workers == 1 {
            var ws = try makeWorkspace()
            return try (0..<chunks).map { try body(&ws, range($0)) }
        }
        let collector = ChunkCollector<Result>(chunks: chunks)
        let job = ChunkJob(makeWorkspace: makeWorkspace, body: body)
        let work: @Sendable (Int) -> Void = { worker in
            do {
                var ws = try job.makeWorkspace()
                var c = worker
                while c < chunks, !collector.failed {
                    collector.store(try job.body(&ws, range(c)), at: c)
                    c += workers
                }
            } catch {
                collector.fail(error)
            }
        }
        let group = DispatchGroup()
        for worker in 1..<workers {
            group.enter()
            let thread = Thread {
                work(worker)
                group.leave()
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        work(0)
        group.wait()
        return try collector.results()
    }
}

/// Hands the caller's closures to the worker threads; safe because `mapChunks` waits for every
/// worker and workers touch disjoint chunks. (A class with named members: destructuring a tuple
/// of closures here miscompiles with Swift 6.3.1 — an over-release caught by the SIL verifier.)
private final class ChunkJob<Workspace, Result>: @unchecked Sendable {
    let makeWorkspace: () throws -> Workspace
    let body: (inout Workspace, Range<Int>) throws -> Result
    init(makeWorkspace: @escaping () throws -> Workspace, body: @escaping (inout Workspace, Range<Int>) throws -> Result) {
        self.makeWorkspace = makeWorkspace
        self.body = body
    }
}

private final class ChunkCollector<Result>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result?]
    private var error: Error?
    init(chunks: Int) { slots = Array(repeating: nil, count: chunks) }
    var failed: Bool { lock.lock(); defer { lock.unlock() }; return error != nil }
    func store(_ r: Result, at i: Int) { lock.lock(); slots[i] = r; lock.unlock() }
    func fail(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
    func results() throws -> [Result] {
        if let error { throw error }
        return slots.map { $0! }
    }
}
