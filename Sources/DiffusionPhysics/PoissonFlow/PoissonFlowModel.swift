import Foundation
import GSLKit

/// Random streams of the Poisson-flow analyses (prior draws of the marginal estimators).
extension StreamDomain {
    /// Draws from the PFGM++ marginal p_σ for ODE-free estimators (collapse fraction, φ).
    public static let poissonMarginal = StreamDomain(rawValue: 0x9F6D_0001)
    /// Radius / prior samplers used on their own (tests, radius statistics).
    public static let poissonPrior = StreamDomain(rawValue: 0x9F6D_0002)
}

/// Exact-empirical PFGM / PFGM++ with D extra dimensions (Docs/PoissonFlow.md §3).
///
/// For training points y_i ∈ R^N and the diffusion-equivalent noise level σ (r = σ√D):
///
///     ln k_i = −((N+D)/2) log1p(d_i²/(Dσ²))      (finite D, Student-t ν = D)
///     ln k_i = −d_i²/(2σ²)                        (D = ∞: diffusion, the `EmpiricalScore` engine path)
///     w = softmax(ln k),  m_D = Σ w_i y_i,  velocity dx/dσ = (x − m_D)/σ.
///
/// Everything runs through the shared `EmpiricalPosterior` with the kernel switched: at D = ∞ the
/// posterior *is* the one of an `EmpiricalScore` of the same points. The velocity is not the
/// score at finite D (`score(at:sigma:)` gives the true ∇ log p_r).
public struct PoissonFlowModel: Sendable {
    /// Extra dimensions D (> 0, or `.infinity` for diffusion).
    public let D: Double
    /// The shared exact-posterior engine (Student-t(D) or Gaussian kernel), in VE variables with scale 1.
    public let posterior: EmpiricalPosterior
    /// At D = ∞: the diffusion adapter whose posterior this model uses (its sampler is reused).
    public let diffusion: EmpiricalScore?

    /// Builds the model; throws for D ≤ 0 or NaN. D ≤ 2 is allowed (see `warnings`).
    public init(points: Matrix<Double>, labels: [Int]? = nil, D: Double) throws {
        guard D > 0, !D.isNaN else { throw ModelError("D must be a real number > 0 or inf, got \(D)") }
        self.D = D
        if D.isInfinite {
            let score = try EmpiricalScore(points: points, labels: labels)
            diffusion = score
            posterior = score.posterior
        } else {
            diffusion = nil
            posterior = try EmpiricalPosterior(points: points, labels: labels, kernel: .studentT(degreesOfFreedom: D))
        }
    }

    public init(_ dataset: Dataset, D: Double) throws {
        try self.init(points: dataset.points, labels: dataset.labels, D: D)
    }

    public var dimension: Int { posterior.d }
    public var count: Int { posterior.n }
    public var points: Matrix<Double> { posterior.points }
    public var classCount: Int { posterior.classCount }
    public var isDiffusion: Bool { D.isInfinite }

    /// The heavy-tail warnings of Docs/PoissonFlow.md §3.2 (empty for D > 2).
    public var warnings: [String] { PoissonFlowModel.warnings(D: D) }

    public static func warnings(D: Double) -> [String] {
        var w: [String] = []
        if D <= 1 {
            w.append("D = \(D) ≤ 1: the prior radius has infinite mean (P(R > s) ~ (r/s)^D); prior draws are extremely heavy-tailed")
        }
        if D <= 2 {
            w.append("D = \(D) ≤ 2: the prior has infinite variance (E[R²] = ∞); always finish with the denoising step")
        }
        return w
    }

    /// r = σ√D (∞ at D = ∞).
    public func r(sigma: Double) -> Double { sigma * D.squareRoot() }

    public func makeWorkspace(capacity: Int) -> PosteriorWorkspace {
        PosteriorWorkspace(capacity: capacity, dimension: dimension, components: count, classes: classCount)
    }

    /// Evaluates rows 0..<rows of `x` at noise level σ: weights, log-sum-exp, w_max, argmax,
    /// the normalised ln p_σ(x) in `workspace.logDensity`, and the mean / class probabilities if asked.
    public func evaluate(_ x: Matrix<Double>, rows: Int, sigma: Double, workspace: PosteriorWorkspace,
                         outputs: PosteriorOutputs) throws {
        guard sigma > 0, sigma.isFinite else { throw ModelError("σ must be finite and > 0, got \(sigma)") }
        posterior.evaluate(x, rows: rows, scale: 1, sigma2: sigma * sigma, workspace: workspace, outputs: outputs)
        try posterior.checkFinite(x, rows: rows, workspace: workspace, level: "σ = \(sigma)", parameter: "sigma")
        let c = try logNormalisation(sigma: sigma) - log(Double(count))
        for i in 0..<rows { workspace.logDensity[i] = workspace.logSumExp[i] + c }
    }

    /// ln of the kernel normalisation: ln p_σ(x|y) = this + ln k(d²).
    /// Student-t: lnΓ((N+D)/2) − lnΓ(D/2) − (N/2) ln π − N ln r;  Gaussian: −(N/2) ln(2πσ²).
    public func logNormalisation(sigma: Double) throws -> Double {
        let N = Double(dimension)
        if D.isInfinite { return -0.5 * N * log(2 * Double.pi * sigma * sigma) }
        return try Special.lnGamma(0.5 * (N + D)) - Special.lnGamma(0.5 * D) - 0.5 * N * log(Double.pi)
            - N * log(r(sigma: sigma))
    }

    /// dx/dσ = (x − m)/σ for rows 0..<rows, after `evaluate` with `.mean`.
    public func velocity(_ x: Matrix<Double>, rows: Int, sigma: Double, workspace: PosteriorWorkspace,
                         into v: inout Matrix<Double>) {
        for j in 0..<(rows * dimension) { v.storage[j] = (x.storage[j] - workspace.mean.storage[j]) / sigma }
    }

    /// Everything at one point.
    public func evaluate(at point: [Double], sigma: Double) throws -> PoissonFlowPoint {
        try check(point)
        let x = Matrix(rows: 1, columns: dimension, storage: point)
        let ws = makeWorkspace(capacity: 1)
        try evaluate(x, rows: 1, sigma: sigma, workspace: ws, outputs: .all)
        let m = ws.mean.row(0)
        let v = zip(point, m).map { ($0 - $1) / sigma }
        var field: PoissonFlowRawField? = nil
        if !isDiffusion {
            // E = c Σ (x̃ − ỹ_i)|x̃ − ỹ_i|^{−(N+D)}, c = 1/n; |x̃ − ỹ_i|^{−(N+D)} = r^{−(N+D)} k_i.
            let r = self.r(sigma: sigma)
            let logScale = ws.logSumExp[0] - (Double(dimension) + D) * log(r) - log(Double(count))
            let scale = exp(logScale)
            field = PoissonFlowRawField(logScale: logScale, ex: zip(point, m).map { scale * ($0 - $1) }, er: scale * r)
        }
        var variance = 0.0
        for mu in 0..<count where ws.weights[0, mu] > 0 {
            var s2 = 0.0
            for j in 0..<dimension { let e = points[mu, j] - m[j]; s2 += e * e }
            variance += ws.weights[0, mu] * s2
        }
        return PoissonFlowPoint(sigma: sigma, r: isDiffusion ? nil : r(sigma: sigma), weights: ws.weights.row(0), denoiser: m, velocity: v,
                                posteriorVariance: variance,
                                score: try score(at: point, sigma: sigma), logDensity: ws.logDensity[0],
                                maxWeight: ws.maxWeight[0], classProbabilities: classCount > 0 ? ws.classProbabilities.row(0) : [],
                                field: field)
    }

    /// The true score ∇_x ln p_σ(x) = −(N+D) Σ_i w_i (x − y_i)/(d_i² + r²) (finite D; explicit
    /// differences), or −(x − m)/σ² at D = ∞. Not the velocity at finite D (Docs/PoissonFlow.md §3.4).
    public func score(at point: [Double], sigma: Double) throws -> [Double] {
        try check(point)
        guard sigma > 0, sigma.isFinite else { throw ModelError("σ must be finite and > 0, got \(sigma)") }
        // The engine's weights w_i and squared distances d_i² (explicit differences).
        let x = Matrix(rows: 1, columns: dimension, storage: point)
        let ws = makeWorkspace(capacity: 1)
        try evaluate(x, rows: 1, sigma: sigma, workspace: ws, outputs: .mean)
        if isDiffusion { return zip(point, ws.mean.row(0)).map { -($0 - $1) / (sigma * sigma) } }
        // −(N+D) Σ_i c_i (x − y_i), c_i = w_i/(d_i² + r²): −(N+D) [(Σ c_i) x − Σ c_i y_i].
        let d2 = posterior.squaredDistances(x, rows: 1, scale: 1).storage
        let r2 = D * sigma * sigma, N = dimension
        let c = (0..<count).map { ws.weights[0, $0] / (d2[$0] + r2) }
        let weighted = Matrix(rows: 1, columns: count, storage: c)
        var cy = Matrix<Double>(rows: 1, columns: N)
        BLAS.multiply(weighted, points, into: &cy)
        let total = c.reduce(0, +), k = Double(N) + D
        return (0..<N).map { j in -k * (total * point[j] - cy[0, j]) }
    }

    /// Normalised ln p_σ(x) = ln (1/n) Σ_i p_σ(x|y_i).
    public func logDensity(at point: [Double], sigma: Double) throws -> Double {
        try evaluate(at: point, sigma: sigma).logDensity
    }

    /// The raw (N+D)-dimensional field (E_x, E_r) at (x, r = σ√D), c = 1/n convention (finite D).
    public func rawField(at point: [Double], sigma: Double) throws -> PoissonFlowRawField {
        guard let f = try evaluate(at: point, sigma: sigma).field else {
            throw ModelError("the raw field needs a finite D (at D = inf it vanishes; use the velocity)")
        }
        return f
    }

    /// Residual of the continuity equation ∂_r p_r + div_x(p_r v), v = dx/dr = (x − m)/r, by central
    /// finite differences of step h·r (Docs/PoissonFlow.md §3.5). Finite D only.
    public func continuityResidual(at point: [Double], r: Double, relativeStep h: Double = 1e-5) throws -> Double {
        guard !isDiffusion else { throw ModelError("the r-continuity residual needs a finite D") }
        guard r > 0, r.isFinite else { throw ModelError("r must be finite and > 0") }
        let sd = D.squareRoot()
        func p(_ x: [Double], _ rr: Double) throws -> Double { exp(try logDensity(at: x, sigma: rr / sd)) }
        func flux(_ x: [Double], _ j: Int) throws -> Double {
            let e = try evaluate(at: x, sigma: r / sd)
            return exp(e.logDensity) * (x[j] - e.denoiser[j]) / r
        }
        let dr = h * r
        var res = (try p(point, r + dr) - p(point, r - dr)) / (2 * dr)
        for j in 0..<dimension {
            var xp = point, xm = point
            xp[j] += dr; xm[j] -= dr
            res += (try flux(xp, j) - flux(xm, j)) / (2 * dr)
        }
        return res
    }

    /// κ = √((Dσ_max² + |x0 − ȳ|²)/((N+D)σ_max²)): the random-clock factor of a start point (§8.3); 1 at D = ∞.
    public func kappa(start x0: some Collection<Double>, sigmaMax: Double) -> Double {
        if isDiffusion { return 1 }
        let N = Double(dimension)
        let mean = (0..<dimension).map { j in (0..<count).reduce(0.0) { $0 + points[$1, j] } / Double(count) }
        var d2 = 0.0
        for (j, v) in x0.enumerated() { d2 += (v - mean[j]) * (v - mean[j]) }
        return ((D * sigmaMax * sigmaMax + d2) / ((N + D) * sigmaMax * sigmaMax)).squareRoot()
    }

    func check(_ point: [Double]) throws {
        guard point.count == dimension else {
            throw ModelError("point has \(point.count) coordinates but the data have N = \(dimension)")
        }
        guard point.allSatisfy({ $0.isFinite }) else { throw ModelError("point has non-finite coordinates") }
    }
}

/// The raw field of the n charges in R^{N+D}: E_x = e^{logScale}(x − m), E_r = e^{logScale} r.
/// `ex`/`er` may underflow for large N + D; `logScale` does not.
public struct PoissonFlowRawField: Sendable, Codable, Equatable {
    public var logScale: Double
    public var ex: [Double]
    public var er: Double
}

/// Everything at one point (x, σ).
public struct PoissonFlowPoint: Sendable, Codable {
    public var sigma: Double
    /// r = σ√D (nil at D = ∞).
    public var r: Double?
    public var weights: [Double]
    /// m_D(x, σ) = E[y | x].
    public var denoiser: [Double]
    /// dx/dσ = (x − m)/σ.
    public var velocity: [Double]
    /// V = Σ_i w_i |y_i − m|²: the irreducible denoising loss at (x, σ) (Docs/PoissonFlow.md §11.1).
    public var posteriorVariance: Double
    /// True ∇_x ln p_σ(x).
    public var score: [Double]
    /// Normalised ln p_σ(x).
    public var logDensity: Double
    public var maxWeight: Double
    public var classProbabilities: [Double]
    /// Raw (E_x, E_r) with c = 1/n (nil at D = ∞).
    public var field: PoissonFlowRawField?
}
