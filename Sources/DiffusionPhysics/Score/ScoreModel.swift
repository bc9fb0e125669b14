import Foundation
import GSLKit

/// Errors from evaluating a model on bad input. `parameter` names the offending input (e.g.
/// "tMin", "steps", "horizon") when there is one, so a front end can name its own flag for it.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// The library parameter the error is about, or nil.
    public let parameter: String?
    public init(_ message: String, parameter: String? = nil) {
        self.message = message
        self.parameter = parameter
    }
    public var description: String { message }
}

/// A noised data law P_t whose posterior over "components" (training points for the empirical
/// law, mixture components for a Gaussian mixture) is known exactly. Every sampler and
/// estimator works through this protocol. It is the VP specialisation of `NoiseModel` (levels
/// named by forward time t; σ levels are converted, see `NoiseLevel`).
///
/// Conventions (Docs/Theory.md §0–1): forward OU process x_t = a e^{−t} + √Δ_t ξ, Δ_t = −expm1(−2t);
/// posterior mean m̂(x, t) = E[a | x_t = x]; score F = ∇ ln P_t = (e^{−t} m̂ − x)/Δ_t (Tweedie).
public protocol ScoreModel: NoiseModel {
    /// Evaluates the posterior at forward time t > 0 for rows 0..<rows of `x`.
    func evaluate(_ x: Matrix<Double>, rows: Int, t: Double, workspace: PosteriorWorkspace,
                  outputs: PosteriorOutputs) throws
    /// Draws a ~ P(a | x_t) for particle `row` after `evaluate` (exact posterior sample) and
    /// returns the component it came from.
    func posteriorDraw(row: Int, x: Matrix<Double>, t: Double, workspace: PosteriorWorkspace,
                       rng: RandomStream, into a: inout [Double]) -> Int
}

extension ScoreModel {
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
            throw ModelError("point has \(point.count) coordinates but the data have d = \(dimension)", parameter: "point")
        }
        guard point.allSatisfy({ $0.isFinite }) else { throw ModelError("point has non-finite coordinates", parameter: "point") }
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
    guard t.isFinite, t > 0 else { throw ModelError("\(name) must be a finite time > 0, got \(t)", parameter: name) }
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
