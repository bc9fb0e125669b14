import Foundation
import GSLKit

/// The two ways a noise level is named (Docs/Theory.md §0; Docs/PoissonFlow.md §2).
public enum NoiseKind: String, Sendable, Equatable, CaseIterable {
    /// Forward (VP, Ornstein–Uhlenbeck) time t: x_t = a e^{−t} + √Δ_t ξ.
    case time
    /// Variance-exploding level σ: y = a + σ ξ (PFGM++'s diffusion-equivalent σ).
    case sigma
}

/// A noise level: VP time t or VE σ. The two name the same noise through (Docs/Theory.md §0, "VE / EDM")
///
///     y = x eᵗ,   σ² = e^{2t} − 1,   t = ½ ln(1 + σ²),
///
/// and the posterior over components is the same in both variables. States passed with a level
/// are in that level's variables: x at `.time(t)`, y at `.sigma(σ)`.
public enum NoiseLevel: Sendable, Hashable, CustomStringConvertible {
    case time(Double)
    case sigma(Double)

    public var kind: NoiseKind {
        switch self {
        case .time: return .time
        case .sigma: return .sigma
        }
    }

    /// The number itself (t or σ).
    public var value: Double {
        switch self {
        case .time(let t): return t
        case .sigma(let s): return s
        }
    }

    /// The VP time: t, or ½ log1p(σ²).
    public var time: Double {
        switch self {
        case .time(let t): return t
        case .sigma(let s): return 0.5 * log1p(s * s)
        }
    }

    /// The VE level: σ, or √expm1(2t).
    public var sigma: Double {
        switch self {
        case .time(let t): return expm1(2 * t).squareRoot()
        case .sigma(let s): return s
        }
    }

    /// ln σ, the variable of the VE probability-flow ODE (Docs/Theory.md §1.4(d)); for a time, ½ ln expm1(2t).
    public var logSigma: Double {
        switch self {
        case .time(let t): return 0.5 * log(expm1(2 * t))
        case .sigma(let s): return log(s)
        }
    }

    /// The same noise named by `kind`, and the factor c that maps states to it (state' = c · state):
    /// eᵗ from x to y, e^{−t} from y to x, 1 if the kind is unchanged.
    public func converted(to kind: NoiseKind) -> (level: NoiseLevel, stateScale: Double) {
        switch (self, kind) {
        case (.time, .time), (.sigma, .sigma): return (self, 1)
        case (.time(let t), .sigma): return (.sigma(sigma), exp(t))
        case (.sigma, .time): let t = time; return (.time(t), exp(-t))
        }
    }

    /// Throws unless the value is finite and > 0 (the score is singular at zero noise).
    public func validate(name: String? = nil) throws {
        guard value.isFinite, value > 0 else {
            let n = name ?? (kind == .time ? "t" : "sigma")
            throw ModelError("\(n) must be finite and > 0, got \(value)", parameter: n)
        }
    }

    public var description: String {
        switch self {
        case .time(let t): return "t = \(t)"
        case .sigma(let s): return "σ = \(s)"
        }
    }
}

/// A noised data law whose posterior over "components" (training points, mixture components) is
/// known exactly at any noise level, named as VP time or VE σ (`NoiseLevel`). Everything the
/// trajectory runner needs: batched posterior evaluation (weights, w_max, argmax, Y2, ln density,
/// and the posterior mean m̂ = E[a | state]) and an exact posterior draw.
///
/// `ScoreModel` is the VP specialisation (native level: time). PFGM++ (`PoissonFlowModel`) and the
/// Yukawa model are native in σ. Levels of the other kind are converted (Docs/Theory.md §0, VE form).
public protocol NoiseModel: Sendable {
    /// Dimension d of the data.
    var dimension: Int { get }
    /// Number of posterior components (n training points, or k mixture components).
    var componentCount: Int { get }
    /// Number of classes (0 when the model has no labels).
    var classCount: Int { get }
    /// Class index (0..<classCount) of each component, or nil.
    var componentClasses: [Int]? { get }
    /// The level kind `evaluate(_:rows:at:workspace:outputs:)` works in without converting states.
    var nativeNoise: NoiseKind { get }
    /// Evaluates the posterior for rows 0..<rows of `x` (in the variables of `level`).
    func evaluate(_ x: Matrix<Double>, rows: Int, at level: NoiseLevel, workspace: PosteriorWorkspace,
                  outputs: PosteriorOutputs) throws
    /// Draws a ~ P(a | state) for particle `row` after `evaluate` at the same level (an exact
    /// posterior sample) and returns the component it came from.
    func posteriorDraw(row: Int, x: Matrix<Double>, at level: NoiseLevel, workspace: PosteriorWorkspace,
                       rng: RandomStream, into a: inout [Double]) -> Int
}

extension NoiseModel {
    /// A workspace sized for this model.
    public func makeWorkspace(capacity: Int) -> PosteriorWorkspace {
        PosteriorWorkspace(capacity: capacity, dimension: dimension, components: componentCount, classes: classCount)
    }

    /// `level` in the model's native kind and `x` (rows 0..<rows) converted to it; `x` itself if no conversion is needed.
    func nativeStates(_ x: Matrix<Double>, rows: Int, at level: NoiseLevel) -> (Matrix<Double>, NoiseLevel) {
        if level.kind == nativeNoise { return (x, level) }
        let (native, c) = level.converted(to: nativeNoise)
        var y = x
        for j in 0..<(rows * x.columns) { y.storage[j] = c * x.storage[j] }
        return (y, native)
    }
}

extension ScoreModel {
    /// The VP specialisation: native in forward time.
    public var nativeNoise: NoiseKind { .time }

    /// At `.time(t)` the model's own `evaluate(t:)`; at `.sigma(σ)` the states y are mapped to
    /// x = y e^{−t}, t = ½ ln(1 + σ²) (one copy of the batch).
    public func evaluate(_ x: Matrix<Double>, rows: Int, at level: NoiseLevel, workspace: PosteriorWorkspace,
                         outputs: PosteriorOutputs) throws {
        let (native, t) = nativeStates(x, rows: rows, at: level)
        try evaluate(native, rows: rows, t: t.value, workspace: workspace, outputs: outputs)
    }

    public func posteriorDraw(row: Int, x: Matrix<Double>, at level: NoiseLevel, workspace: PosteriorWorkspace,
                              rng: RandomStream, into a: inout [Double]) -> Int {
        let (native, t) = nativeStates(x, rows: x.rows, at: level)
        return posteriorDraw(row: row, x: native, t: t.value, workspace: workspace, rng: rng, into: &a)
    }
}
