import Foundation

/// A strictly decreasing grid of forward times T = t₀ > t₁ > … > t_K = t_min > 0 along which the
/// generative process runs (Docs/Theory.md §1.4: never step to t = 0; geometric grids resolve the
/// 1/Δ_t stiffness near t_min).
public struct TimeGrid: Sendable, Equatable {
    public let times: [Double]

    /// Validates a decreasing list of positive, finite times (at least two).
    public init(times: [Double]) throws {
        guard times.count >= 2 else { throw ModelError("a time grid needs at least two times") }
        guard times.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw ModelError("grid times must be finite and > 0 (the score is singular at t = 0)")
        }
        guard zip(times, times.dropFirst()).allSatisfy({ $0 > $1 }) else {
            throw ModelError("grid times must decrease strictly (from T down to t_min)")
        }
        self.times = times
    }

    /// t_k = T (t_min/T)^{k/K}, k = 0…K.
    public static func geometric(from T: Double, to tMin: Double, steps: Int) throws -> TimeGrid {
        guard steps >= 1 else { throw ModelError("steps must be ≥ 1, got \(steps)") }
        guard T.isFinite, tMin.isFinite, tMin > 0, T > tMin else {
            throw ModelError("need T > t_min > 0, got T = \(T), t_min = \(tMin)")
        }
        let ratio = log(tMin / T)
        var times = (0...steps).map { T * exp(ratio * Double($0) / Double(steps)) }
        times[0] = T
        times[steps] = tMin
        return try TimeGrid(times: times)
    }

    /// t_k = T − k (T − t_min)/K.
    public static func uniform(from T: Double, to tMin: Double, steps: Int) throws -> TimeGrid {
        guard steps >= 1 else { throw ModelError("steps must be ≥ 1, got \(steps)") }
        guard T.isFinite, tMin.isFinite, tMin > 0, T > tMin else {
            throw ModelError("need T > t_min > 0, got T = \(T), t_min = \(tMin)")
        }
        return try TimeGrid(times: (0...steps).map { T - (T - tMin) * Double($0) / Double(steps) })
    }

    public var start: Double { times[0] }
    public var end: Double { times[times.count - 1] }
    public var steps: Int { times.count - 1 }

    /// The part of the grid at or below `t`, starting exactly at `t` (for continuing from a branch time).
    public func continuing(from t: Double) throws -> TimeGrid {
        try TimeGrid(times: [t] + times.filter { $0 < t })
    }

    /// The part of the grid from the start down to `t`, ending exactly at `t`.
    public func truncated(at t: Double) throws -> TimeGrid {
        try TimeGrid(times: times.filter { $0 > t } + [t])
    }
}
