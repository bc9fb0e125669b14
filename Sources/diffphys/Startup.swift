import ArgumentParser
import DiffusionPhysics
import Foundation
import GSLKit
#if canImport(Glibc)
import Glibc
#endif

/// What `DiffPhys.main` does around a command: environment checks, the one thread
/// configuration, and a checked standard output (issue 13).
enum Startup {
    /// Ignores SIGPIPE, so a closed pipe is a write error reported by `finishStandardOutput`
    /// (non-zero exit with a message) rather than a silent kill.
    static func prepare() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Environment variables validated like options: the first problem, or nil.
    static func environmentProblem() -> String? {
        Threads.environmentProblem() ?? MemoryBudget.environmentProblem()
    }

    /// Configures the worker threads once, from the command's `--threads` (the one owner of
    /// threads is GSLKit's `Threads`). Without `--threads`, `Threads.workers` reads
    /// `DIFFPHYS_THREADS` (already validated) or the core count.
    static func configureThreads(_ command: ParsableCommand) throws {
        for child in Mirror(reflecting: command).children {
            if let group = child.value as? OptionGroup<ThreadOptions>, let n = group.wrappedValue.threads {
                try Threads.configure(workers: n)
            }
        }
    }

    /// Flushes standard output and exits non-zero with one line if anything written to it was
    /// lost (a full disk, /dev/full, a closed pipe).
    static func finishStandardOutput() {
        // print() buffers in C stdio; flushing every stream reports a lost write (EOF + errno).
        errno = 0
        if fflush(nil) != 0 {
            let cause = errno != 0 ? String(cString: strerror(errno)) : "write error"
            fail("cannot write to standard output: \(cause)", code: 74)
        }
    }

    /// Prints "Error: message" on standard error and exits with `code` (64: usage, 74: I/O).
    static func fail(_ message: String, code: Int32 = 64) -> Never {
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
        exit(code)
    }
}

/// Size checks of the commands (`MemoryBudget`): each command lists what it will allocate.
enum SizeCheck {
    /// n and d of a spec when known without loading (1 and 1 otherwise: only the per-particle
    /// terms that do not depend on n, d are then checked before loading).
    static func shape(_ data: DataOptions) -> (n: Double, d: Double) {
        guard let spec = try? data.spec() else { return (1, 1) }
        if let s = spec.knownShape { return (Double(s.n), Double(s.d)) }
        if case .gaussian(let d, _, _) = spec { return (1, Double(d)) }
        if case .gmm2(let d, _, _, _, _) = spec { return (2, Double(d)) }
        return (1, 1)
    }

    /// Checks the dataset and the command's own items against memory, as a `ValidationError`.
    static func check(_ data: DataOptions?, _ items: [MemoryBudget.Item]) throws {
        do {
            if let data, let spec = try? data.spec() { try spec.checkMemory(extra: items) } else { try MemoryBudget.check(items) }
        } catch let e as ModelError { throw ValidationError(e.message) }
    }

    static func item(_ option: String, _ value: CustomStringConvertible, _ values: Double) -> MemoryBudget.Item {
        MemoryBudget.Item(option: option, value: value, values: values)
    }
}

/// Warns on standard error when the data covariance is degenerate (Λ ≤ 0: constant data), so
/// t_S = ½ ln Λ = −∞ is never reported silently.
func warnDegenerateSpectrum(lambda: Double) {
    if !(lambda > 0) {
        note("warning: the data covariance has top eigenvalue Λ = \(lambda) (constant data: all points equal), "
             + "so t_S = ½ ln Λ = −∞ and no speciation is defined")
    }
}

/// Text output flags non-finite numbers (JSON writes them as null with a `warnings` list).
func warnNonFinite(_ named: [String: [Double]]) {
    for key in named.keys.sorted() where named[key]!.contains(where: { !$0.isFinite }) {
        note("warning: \(key) is not a finite number")
    }
}
