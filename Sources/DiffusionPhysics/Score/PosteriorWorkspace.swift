import GSLKit

/// What an evaluation should produce beyond the weights and their summaries.
public struct PosteriorOutputs: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// The posterior mean m̂ = Σ_μ w_μ a_μ (the second matrix product). Samplers need it;
    /// forward-sampling estimators (Y2, f^e, φ) do not.
    public static let mean = PosteriorOutputs(rawValue: 1)
    /// Posterior class probabilities p_c = Σ_{μ ∈ c} w_μ.
    public static let classProbabilities = PosteriorOutputs(rawValue: 2)
    public static let all: PosteriorOutputs = [.mean, .classProbabilities]
}

/// Reusable buffers for one batch of up to `capacity` particles: nothing is allocated per step.
///
/// After `ScoreModel.evaluate`, rows `0..<rows` hold, per particle: the normalised posterior
/// weights over the model's components (training points, or mixture components), their
/// log-sum-exp, the participation ratio Y2 = Σ w², w_max, argmax, ln P_t(x), and (if asked)
/// the posterior mean and class probabilities.
public final class PosteriorWorkspace {
    public let capacity: Int
    public let dimension: Int
    public let components: Int
    public let classes: Int
    /// capacity × components: posterior weights w_μ (rows sum to 1).
    public internal(set) var weights: Matrix<Double>
    /// capacity × dimension: posterior mean m̂(x, t) = E[a | x_t = x].
    public internal(set) var mean: Matrix<Double>
    /// capacity × classes: p_c(x, t).
    public internal(set) var classProbabilities: Matrix<Double>
    /// ln Σ_μ exp(ln k_μ) of the kernel log weights (before the model's normalisation).
    public internal(set) var logSumExp: [Double]
    /// ln P_t(x): the normalised log density of the model at the particle.
    public internal(set) var logDensity: [Double]
    /// Y2 = Σ_μ w_μ².
    public internal(set) var participationRatio: [Double]
    /// max_μ w_μ.
    public internal(set) var maxWeight: [Double]
    /// argmax_μ w_μ (for the Gaussian kernel: the nearest scaled training point a_μ e^{−t}).
    public internal(set) var argmax: [Int]
    /// Engine-private scratch (e.g. single-precision buffers of `EmpiricalPosterior`), made on first use.
    var engineScratch: AnyObject?

    public init(capacity: Int, dimension: Int, components: Int, classes: Int) {
        self.capacity = capacity
        self.dimension = dimension
        self.components = components
        self.classes = classes
        weights = Matrix(rows: capacity, columns: components)
        mean = Matrix(rows: capacity, columns: dimension)
        classProbabilities = Matrix(rows: capacity, columns: max(classes, 0))
        logSumExp = Array(repeating: 0, count: capacity)
        logDensity = Array(repeating: 0, count: capacity)
        participationRatio = Array(repeating: 0, count: capacity)
        maxWeight = Array(repeating: 0, count: capacity)
        argmax = Array(repeating: 0, count: capacity)
    }

    /// Weights of particle `row`.
    public func weights(row: Int) -> ArraySlice<Double> { weights.rowSlice(row) }
}
