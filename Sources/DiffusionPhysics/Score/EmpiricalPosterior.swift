import Foundation
import GSLKit

/// The exact posterior over n training points under any `Kernel`: the one engine behind the
/// empirical diffusion score, the empirical PFGM++ field and the Yukawa flow (Docs/Engine.md).
///
/// For particles y_i (rows of a batch, given as x_i with y_i = s·x_i), components scaled by c
/// (default 1) and noise level σ²:
///
///     d²_iμ = |s x_i − c a_μ|²,   ln k_iμ = kernel(d²_iμ, σ²),
///     w_iμ = k_iμ / Σ_ν k_iν,   m̂_i = Σ_μ w_iμ a_μ.
///
/// The numerics (two GEMMs, the vectorised log-sum-exp softmax, the small-σ cancellation guard,
/// row-block parallelism, float32 products) are GSLKit's `BatchedSoftmax`; this type adds the
/// physics: which kernel, labels and classes. Phase API for callers that assemble their own
/// inner products (forward sampling with common noise): `evaluate(…, products:)`; exact
/// log weights of chosen components: `logWeights`; squared distances: `squaredDistances`.
public final class EmpiricalPosterior: Sendable {
    /// The numerical engine.
    public let engine: BatchedSoftmax
    /// Class index (0..<classCount) of each point, or nil.
    public let classIndex: [Int]?
    /// Distinct labels in class-index order.
    public let classLabels: [Int]
    public let kernel: Kernel

    /// Training points a_μ, n × d.
    public var points: Matrix<Double> { engine.points }
    /// |a_μ|².
    public var squaredNorms: [Double] { engine.squaredNorms }
    public var precision: Precision { engine.precision }
    public var cancellationTolerance: Double { engine.cancellationTolerance }
    public var logWeightWindow: Double { engine.logWeightWindow }
    public var n: Int { engine.n }
    public var d: Int { engine.d }
    public var classCount: Int { classLabels.count }

    /// `cancellationTolerance` defaults to 1e-10 (float64) or 1e-2 (float32) in log weight.
    public init(points: Matrix<Double>, labels: [Int]? = nil, kernel: Kernel = .gaussian,
                precision: Precision = .float64,
                cancellationTolerance: Double? = nil, logWeightWindow: Double = 60) throws {
        guard points.rows >= 1, points.columns >= 1 else {
            throw ModelError("the empirical score needs n ≥ 1 points of dimension d ≥ 1 (got \(points.rows) × \(points.columns))")
        }
        guard points.storage.allSatisfy({ $0.isFinite }) else { throw ModelError("training points contain NaN or infinity") }
        if let labels, labels.count != points.rows {
            throw ModelError("\(labels.count) labels for \(points.rows) points")
        }
        if case .studentT(let nu) = kernel, !(nu > 0 && nu.isFinite) {
            throw ModelError("the Student-t kernel needs a finite D > 0 (use the Gaussian kernel for D = inf), got \(nu)")
        }
        if let cancellationTolerance, !(cancellationTolerance > 0) {
            throw ModelError("the cancellation tolerance must be > 0, got \(cancellationTolerance)")
        }
        self.kernel = kernel
        if let labels {
            let distinct = Array(Set(labels)).sorted()
            let index = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
            classLabels = distinct
            classIndex = labels.map { index[$0]! }
        } else {
            classLabels = []
            classIndex = nil
        }
        engine = BatchedSoftmax(points: points, classIndex: classIndex, classCount: classLabels.count,
                                precision: precision, cancellationTolerance: cancellationTolerance,
                                logWeightWindow: logWeightWindow)
    }

    /// The kernel at noise level σ² as the engine's rule (ln k of d², and its slope bound).
    public func rule(sigma2: Double) -> LogWeightRule {
        let kernel = self.kernel, d = self.d
        let slope = kernel.logWeightSlope(sigma2: sigma2, dimension: d)
        if kernel == .gaussian { return LogWeightRule(form: .gaussian(sigma2: sigma2), slope: slope) }
        return LogWeightRule(form: .general { kernel.logWeight(squaredDistance: $0, sigma2: sigma2, dimension: d) }, slope: slope)
    }

    /// Evaluates rows 0..<rows of `x` at y = scale·x against c·a_μ (c = `pointScale`) and noise
    /// level `sigma2`. The diffusion score uses s = 1, c = e^{−t}, σ² = Δ_t (Docs/Theory.md §1.1),
    /// finite at every t; PFGM++ and Yukawa use s = c = 1:
    /// weights, log-sum-exp, Y2, w_max and argmax; the mean and class probabilities if asked.
    ///
    /// `threads` workers (default 1: the calling thread, as the samplers do inside their own
    /// workers); `strategy` and `blockRows` as `BatchedSoftmax.evaluate`. `products` supplies the
    /// inner products x_i·a_μ instead of computing them (forward sampling with common noise).
    public func evaluate(_ x: Matrix<Double>, rows: Int, scale s: Double, pointScale c: Double = 1, sigma2: Double,
                         workspace ws: PosteriorWorkspace, outputs: PosteriorOutputs,
                         products: InnerProducts = .compute, threads: Int = 1,
                         strategy: ParallelStrategy = .rowBlocks, blockRows: Int = 64) {
        engine.evaluate(x, rows: rows, scale: s, pointScale: c, rule: rule(sigma2: sigma2), workspace: ws, outputs: outputs,
                        products: products, threads: threads, strategy: strategy, blockRows: blockRows)
    }

    /// ln w_iμ_i of one chosen component per row after `evaluate` of the same rows and level:
    /// ln k(|s x_i − c a_μ|²) − LSE_i, exact where w underflows.
    public func logWeights(_ x: Matrix<Double>, rows: Int, scale s: Double, pointScale c: Double = 1, sigma2: Double,
                           components: [Int], workspace ws: PosteriorWorkspace) -> [Double] {
        engine.logWeights(x, rows: rows, scale: s, pointScale: c, rule: rule(sigma2: sigma2), components: components, workspace: ws)
    }

    /// rows × n squared distances |s x_i − c a_μ|² (explicit differences).
    public func squaredDistances(_ x: Matrix<Double>, rows: Int, scale s: Double, pointScale c: Double = 1) -> Matrix<Double> {
        engine.squaredDistances(x, rows: rows, scale: s, pointScale: c)
    }
}
