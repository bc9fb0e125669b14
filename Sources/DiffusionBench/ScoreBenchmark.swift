import Dispatch
import Foundation
import DiffusionPhysics
import GSLKit

/// Median and spread of repeated timings (seconds).
public struct Timing: Sendable, Codable, Equatable {
    public var median: Double
    public var min: Double
    public var max: Double
    public var repetitions: Int

    public init(_ samples: [Double]) {
        let s = samples.sorted()
        median = s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2]))
        min = s.first ?? .nan
        max = s.last ?? .nan
        repetitions = s.count
    }
}

/// One benchmark shape: B particles against n points in d dimensions.
public struct BenchShape: Sendable, Codable, Equatable {
    public var B: Int, n: Int, d: Int
    public init(B: Int, n: Int, d: Int) { self.B = B; self.n = n; self.d = d }
    public static let small = BenchShape(B: 64, n: 2000, d: 256)
    public static let `default` = BenchShape(B: 256, n: 10_000, d: 784)
    public static let large = BenchShape(B: 512, n: 20_000, d: 784)
    /// Flops of the two products, 2·2·B·n·d.
    public var flops: Double { 4 * Double(B) * Double(n) * Double(d) }
}

/// Result of one case (JSON keys are the contract: B, n, d, threads, floorSeconds,
/// scoreF64Seconds, scoreF32Seconds — median seconds per score step on all cores).
public struct BenchCase: Sendable, Codable {
    public var B: Int, n: Int, d: Int, threads: Int
    /// Two bare `cblas_dgemm` calls (X·Aᵀ, W·A), BLAS on all cores.
    public var floorSeconds: Double
    public var floorF32Seconds: Double
    public var floorOneThreadSeconds: Double
    /// One score step (products + softmax + summaries), f64 / f32, all cores (default strategy).
    public var scoreF64Seconds: Double
    public var scoreF32Seconds: Double
    /// The f64 step on one core, and with the other parallel strategy.
    public var scoreF64OneThreadSeconds: Double
    public var scoreF64ThreadedBLASSeconds: Double
    public var scoreF64RowBlocksSeconds: Double
    public var ratioF64ToFloor: Double
    public var ratioF32ToFloor: Double
    /// scoreF64OneThread / scoreF64.
    public var threadScaling: Double
    public var floorScaling: Double
    public var scoreF64GFLOPS: Double
    /// Spreads of the headline timings.
    public var timings: [String: Timing]
    /// Full backward-SDE generation of B samples (exact-OU, `generationSteps` steps), seconds.
    public var generationSeconds: Double?
    public var generationSteps: Int?
    /// Forward-sampling E[Y2]/f^e/φ curve with B samples over `curveTimes` times: common-noise path
    /// and the per-time reference protocol.
    public var forwardCurveSeconds: Double?
    public var forwardCurveReferenceSeconds: Double?
    public var curveTimes: Int?
}

/// The benchmark behind `diffphys bench`: every timing of a case uses the same inputs.
public enum ScoreBenchmark {
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    static func time(_ repetitions: Int, _ body: () throws -> Void) rethrows -> Timing {
        try body()   // warm-up (first-touch, OpenBLAS buffers, scratch allocation)
        var samples: [Double] = []
        for _ in 0..<repetitions {
            let t0 = now()
            try body()
            samples.append(now() - t0)
        }
        return Timing(samples)
    }

    /// Image-like synthetic data (pixels uniform in [0, 1], two labels) and planted particles at t.
    public static func inputs(_ shape: BenchShape, t: Double, seed: UInt64 = 1) -> (points: Matrix<Double>, labels: [Int], x: Matrix<Double>) {
        let rng = RandomStream(seed: seed, stream: 0)
        let points = Matrix(rows: shape.n, columns: shape.d, storage: (0..<(shape.n * shape.d)).map { _ in rng.uniform() })
        var x = Matrix<Double>(rows: shape.B, columns: shape.d)
        let decay = exp(-t), sd = ForwardProcess.delta(t).squareRoot()
        for i in 0..<shape.B {
            let mu = rng.uniformInt(shape.n)
            for j in 0..<shape.d { x[i, j] = points[mu, j] * decay + sd * rng.gaussian() }
        }
        return (points, (0..<shape.n).map { $0 % 2 }, x)
    }

    /// Times one case. `workloads` adds (c) a generation and (d) a forward curve.
    public static func run(shape: BenchShape, threads: Int, repetitions: Int = 5, workloads: Bool = false,
                           generationSteps: Int = 20, curveTimes: Int = 50,
                           log: (String) -> Void = { _ in }) throws -> BenchCase {
        guard shape.B >= 1, shape.n >= 1, shape.d >= 1 else { throw ModelError("bench shape needs B, n, d ≥ 1") }
        guard threads >= 1, repetitions >= 1 else { throw ModelError("bench needs threads ≥ 1 and repetitions ≥ 1") }
        let t = 1.0
        let (points, labels, x) = inputs(shape, t: t)
        Threads.pinBLAS()
        var timings: [String: Timing] = [:]

        // (a) The floor: two bare products, BLAS on `threads` cores, then on one.
        var dots = Matrix<Double>(rows: shape.B, columns: shape.n)
        var mean = Matrix<Double>(rows: shape.B, columns: shape.d)
        let xF = x.toFloat(), pointsF = points.toFloat()
        var dotsF = Matrix<Float>(rows: shape.B, columns: shape.n)
        var meanF = Matrix<Float>(rows: shape.B, columns: shape.d)
        func floor64() { BLAS.multiplyTransposed(x, points, into: &dots); BLAS.multiply(dots, points, into: &mean) }
        func floor32() { BLAS.multiplyTransposed(xF, pointsF, into: &dotsF); BLAS.multiply(dotsF, pointsF, into: &meanF) }
        Threads.withBLASThreads(threads) {
            timings["floor"] = time(repetitions, floor64)
            timings["floorF32"] = time(repetitions, floor32)
        }
        timings["floorOneThread"] = time(repetitions, floor64)
        log("floor done")

        // (b) The score step.
        let p64 = try EmpiricalPosterior(points: points, labels: labels)
        let p32 = try EmpiricalPosterior(points: points, labels: labels, precision: .float32)
        let ws = PosteriorWorkspace(capacity: shape.B, dimension: shape.d, components: shape.n, classes: 2)
        let ws32 = PosteriorWorkspace(capacity: shape.B, dimension: shape.d, components: shape.n, classes: 2)
        let s = exp(t), sigma2 = ForwardProcess.sigmaVE2(t)
        // Row blocks of B/threads rounded up to 64 when that splits evenly, else 64.
        let block = 64
        timings["scoreF64RowBlocks"] = time(repetitions) {
            p64.evaluate(x, rows: shape.B, scale: s, sigma2: sigma2, workspace: ws, outputs: .mean, threads: threads,
                         strategy: .rowBlocks, blockRows: block)
        }
        timings["scoreF64ThreadedBLAS"] = time(repetitions) {
            p64.evaluate(x, rows: shape.B, scale: s, sigma2: sigma2, workspace: ws, outputs: .mean, threads: threads,
                         strategy: .threadedBLAS, blockRows: block)
        }
        timings["scoreF64OneThread"] = time(repetitions) {
            p64.evaluate(x, rows: shape.B, scale: s, sigma2: sigma2, workspace: ws, outputs: .mean, threads: 1,
                         strategy: .rowBlocks, blockRows: block)
        }
        let best: ParallelStrategy = timings["scoreF64RowBlocks"]!.median <= timings["scoreF64ThreadedBLAS"]!.median ? .rowBlocks : .threadedBLAS
        timings["scoreF32"] = time(repetitions) {
            p32.evaluate(x, rows: shape.B, scale: s, sigma2: sigma2, workspace: ws32, outputs: .mean, threads: threads,
                         strategy: best, blockRows: block)
        }
        log("score step done")
        let f64 = min(timings["scoreF64RowBlocks"]!.median, timings["scoreF64ThreadedBLAS"]!.median)
        timings["scoreF64"] = best == .rowBlocks ? timings["scoreF64RowBlocks"]! : timings["scoreF64ThreadedBLAS"]!
        let floor = timings["floor"]!.median
        var result = BenchCase(
            B: shape.B, n: shape.n, d: shape.d, threads: threads,
            floorSeconds: floor, floorF32Seconds: timings["floorF32"]!.median,
            floorOneThreadSeconds: timings["floorOneThread"]!.median,
            scoreF64Seconds: f64, scoreF32Seconds: timings["scoreF32"]!.median,
            scoreF64OneThreadSeconds: timings["scoreF64OneThread"]!.median,
            scoreF64ThreadedBLASSeconds: timings["scoreF64ThreadedBLAS"]!.median,
            scoreF64RowBlocksSeconds: timings["scoreF64RowBlocks"]!.median,
            ratioF64ToFloor: f64 / floor, ratioF32ToFloor: timings["scoreF32"]!.median / timings["floorF32"]!.median,
            threadScaling: timings["scoreF64OneThread"]!.median / f64,
            floorScaling: timings["floorOneThread"]!.median / floor,
            scoreF64GFLOPS: shape.flops / f64 / 1e9, timings: timings)

        if workloads {
            // (c) A full generation: B trajectories, exact-OU, geometric grid T = 5 → 1e-3.
            let score = try EmpiricalScore(points: points, labels: labels)
            let grid = try TimeGrid.geometric(from: 5, to: 1e-3, steps: generationSteps)
            let chunk = max(1, (shape.B + threads - 1) / threads)
            let sde = BackwardSDE(model: score, scheme: .exactOU, finalStep: .posteriorDraw, threads: threads,
                                  chunkSize: min(chunk, 128))
            let gen = try time(max(1, repetitions / 2)) { _ = try sde.run(grid: grid, start: .prior(count: shape.B), seed: 1) }
            result.generationSeconds = gen.median
            result.generationSteps = generationSteps + 1
            result.timings["generation"] = gen
            log("generation done")
            // (d) A forward E[Y2]/f^e/φ curve: common noise vs the per-time protocol.
            let times = (0..<curveTimes).map { 1e-2 * pow(500.0, Double($0) / Double(max(1, curveTimes - 1))) }
            let fs = ForwardSampling(score: score, threads: threads, chunkSize: 64)
            var perTime = fs
            perTime.commonNoise = false
            let fast = try time(max(1, repetitions / 2)) { _ = try fs.estimate(times: times, samples: shape.B, seed: 1) }
            let reference = try time(1) { _ = try perTime.estimate(times: times, samples: shape.B, seed: 1) }
            result.forwardCurveSeconds = fast.median
            result.forwardCurveReferenceSeconds = reference.median
            result.curveTimes = curveTimes
            result.timings["forwardCurve"] = fast
            result.timings["forwardCurveReference"] = reference
            log("forward curve done")
        }
        return result
    }

    /// A forward E[Y2]/f^e/φ curve on a dataset with `samples` planted samples over `times`
    /// geometric times in [1e-2, 5] (the papers' protocol), common-noise path; median seconds.
    public static func forwardCurve(score: EmpiricalScore, samples: Int, times: Int, threads: Int,
                                    repetitions: Int) throws -> (seconds: Timing, referenceSeconds: Timing?) {
        let grid = (0..<times).map { 1e-2 * pow(500.0, Double($0) / Double(max(1, times - 1))) }
        let fs = ForwardSampling(score: score, threads: threads, chunkSize: 64)
        let fast = try time(repetitions) { _ = try fs.estimate(times: grid, samples: samples, seed: 1) }
        return (fast, nil)
    }
}
