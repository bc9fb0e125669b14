import ArgumentParser
import DiffusionPhysics
import DiffusionBench
import DiffusionStudies
import Foundation
import GSLKit

/// `diffphys bench`: the exact-score engine against its floor (two bare dgemm calls) on the same inputs.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the score engine against the two-GEMM floor, f64/f32, 1 vs all cores, plus a generation and a forward curve.",
        usage: """
        diffphys bench [--batch <B>] [--n <n>] [--d <d>] [--repeat <k>] [--kernel-only] [--verbose] [--fmnist-samples <n>] [--threads <threads>] [--json]
        diffphys bench --load [--python <python>] [--json]
        diffphys bench --local [--repeat <k>] [--python <python>] [--threads <threads>] [--json]
        diffphys bench --clones <d> [--clone-pairs <n>] [--clone-times <t,…>] [--clone-steps <k>] [--clone-reference-pairs <n>] [--threads <threads>] [--json]
        """,
        discussion: """
        Shapes: B = 256, n = 10000, d = 784 (default) plus a small (64, 2000, 256) and a large \
        (512, 20000, 784) case; --batch --n --d pick one shape. Times are medians of --repeat runs \
        (after one warm-up); the machine should be otherwise idle.
        """)

    @Option(name: .customLong("batch"), parsing: .unconditional, help: "Particles B per score step (with --n and --d: one shape; default: the standard set of shapes).") var batch: Int?
    /// `--B`: the former spelling of `--batch`, kept as a hidden alias.
    @Option(name: .customLong("B"), parsing: .unconditional, help: .private) var legacyBatch: Int?
    var B: Int? { batch ?? legacyBatch }
    @Option(parsing: .unconditional, help: "Training points (default: the standard set of shapes).") var n: Int?
    @Option(parsing: .unconditional, help: "Dimension (default: the standard set of shapes).") var d: Int?
    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Repetitions per timing, median reported (default: 5).") var repetitions: Int = 5
    @Flag(help: "Skip the generation and forward-curve workloads (default: run them).") var kernelOnly = false
    @Flag(help: "Print the BLAS library, version, core (and how it was chosen), CPU features and the measured dgemm rate first (always in --json; default: off).")
    var verbose = false
    @Option(parsing: .unconditional, help: "Forward curve on Fashion-MNIST (n = 2000, classes 1 and 9) with this many samples (0: skip).")
    var fmnistSamples: Int = 0
    @Flag(help: "Instead of the score kernels: time loading all 60000 Fashion-MNIST training images (gunzip, decode, x/255, centring) and its peak memory, beside numpy (bench/load_numpy.py) when --python has numpy (default: off).")
    var load = false
    @Flag(help: "Instead of the score kernels: time one sample-step of the local machines (LS n = 200, 2000; ELS, bbELS n = 200; P = 3, 9, 15) on Fashion-MNIST beside floors and numpy (bench/local_scores.py) measured interleaved (default: off).")
    var local = false
    @Option(parsing: .unconditional, help: "Python with numpy for the --load and --local references ('none': skip; default: python3).")
    var python: String = "python3"
    @Option(parsing: .unconditional, help: "Instead of the score kernels: time full-dimensional batched clones on gmm2:d=D,mtilde=1,sigma=1 at this d (default: off).")
    var clones: Int?
    @Option(parsing: .unconditional, help: "Clone pairs for --clones (default: 10000).") var clonePairs: Int = 10_000
    @Option(parsing: .unconditional, help: "Comma-separated branch times for --clones (default: t_S − 0.5, t_S, t_S + 0.5).") var cloneTimes: String?
    @Option(parsing: .unconditional, help: "Backward-SDE steps for --clones (default: 300, geometric grid).") var cloneSteps: Int = SDESettings.defaultSteps
    @Option(parsing: .unconditional, help: "Pairs of the per-trajectory reference timed beside --clones (0: skip; default: 20).") var cloneReferencePairs: Int = 20
    @OptionGroup var format: JSONOptions
    var json: Bool { format.json }
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if batch != nil, legacyBatch != nil { throw ValidationError("give --batch once (--B is its former spelling)") }
        for (name, v) in [("--batch", B), ("--n", n), ("--d", d)] { if let v, v < 1 { throw ValidationError("\(name) must be ≥ 1") } }
        if repetitions < 1 { throw ValidationError("--repeat must be ≥ 1") }
        let bn = Double(n ?? 10_000), bd = Double(d ?? 784), bb = Double(B ?? 256)
        try SizeCheck.check(nil, [SizeCheck.item("--batch", B ?? 256, 3 * bb * (bn + bd)),
                                  SizeCheck.item(n != nil ? "--n" : "--d", n ?? d ?? 10_000, 2 * bn * bd)])
        if fmnistSamples < 0 || fmnistSamples == 1 { throw ValidationError("--fmnist-samples must be 0 or ≥ 2") }
        if let clones, clones < 1 || clones > 1 << 24 { throw ValidationError("--clones must be a dimension between 1 and 2^24") }
        if clonePairs < 2 { throw ValidationError("--clone-pairs must be ≥ 2") }
        if cloneSteps < 1 { throw ValidationError("--clone-steps must be ≥ 1") }
        if cloneReferencePairs < 0 { throw ValidationError("--clone-reference-pairs must be ≥ 0") }
    }

    /// The run parameters of the envelope.
    var benchParameters: [String: ParameterValue] {
        var p: [String: ParameterValue] = ["repeat": .integer(repetitions), "threads": .integer(threadOptions.count),
                                           "fmnistSamples": .integer(fmnistSamples), "kernelOnly": .flag(kernelOnly)]
        if let B { p["batch"] = .integer(B) }
        if let n { p["n"] = .integer(n) }
        if let d { p["d"] = .integer(d) }
        return p
    }

    struct Report: Codable { var blas: BLASReport; var cases: [BenchCase]; var fmnistCurve: FMNISTCurve? }
    struct FMNISTCurve: Codable { var n: Int; var d: Int; var samples: Int; var times: Int; var threads: Int; var seconds: Timing }

    func run() throws {
        if load { return try runLoad() }
        if let clones { return try runClones(d: clones) }
        if local { return try runLocal() }
        let threads = threadOptions.count
        var shapes: [BenchShape]
        if B != nil || n != nil || d != nil {
            let base = BenchShape.default
            shapes = [BenchShape(B: B ?? base.B, n: n ?? base.n, d: d ?? base.d)]
        } else {
            shapes = [.small, .default, .large]
        }
        var cases: [BenchCase] = []
        var blas = BLASReport.current()
        if verbose && !json { for line in blas.lines { print(line) } }
        for shape in shapes {
            if !json { note("bench B=\(shape.B) n=\(shape.n) d=\(shape.d) threads=\(threads) …") }
            let workloads = !kernelOnly && (shapes.count == 1 || shape == .default)
            cases.append(try ScoreBenchmark.run(shape: shape, threads: threads, repetitions: repetitions, workloads: workloads))
        }
        var curve: FMNISTCurve? = nil
        if fmnistSamples > 0 {
            let data = try DatasetSpec.parse("fashion-mnist:classes=1,9,per-class=1000").load(seed: 1)
            let score = try EmpiricalScore(data)
            let r = try ScoreBenchmark.forwardCurve(score: score, samples: fmnistSamples, times: 50, threads: threads, repetitions: repetitions)
            curve = FMNISTCurve(n: data.n, d: data.d, samples: fmnistSamples, times: 50, threads: threads, seconds: r.seconds)
        }
        if let first = cases.first(where: { BenchShape(B: $0.B, n: $0.n, d: $0.d) == .default }) ?? cases.first {
            blas = blas.with(first)
        }
        if json {
            try printJSON(command: "bench", data: nil, parameters: benchParameters, results: Report(blas: blas, cases: cases, fmnistCurve: curve))
            return
        }
        func ms(_ s: Double) -> String { String(format: "%8.2f ms", s * 1e3) }
        for c in cases {
            print("B=\(c.B) n=\(c.n) d=\(c.d) threads=\(c.threads)  (medians of \(repetitions); [min, max])")
            for (label, key) in [("floor: 2×dgemm", "floor"), ("floor: 2×sgemm", "floorF32"), ("floor: 2×dgemm, 1 thread", "floorOneThread"),
                                 ("score f64 (row blocks)", "scoreF64RowBlocks"), ("score f64 (threaded BLAS)", "scoreF64ThreadedBLAS"),
                                 ("score f64, 1 thread", "scoreF64OneThread"), ("score f32", "scoreF32"),
                                 ("generation (\(c.generationSteps ?? 0) steps)", "generation"),
                                 ("forward curve (\(c.curveTimes ?? 0) t, common noise)", "forwardCurve"),
                                 ("forward curve (per-time reference)", "forwardCurveReference")] {
                guard let t = c.timings[key] else { continue }
                print("  \(label.padding(toLength: 42, withPad: " ", startingAt: 0)) \(ms(t.median))  [\(ms(t.min)), \(ms(t.max))]")
            }
            print(String(format: "  score f64 / floor = %.3f   f32 / sgemm floor = %.3f   %.1f GFLOP/s", c.ratioF64ToFloor, c.ratioF32ToFloor, c.scoreF64GFLOPS))
            print(String(format: "  thread scaling 1 → %d: score %.2f×, floor %.2f×", c.threads, c.threadScaling, c.floorScaling))
            if let f = c.forwardCurveSeconds, let r = c.forwardCurveReferenceSeconds {
                print(String(format: "  forward curve: common noise %.1f× faster than per-time", r / f))
            }
        }
        if verbose, let g = blas.dgemmGFLOPS, let g1 = blas.dgemmGFLOPSOneThread {
            print("BLAS \(blas.version ?? "?") core \(blas.core): " + String(format: "dgemm %.1f GFLOP/s (%d threads), %.1f (1 thread)", g, threads, g1))
        }
        if let curve {
            print("Fashion-MNIST forward curve (n=\(curve.n), d=\(curve.d), \(curve.samples) samples, \(curve.times) times): \(ms(curve.seconds.median))  [\(ms(curve.seconds.min)), \(ms(curve.seconds.max))]")
        }
    }

    /// `--clones D`: batched full-dimensional clones, wall time and φ beside the exact curve.
    func runClones(d: Int) throws {
        let times = try cloneTimes.map { text in
            try text.split(separator: ",").map { part -> Double in
                guard let v = Double(part.trimmingCharacters(in: .whitespaces)), v.isFinite, v > 0 else {
                    throw ValidationError("--clone-times: '\(part)' is not a time > 0")
                }
                return v
            }
        }
        if !json { note("bench --clones \(d): \(clonePairs) pairs, \(threadOptions.count) threads …") }
        let r = try CloneBenchmark.run(d: d, pairs: clonePairs, times: times, settings: SDESettings(steps: cloneSteps),
                                       threads: threadOptions.count, referencePairs: cloneReferencePairs)
        if json {
            struct CloneReport: Codable { var blas: BLASReport; var clones: CloneBenchmark }
            print(try JSONOutput.encode(CloneReport(blas: BLASReport.current(), clones: r)))
            return
        }
        r.lines.forEach { print($0) }
    }

    /// `--load`: the lean loader against numpy; the load runs first so the peak RSS is its own.
    func runLoad() throws {
        if !json { note("bench --load: \(LoadBenchmark.spec), \(repetitions) loads …") }
        let r = try LoadBenchmark.run(repetitions: repetitions, python: python == "none" ? nil : python)
        if json {
            struct LoadReport: Codable { var blas: BLASReport; var load: LoadBenchmark }
            try printJSON(command: "bench --load", data: nil, parameters: benchParameters, results: LoadReport(blas: BLASReport.current(), load: r))
            return
        }
        func s(_ t: Timing) -> String { String(format: "%6.3f s [%.3f, %.3f]", t.median, t.min, t.max) }
        func mb(_ b: Int?) -> String { b.map { String(format: "%5.0f MB", Double($0) / 1e6) } ?? "    ? MB" }
        let ratio = r.peakOverMatrix.map { String(format: "%.2f", $0) } ?? "?"
        print("load n=\(r.n) d=\(r.d) (data matrix \(mb(r.matrixBytes)), medians of \(repetitions); [min, max])")
        print("  ours:  \(s(r.seconds))  peak RSS \(mb(r.peakRSSBytes)) = \(ratio) × matrix (process before: \(mb(r.startRSSBytes)))")
        if let np = r.numpy {
            print("  numpy: \(s(np.seconds))  peak RSS \(mb(np.peakRSSBytes)) = \(String(format: "%.2f", Double(np.peakRSSBytes) / Double(r.matrixBytes))) × matrix (numpy \(np.version))")
            print(String(format: "  ours / numpy = %.2f", r.oursOverNumpy!))
        } else {
            print("  numpy: not run (\(python == "none" ? "--python none" : "no \(python) with numpy, or bench/load_numpy.py not found"))")
        }
    }
}
