import Foundation
import GSLKit

/// The exact score of the noised empirical distribution P_t^e = (1/n) Σ_μ N(a_μ e^{−t}, Δ_t I)
/// (Docs/Theory.md §1.1):
///
///     E_μ = |x − a_μ e^{−t}|² / (2Δ_t),   w_μ = softmax(−E)_μ,   m̂ = Σ w_μ a_μ,
///     F(x, t) = (e^{−t} m̂ − x)/Δ_t,       ln P_t^e = LSE(−E) − ln n − (d/2) ln(2πΔ_t).
///
/// Evaluated by `EmpiricalPosterior` with the Gaussian kernel in the x variables: particles x
/// (scale 1) against the shrunk points e^{−t} a_μ (point scale e^{−t}) at variance Δ_t. This is
/// E_μ = |y − a_μ|²/(2σ_VE²) of the VE variables y = x eᵗ, σ_VE² = e^{2t} − 1, rewritten so that
/// nothing overflows: finite for every t > 0 (the VE form is NaN for t ≳ 355). As t → ∞ the
/// weights tend to 1/n, Y2 → 1/n and F → e^{−t} ā − x (Docs/Theory.md §1.2).
public struct EmpiricalScore: ScoreModel {
    public let posterior: EmpiricalPosterior

    /// The empirical score of `points` (n × d), with optional class labels. `precision: .float32`
    /// runs the engine's two products in single precision (opt-in; see `EmpiricalPosterior`).
    public init(points: Matrix<Double>, labels: [Int]? = nil, precision: Precision = .float64) throws {
        posterior = try EmpiricalPosterior(points: points, labels: labels, kernel: .gaussian, precision: precision)
    }

    /// The empirical score of a dataset (its labels become classes).
    public init(_ dataset: Dataset, precision: Precision = .float64) throws {
        try self.init(points: dataset.points, labels: dataset.labels, precision: precision)
    }

    public var dimension: Int { posterior.d }
    public var componentCount: Int { posterior.n }
    public var classCount: Int { posterior.classCount }
    public var componentClasses: [Int]? { posterior.classIndex }
    public var points: Matrix<Double> { posterior.points }

    public func evaluate(_ x: Matrix<Double>, rows: Int, t: Double, workspace: PosteriorWorkspace,
                         outputs: PosteriorOutputs) throws {
        try validateTime(t)
        let delta = ForwardProcess.delta(t)
        posterior.evaluate(x, rows: rows, scale: 1, pointScale: exp(-t), sigma2: delta, workspace: workspace, outputs: outputs)
        try posterior.checkFinite(x, rows: rows, workspace: workspace, level: "t = \(t)", parameter: "t")
        let constant = -log(Double(posterior.n)) - 0.5 * Double(posterior.d) * log(2 * Double.pi * delta)
        for i in 0..<rows { workspace.logDensity[i] = workspace.logSumExp[i] + constant }
    }

    /// Draws a training point a_μ with μ ~ Categorical(w(x, t)): the exact posterior (Docs/Theory.md §1.4(b)).
    public func posteriorDraw(row: Int, x: Matrix<Double>, t: Double, workspace: PosteriorWorkspace,
                              rng: RandomStream, into a: inout [Double]) -> Int {
        let mu = rng.categorical(workspace.weights(row: row))
        a = posterior.points.row(mu)
        return mu
    }
}
