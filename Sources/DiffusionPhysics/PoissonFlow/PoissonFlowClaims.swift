import Foundation
import GSLKit

extension StreamDomain {
    /// Draws of the claim measurements (trainability noise, κ draws, bootstrap resamples, Yukawa marginals).
    public static let poissonClaims = StreamDomain(rawValue: 0x9F6D_0003)
}

// MARK: - Posterior variance (trainability)

extension PoissonFlowModel {
    /// The posterior variance V(x, σ) = Σ_μ w_μ |y_μ − m̂|² of rows 0..<rows (explicit differences), the
    /// irreducible loss of the denoising objective at (x, σ) (Docs/PoissonFlow.md §11.1). Leaves the
    /// weights and the mean in `workspace`.
    public func posteriorVariances(_ x: Matrix<Double>, rows: Int, sigma: Double, workspace ws: PosteriorWorkspace) throws -> [Double] {
        try evaluate(x, rows: rows, sigma: sigma, workspace: ws, outputs: .mean)
        let N = dimension, pts = points
        return (0..<rows).map { r in
            var v = 0.0
            for mu in 0..<count {
                let w = ws.weights[r, mu]
                guard w > 0 else { continue }
                var s = 0.0
                for j in 0..<N { let e = pts[mu, j] - ws.mean[r, j]; s += e * e }
                v += w * s
            }
            return v
        }
    }

    /// V(x, σ) = Σ_μ w_μ |y_μ − m̂(x, σ)|² at one point (Docs/PoissonFlow.md §11.1).
    public func posteriorVariance(at point: [Double], sigma: Double) throws -> Double {
        try check(point)
        let ws = makeWorkspace(capacity: 1)
        return try posteriorVariances(Matrix(rows: 1, columns: dimension, storage: point), rows: 1, sigma: sigma, workspace: ws)[0]
    }
}

/// The EDM training law and preconditioning (Karras et al. 2022; PFGM++ `training/loss.py`), Docs/PoissonFlow.md §11.1:
/// ln σ ~ N(P_mean, P_std²), c_skip = σ_d²/(σ² + σ_d²), c_out = σ σ_d/√(σ² + σ_d²), loss weight λ = 1/c_out².
public struct EDMTrainingLaw: Sendable, Codable, Equatable {
    public var pMean: Double
    public var pStd: Double
    public var sigmaData: Double

    public init(pMean: Double = -1.2, pStd: Double = 1.2, sigmaData: Double = 0.5) {
        self.pMean = pMean
        self.pStd = pStd
        self.sigmaData = sigmaData
    }

    public func cSkip(_ s: Double) -> Double { sigmaData * sigmaData / (s * s + sigmaData * sigmaData) }
    public func cOut(_ s: Double) -> Double { s * sigmaData / (s * s + sigmaData * sigmaData).squareRoot() }
    public func lambda(_ s: Double) -> Double { 1 / (cOut(s) * cOut(s)) }

    /// Quadrature of E_σ[f(σ)]: `nodes` equally spaced ln σ in P_mean ± `width`·P_std, Gaussian weights summing to 1.
    public func quadrature(nodes: Int, width: Double = 4) -> [(sigma: Double, weight: Double)] {
        let k = max(nodes, 2)
        let u = (0..<k).map { -width + 2 * width * Double($0) / Double(k - 1) }
        let w = u.map { exp(-0.5 * $0 * $0) }
        let total = w.reduce(0, +)
        return zip(u, w).map { (exp(pMean + pStd * $0), $1 / total) }
    }
}

/// Trainability at one σ, per coordinate (Docs/PoissonFlow.md §11.1). F_t = (y − c_skip x)/c_out is the per-sample EDM
/// training target, F* = (m̂ − c_skip x)/c_out its conditional mean (the perfect network).
public struct TrainabilityPoint: Sendable, Codable, Equatable {
    public var sigma: Double
    /// E_x V(x, σ)/N: the irreducible denoising loss (denoiser units).
    public var irreducibleLoss: MeanEstimate
    /// λ(σ) E_x V/N = E|F_t − F*|²/N: the irreducible loss in EDM units.
    public var weightedIrreducibleLoss: MeanEstimate
    /// E|F*|²/N: the part of the target a network can learn.
    public var learnable: MeanEstimate
    /// E|F_t|²/N, exact: [(1 − c_skip)² E|y|² + c_skip² σ² N D/(D − 2)]/(N c_out²); ∞ for D ≤ 2.
    public var targetMoment: Double
    /// The same by Monte Carlo (heavy-tailed for small D).
    public var targetMomentSample: MeanEstimate
}

/// Trainability integrated over the EDM training law of σ, for one (D, n).
public struct TrainabilityReport: Sendable, Codable, Equatable {
    public var D: Double
    public var n: Int
    public var N: Int
    public var law: EDMTrainingLaw
    public var points: [TrainabilityPoint]
    /// E_σ λ E_x V/N (the EDM loss floor).
    public var integratedIrreducible: MeanEstimate
    /// E_σ E|F*|²/N.
    public var integratedLearnable: MeanEstimate
    /// E_σ E|F_t|²/N, exact (∞ for D ≤ 2).
    public var integratedTarget: Double
    /// E_σ E|F_t|⁴ is finite iff D > 4: the per-sample loss (and its gradient) has a finite variance only then.
    public var lossVarianceFinite: Bool
}

/// Random clock prediction against the measured collapse fraction at one σ (Docs/PoissonFlow.md §11.4).
public struct ClockPredictionPoint: Sendable, Codable, Equatable {
    public var sigma: Double
    /// Measured C_D(σ).
    public var measured: MeanEstimate
    /// E_κ C_∞(κσ) with κ from exact prior draws at σ_max.
    public var predicted: Double
    /// C_∞(σ) (diffusion, no clock).
    public var diffusion: Double
}

public struct ClockPredictionReport: Sendable, Codable, Equatable {
    public var D: Double
    public var N: Int
    public var points: [ClockPredictionPoint]
    /// max_σ |C_D − E_κ C_∞(κσ)| and max_σ |C_D − C_∞(σ)| (the clock against no clock).
    public var maxDeviationWithClock: Double
    public var maxDeviationWithoutClock: Double
    /// Slope of ln(1 − C) against ln σ below the collapse level, measured and predicted; the asymptotic tail is ∝ σ^D.
    public var measuredTailSlope: MeanEstimate?
    public var predictedTailSlope: Double?
}

/// A kernel two-sample statistic with its bootstrap standard error.
public struct TwoSampleStatistic: Sendable, Codable, Equatable {
    /// Energy distance (U-statistic) 2E|X − Y| − E|X − X'| − E|Y − Y'|: 0 iff the laws agree.
    public var value: Double
    public var stderr: Double
    public var countX: Int
    public var countY: Int
}

/// Endpoint quality without a network (Docs/PoissonFlow.md §11.2).
public struct EndpointQuality: Sendable, Codable, Equatable {
    public var samples: Int
    /// Median nearest-neighbour spacing of the training points (the unit).
    public var spacing: Double
    /// E[dist(endpoint, nearest training point)]/spacing.
    public var nearestRatio: MeanEstimate
    /// Fraction of endpoints within 0.1 spacing of a training point.
    public var onTrainingPoint: MeanEstimate
    /// Energy distance between endpoints and the training set (the law the exact sampler reproduces).
    public var energyDistance: TwoSampleStatistic
    /// Fraction of endpoints whose nearest training point has the smallest class label, and the training fraction.
    public var classFraction: MeanEstimate?
    public var trainingClassFraction: Double?
}

/// Field evaluations against endpoint accuracy, one row per integrator setting (Docs/PoissonFlow.md §11.3).
public struct SamplingCostRow: Sendable, Codable, Equatable {
    public var D: Double
    /// "adaptive" (rk8pd at `tolerance`) or "heun" (`steps` EDM levels).
    public var method: String
    public var tolerance: Double?
    public var steps: Int?
    /// Field evaluations per trajectory.
    public var evaluations: MeanEstimate
    /// |x(σmin) − x_ref(σmin)|/spacing (before the denoising step).
    public var endpointError: MeanEstimate
    /// Fraction of trajectories ending on another training point than the reference.
    public var wrongEndpoint: MeanEstimate
}

/// The claim measurements of Docs/PoissonFlow.md §11, each one call returning a Codable result.
public enum PoissonFlowClaims {
    // MARK: trainability

    /// Trainability curves on the quadrature nodes of `law`, with `samples` draws x = y + σξ per node (common ξ across σ:
    /// the kernel is a scale family; draw i from stream (seed, i) of `.poissonClaims`).
    public static func trainability(model: PoissonFlowModel, law: EDMTrainingLaw = EDMTrainingLaw(), nodes: Int = 16,
                                    samples: Int, seed: UInt64, threads: Int = Parallel.defaultThreads) throws -> TrainabilityReport {
        guard samples >= 2, nodes >= 2 else { throw ModelError("need ≥ 2 samples and ≥ 2 nodes") }
        let N = model.dimension, n = model.count, D = model.D
        // Unit-σ noise ξ_i and origins, once.
        var xi = [Double](repeating: 0, count: samples * N)
        var origins = [Int](repeating: 0, count: samples)
        for i in 0..<samples {
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .poissonClaims)
            origins[i] = rng.uniformInt(n)
            model.drawNoise(sigma: 1, method: .chiSquared, rng: rng, into: &xi, at: i * N)
        }
        let pts = model.points
        var y2 = 0.0
        for mu in 0..<n { for j in 0..<N { y2 += pts[mu, j] * pts[mu, j] } }
        y2 /= Double(n)
        let tailFactor = D.isInfinite ? 1 : (D > 2 ? D / (D - 2) : Double.infinity)
        let quad = law.quadrature(nodes: nodes)
        let points = try Parallel.mapChunks(count: quad.count, chunkSize: 1, threads: threads,
                                            makeWorkspace: { model.makeWorkspace(capacity: samples) }) { ws, range -> TrainabilityPoint in
            let s = quad[range.lowerBound].sigma
            var x = Matrix<Double>(rows: samples, columns: N)
            for i in 0..<samples { for j in 0..<N { x[i, j] = pts[origins[i], j] + s * xi[i * N + j] } }
            let v = try model.posteriorVariances(x, rows: samples, sigma: s, workspace: ws)
            let cs = law.cSkip(s), co = law.cOut(s)
            var learn = [Double](repeating: 0, count: samples), target = learn
            for i in 0..<samples {
                var a = 0.0, b = 0.0
                for j in 0..<N {
                    let fs = (ws.mean[i, j] - cs * x[i, j]) / co, ft = (pts[origins[i], j] - cs * x[i, j]) / co
                    a += fs * fs; b += ft * ft
                }
                learn[i] = a / Double(N); target[i] = b / Double(N)
            }
            let exact = ((1 - cs) * (1 - cs) * y2 + cs * cs * s * s * Double(N) * tailFactor) / (Double(N) * co * co)
            return TrainabilityPoint(sigma: s, irreducibleLoss: MeanEstimate(v.map { $0 / Double(N) }),
                                     weightedIrreducibleLoss: MeanEstimate(v.map { law.lambda(s) * $0 / Double(N) }),
                                     learnable: MeanEstimate(learn), targetMoment: exact, targetMomentSample: MeanEstimate(target))
        }
        func integrate(_ f: (TrainabilityPoint) -> MeanEstimate) -> MeanEstimate {
            var m = 0.0, v = 0.0
            for (p, q) in zip(points, quad) { let e = f(p); m += q.weight * e.mean; v += q.weight * q.weight * e.standardError * e.standardError }
            return MeanEstimate(mean: m, standardError: v.squareRoot(), count: samples * quad.count)
        }
        let target = zip(points, quad).reduce(0.0) { $0 + $1.1.weight * $1.0.targetMoment }
        return TrainabilityReport(D: D, n: n, N: N, law: law, points: points, integratedIrreducible: integrate(\.weightedIrreducibleLoss),
                                  integratedLearnable: integrate(\.learnable), integratedTarget: target, lossVarianceFinite: D > 4)
    }

    // MARK: two-sample statistic and endpoint quality

    /// Energy distance between the rows of `x` and `y` (U-statistic) with the SE of `bootstrap` resamples of both
    /// (stream (seed) of `.poissonClaims`, stream id 2⁴⁰ + 1 so it never meets a draw of `trainability`).
    public static func energyDistance(_ x: Matrix<Double>, _ y: Matrix<Double>, bootstrap: Int = 200, seed: UInt64) -> TwoSampleStatistic {
        precondition(x.columns == y.columns && x.rows >= 2 && y.rows >= 2)
        let a = x.rows, b = y.rows, m = a + b, N = x.columns
        // Pooled distance matrix (explicit differences).
        var dist = [Double](repeating: 0, count: m * m)
        func row(_ i: Int) -> ArraySlice<Double> { i < a ? x.rowSlice(i) : y.rowSlice(i - a) }
        for i in 0..<m {
            let ri = Array(row(i))
            for j in (i + 1)..<max(i + 1, m) {
                let rj = row(j)
                var s = 0.0
                var k = 0
                for v in rj { let e = ri[k] - v; s += e * e; k += 1 }
                _ = N
                dist[i * m + j] = s.squareRoot(); dist[j * m + i] = dist[i * m + j]
            }
        }
        func statistic(_ ix: [Int], _ iy: [Int]) -> Double {
            var xy = 0.0, xx = 0.0, yy = 0.0
            for i in ix { for j in iy { xy += dist[i * m + j] } }
            for (p, i) in ix.enumerated() { for q in (p + 1)..<max(p + 1, ix.count) { xx += dist[i * m + ix[q]] } }
            for (p, i) in iy.enumerated() { for q in (p + 1)..<max(p + 1, iy.count) { yy += dist[i * m + iy[q]] } }
            let na = Double(ix.count), nb = Double(iy.count)
            return 2 * xy / (na * nb) - 2 * xx / (na * (na - 1)) - 2 * yy / (nb * (nb - 1))
        }
        let value = statistic(Array(0..<a), Array(a..<m))
        let rng = RandomStream(seed: seed, stream: (1 << 40) + 1, domain: .poissonClaims)
        var reps: [Double] = []
        for _ in 0..<max(bootstrap, 2) {
            let ix = (0..<a).map { _ in rng.uniformInt(a) }, iy = (0..<b).map { _ in a + rng.uniformInt(b) }
            reps.append(statistic(ix, iy))
        }
        let mean = reps.reduce(0, +) / Double(reps.count)
        let sd = (reps.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(reps.count - 1)).squareRoot()
        return TwoSampleStatistic(value: value, stderr: sd, countX: a, countY: b)
    }

    /// Median distance from a training point to its nearest other training point.
    public static func nearestNeighbourSpacing(_ points: Matrix<Double>) -> Double {
        let n = points.rows
        guard n >= 2 else { return 1 }
        let d = (0..<n).map { i -> Double in
            var best = Double.infinity
            for j in 0..<n where j != i {
                best = min(best, zip(points.rowSlice(i), points.rowSlice(j)).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) })
            }
            return best.squareRoot()
        }.sorted()
        return d[n / 2]
    }

    /// Endpoint quality of `samples` against the training set `points` (labels optional).
    public static func endpointQuality(samples: Matrix<Double>, points: Matrix<Double>, labels: [Int]?, spacing: Double? = nil,
                                       bootstrap: Int = 200, seed: UInt64) -> EndpointQuality {
        let h = spacing ?? nearestNeighbourSpacing(points)
        let nn = NearestNeighbours.find(samples: samples, points: points)
        let ratio = nn.map { $0.nearestDistance / h }
        var cf: MeanEstimate? = nil, tf: Double? = nil
        if let labels, let first = labels.min() {
            cf = MeanEstimate.proportion(successes: nn.filter { labels[$0.nearest] == first }.count, trials: nn.count)
            tf = Double(labels.filter { $0 == first }.count) / Double(labels.count)
        }
        return EndpointQuality(samples: samples.rows, spacing: h, nearestRatio: MeanEstimate(ratio),
                               onTrainingPoint: MeanEstimate.proportion(successes: ratio.filter { $0 < 0.1 }.count, trials: ratio.count),
                               energyDistance: energyDistance(samples, points, bootstrap: bootstrap, seed: seed),
                               classFraction: cf, trainingClassFraction: tf)
    }

    // MARK: sampling cost

    /// Per-trajectory field evaluations and endpoint errors of the adaptive sampler at each tolerance and of EDM Heun at each
    /// number of levels, against a reference run at `referenceTolerance`, all from the same exact-prior starts (stream
    /// (seed, i) of `.trajectory`). Endpoint errors are |x(σmin) − x_ref(σmin)| before the denoising step, in units of
    /// the median training-point spacing.
    public static func samplingCost(model: PoissonFlowModel, count: Int, tolerances: [Double], heunSteps: [Int],
                                    referenceTolerance: Double = 1e-11, sigmaMax: Double = 80, sigmaMin: Double = 2e-3,
                                    seed: UInt64, threads: Int = Parallel.defaultThreads) throws -> [SamplingCostRow] {
        let starts = try model.samplePrior(sigma: sigmaMax, count: count, seed: seed).points
        let spacing = nearestNeighbourSpacing(model.points)
        struct One { var x: [Double]; var component: Int; var evaluations: Int }
        func runAll(_ stepper: TrajectoryStepper, _ schedule: [Double]) throws -> [One] {
            try Parallel.mapChunks(count: count, chunkSize: 1, threads: threads, makeWorkspace: { () }) { _, range -> One in
                let counter = EvaluationCounter(model: model)
                let i = range.lowerBound
                let run = try TrajectoryRunner(model: counter, stepper: stepper, threads: 1, chunkSize: 1)
                    .run(schedule: schedule.map { .sigma($0) }, start: .states(Matrix(rows: 1, columns: model.dimension, storage: Array(starts.rowSlice(i)))),
                         seed: seed, finalStep: .none)
                // The last evaluation of the runner (at σmin, for the summaries) stands for the denoising step.
                return One(x: run.finalStates.row(0), component: run.finalComponents[0], evaluations: counter.count)
            }
        }
        let reference = try runAll(.adaptive(stepper: .rk8pd, relativeTolerance: referenceTolerance, absoluteTolerance: referenceTolerance), [sigmaMax, sigmaMin])
        func row(_ method: String, tolerance: Double?, steps: Int?, _ r: [One]) -> SamplingCostRow {
            let err = zip(r, reference).map { a, b in zip(a.x, b.x).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() / spacing }
            return SamplingCostRow(D: model.D, method: method, tolerance: tolerance, steps: steps,
                                   evaluations: MeanEstimate(r.map { Double($0.evaluations) }), endpointError: MeanEstimate(err),
                                   wrongEndpoint: MeanEstimate.proportion(successes: zip(r, reference).filter { $0.component != $1.component }.count, trials: count))
        }
        var rows: [SamplingCostRow] = []
        for tol in tolerances {
            rows.append(row("adaptive", tolerance: tol, steps: nil,
                            try runAll(.adaptive(stepper: .rk8pd, relativeTolerance: tol, absoluteTolerance: tol), [sigmaMax, sigmaMin])))
        }
        for s in heunSteps {
            rows.append(row("heun", tolerance: nil, steps: s,
                            try runAll(.heun, PoissonFlowIntegrator.edmSchedule(sigmaMax: sigmaMax, sigmaMin: sigmaMin, steps: s))))
        }
        return rows
    }

    /// The smallest mean evaluation count among adaptive rows whose mean endpoint error is ≤ `accuracy` (nil if none).
    public static func evaluationsForAccuracy(_ rows: [SamplingCostRow], accuracy: Double) -> MeanEstimate? {
        rows.filter { $0.method == "adaptive" && $0.endpointError.mean <= accuracy }.min { $0.evaluations.mean < $1.evaluations.mean }?.evaluations
    }

    // MARK: random clock

    /// E_κ C(κσ) for a curve C given on `sigmas` (any order), interpolated linearly in ln σ and held constant beyond its ends.
    public static func clockAverage(sigmas: [Double], values: [Double], kappas: [Double], at sigma: Double) -> Double {
        let order = sigmas.indices.sorted { sigmas[$0] < sigmas[$1] }
        let ls = order.map { log(sigmas[$0]) }, vs = order.map { values[$0] }
        func c(_ s: Double) -> Double {
            let l = log(s)
            if l <= ls[0] { return vs[0] }
            if l >= ls[ls.count - 1] { return vs[vs.count - 1] }
            var lo = 0, hi = ls.count - 1
            while hi - lo > 1 { let mid = (lo + hi) / 2; if ls[mid] <= l { lo = mid } else { hi = mid } }
            let f = (l - ls[lo]) / (ls[hi] - ls[lo])
            return vs[lo] + f * (vs[hi] - vs[lo])
        }
        return kappas.reduce(0.0) { $0 + c($1 * sigma) } / Double(kappas.count)
    }

    /// κ of `count` exact prior draws at σmax (stream i of `.poissonClaims` under a derived seed): κ² = (Dσmax² + |x0 − ȳ|²)/((N+D)σmax²).
    public static func kappaDraws(model: PoissonFlowModel, count: Int, sigmaMax: Double = 80, seed: UInt64) throws -> [Double] {
        let draws = try model.samplePrior(sigma: sigmaMax, count: count, seed: seed &+ 0x5EED_C10C, domain: .poissonClaims).points
        return (0..<count).map { model.kappa(start: draws.rowSlice($0), sigmaMax: sigmaMax) }
    }

    /// The measured C_D(σ) beside E_κ C_∞(κσ), from two marginal curves on the same σ levels.
    public static func clockPrediction(measured: MarginalCurves, diffusion: MarginalCurves, kappas: [Double], N: Int) -> ClockPredictionReport {
        let sig = diffusion.points.map(\.sigma), cinf = diffusion.points.map(\.collapseFraction.mean)
        let pts = measured.points.map { p in
            ClockPredictionPoint(sigma: p.sigma, measured: p.collapseFraction,
                                 predicted: clockAverage(sigmas: sig, values: cinf, kappas: kappas, at: p.sigma),
                                 diffusion: clockAverage(sigmas: sig, values: cinf, kappas: [1], at: p.sigma))
        }
        // Tail: levels below the measured C = ½ point with 1 − C in [3/M, 0.3].
        let M = Double(measured.samples)
        let half = measured.sigmaCollapseHalf?.t ?? 0
        let tail = pts.filter { $0.sigma < half && 1 - $0.measured.mean >= 3 / M && 1 - $0.measured.mean <= 0.3 }
        var slope: MeanEstimate? = nil, predictedSlope: Double? = nil
        if tail.count >= 3 {
            let x = tail.map { log($0.sigma) }
            let ym = tail.map { log(1 - $0.measured.mean) }
            let wm = tail.map { p in let q = 1 - p.measured.mean; return q * q / max(p.measured.standardError * p.measured.standardError, 1e-300) }
            slope = weightedSlope(x, ym, wm)
            let yp = tail.map { log(max(1 - $0.predicted, 1e-300)) }
            predictedSlope = weightedSlope(x, yp, [Double](repeating: 1, count: x.count)).mean
        }
        return ClockPredictionReport(D: measured.D, N: N, points: pts,
                                     maxDeviationWithClock: pts.map { abs($0.measured.mean - $0.predicted) }.max() ?? .nan,
                                     maxDeviationWithoutClock: pts.map { abs($0.measured.mean - $0.diffusion) }.max() ?? .nan,
                                     measuredTailSlope: slope, predictedTailSlope: predictedSlope)
    }

    /// Weighted least-squares slope of y on x with its SE from the weights (w = 1/var).
    static func weightedSlope(_ x: [Double], _ y: [Double], _ w: [Double]) -> MeanEstimate {
        let sw = w.reduce(0, +)
        let mx = zip(w, x).reduce(0.0) { $0 + $1.0 * $1.1 } / sw, my = zip(w, y).reduce(0.0) { $0 + $1.0 * $1.1 } / sw
        var sxx = 0.0, sxy = 0.0
        for k in x.indices { sxx += w[k] * (x[k] - mx) * (x[k] - mx); sxy += w[k] * (x[k] - mx) * (y[k] - my) }
        return MeanEstimate(mean: sxy / sxx, standardError: (1 / sxx).squareRoot(), count: x.count)
    }
}

/// A `NoiseModel` that counts its evaluations (one per call: one trajectory per runner chunk of size 1).
final class EvaluationCounter: NoiseModel, @unchecked Sendable {
    let model: PoissonFlowModel
    private(set) var count = 0
    init(model: PoissonFlowModel) { self.model = model }
    var dimension: Int { model.dimension }
    var componentCount: Int { model.componentCount }
    var classCount: Int { model.classCount }
    var componentClasses: [Int]? { model.componentClasses }
    var nativeNoise: NoiseKind { .sigma }
    func evaluate(_ x: Matrix<Double>, rows: Int, at level: NoiseLevel, workspace: PosteriorWorkspace, outputs: PosteriorOutputs) throws {
        count += 1
        try model.evaluate(x, rows: rows, at: level, workspace: workspace, outputs: outputs)
    }
    func posteriorDraw(row: Int, x: Matrix<Double>, at level: NoiseLevel, workspace: PosteriorWorkspace, rng: RandomStream,
                       into a: inout [Double]) -> Int {
        model.posteriorDraw(row: row, x: x, at: level, workspace: workspace, rng: rng, into: &a)
    }
}

// MARK: - Yukawa collapse

/// Collapse fraction of the Yukawa model on the plane z (Docs/PoissonFlow.md §11.5).
public struct YukawaCollapsePoint: Sendable, Codable, Equatable {
    public var z: Double
    /// P_{x~q_z}[max w ≥ 1 − ε].
    public var collapseFraction: MeanEstimate
}

public struct YukawaCollapseCurve: Sendable, Codable, Equatable {
    public var mass: Double
    public var points: [YukawaCollapsePoint]
    /// z where the collapse fraction is ½.
    public var zCollapseHalf: LevelCrossing?
}

extension YukawaFlowModel {
    /// ln w_i = ln k_i − ln Σ_j k_j at (x, z), from the kernel's log-weights (no underflow), ln k_i = −(ν+1) ln(m s_i) + ln K_{ν+1}(m s_i).
    public func logWeights(at x: [Double], z: Double) throws -> [Double] {
        guard x.count == dimension, x.allSatisfy({ $0.isFinite }), z > 0, z.isFinite else { throw ModelError("need N = \(dimension) finite coordinates and z > 0") }
        let d2 = posterior.squaredDistances(Matrix(rows: 1, columns: dimension, storage: x), rows: 1, scale: 1).storage
        let lk = d2.map { posterior.kernel.logWeight(squaredDistance: $0, sigma2: z * z, dimension: dimension) }
        let top = lk.max()!
        let lse = top + log(lk.reduce(0.0) { $0 + exp($1 - top) })
        return lk.map { $0 - lse }
    }

    /// C_m(z) = P_{x~q_z}[max_i w_i ≥ 1 − ε] from `samples` exact draws of q_z per level (stream (seed, i) of `.poissonClaims`).
    public func collapseCurve(zs: [Double], samples: Int, seed: UInt64, epsilon: Double = 0.01) throws -> YukawaCollapseCurve {
        guard samples >= 2, !zs.isEmpty, zs.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw ModelError("need ≥ 2 samples and levels z > 0") }
        let ws = PosteriorWorkspace(capacity: samples, dimension: dimension, components: count, classes: 0)
        let pts = try zs.map { z -> YukawaCollapsePoint in
            let x = try samplePrior(z: z, count: samples, seed: seed, domain: .poissonClaims)
            posterior.evaluate(x, rows: samples, scale: 1, sigma2: z * z, workspace: ws, outputs: [])
            return YukawaCollapsePoint(z: z, collapseFraction: MeanEstimate.proportion(successes: (0..<samples).filter { ws.maxWeight[$0] >= 1 - epsilon }.count,
                                                                                      trials: samples))
        }
        let order = pts.sorted { $0.z < $1.z }
        // C decreases with z: cross ½ on −C in ln z.
        let c = LevelCrossing.find(times: order.map { log($0.z) }, values: order.map { -$0.collapseFraction.mean },
                                   errors: order.map(\.collapseFraction.standardError), level: -0.5)
        return YukawaCollapseCurve(mass: mass, points: pts, zCollapseHalf: c.map { LevelCrossing(t: exp($0.t), standardError: exp($0.t) * $0.standardError) })
    }
}
