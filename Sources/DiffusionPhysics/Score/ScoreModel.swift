import Foundation
import GSLKit

/// Errors from evaluating a model on bad input.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A noised data law P_t whose posterior over "components" (training points for the empirical
/// law, mixture components for a Gaussian mixture) is known exactly. Every sampler and
/// estimator works through this protocol.
///
/// Conventions (THEORY §0–1): forward OU process x_t = a e^{−t} + √Δ_t ξ, Δ_t = −expm1(−2t);
/// posterior mean m̂(x, t) = E[a | x_t = x]; score F = ∇ ln P_t = (e^{−t} m̂ − x)/Δ_t (Tweedie).
public protocol ScoreModel: Sendable {
    /// Dimension d of the data.
    var dimension: Int { get }
    /// Number of posterior components (n training points, or k mixture components).
    var componentCount: Int { get }
    /// Number of classes (0 when the model has no labels).
    var classCount: Int { get }
    /// Class index (0..<classCount) of each component, or nil.
    var componentClasses: [Int]? { get }
    /// Evaluates the posterior at forward time t > 0 for rows 0..<rows of `x`.
    func evaluate(_ x: Matrix<Double>, rows: Int, t: Double, workspace: PosteriorWorkspace,
                  outputs: PosteriorOutputs) throws
    /// Draws a ~ P(a | x_t) for particle `row` after `evaluate` (exact posterior sample) and
    /// returns the component it came from.
    func posteriorDraw(row: Int, x: Matrix<Double>, t: Double, workspace: PosteriorWorkspace,
                       rng: RandomStream, into a: inout [Double]) -> Int
}

extension ScoreModel {
    /// A workspace sized for this model.
    public func makeWorkspace(capacity: Int) -> PosteriorWorkspace {
        PosteriorWorkspace(capacity: capacity, dimension: dimension, components: componentCount, classes: classCount)
    }

    /// Score F(x, t) = (e^{−t} m̂ − x)/Δ_t for rows 0..<rows, after `evaluate` with `.mean`.
    public func score(_ x: Matrix<Double>, rows: Int, t: Double, workspace: PosteriorWorkspace,
                      into f: inout Matrix<Double>) {
        let delta = ForwardProcess.delta(t), decay = exp(-t)
        for i in 0..<(rows * dimension) {
            f.storage[i] = (decay * workspace.mean.storage[i] - x.storage[i]) / delta
        }
    }

    /// One-point evaluation: score, weights, ln P_t(x) and Y2 at x (for the CLI and tests).
    public func evaluate(at point: [Double], t: Double) throws -> PointEvaluation {
        guard point.count == dimension else {
            throw ModelError("point has \(point.count) coordinates but the data have d = \(dimension)")
        }
        guard point.allSatisfy({ $0.isFinite }) else { throw ModelError("point has non-finite coordinates") }
        try validateTime(t)
        let x = Matrix(rows: 1, columns: dimension, storage: point)
        let ws = makeWorkspace(capacity: 1)
        try evaluate(x, rows: 1, t: t, workspace: ws, outputs: .all)
        var f = Matrix<Double>(rows: 1, columns: dimension)
        score(x, rows: 1, t: t, workspace: ws, into: &f)
        return PointEvaluation(score: f.storage, posteriorMean: ws.mean.row(0), weights: ws.weights.row(0),
                               logDensity: ws.logDensity[0], participationRatio: ws.participationRatio[0],
                               classProbabilities: classCount > 0 ? ws.classProbabilities.row(0) : [])
    }
}

/// Checks a forward time: finite and > 0 (the score is singular at t = 0).
public func validateTime(_ t: Double, name: String = "t") throws {
    guard t.isFinite, t > 0 else { throw ModelError("\(name) must be a finite time > 0, got \(t)") }
}

/// Everything known at one point x and time t.
public struct PointEvaluation: Sendable, Codable {
    public var score: [Double]
    public var posteriorMean: [Double]
    public var weights: [Double]
    public var logDensity: Double
    public var participationRatio: Double
    public var classProbabilities: [Double]
}
