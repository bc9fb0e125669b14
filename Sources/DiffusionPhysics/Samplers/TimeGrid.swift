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

    /// The two-ended grid h(t) ≈ min(h_max, c·t) (Docs/Engine.md "Time grids"): uniform steps h_max from T
    /// down to the crossover t_x, geometric steps (ratio e^{−c}) from t_x down to t_min, with
    /// c = [(T − t_x)/t_x + ln(t_x/t_min)]/K and h_max = c·t_x, so the step is continuous at t_x
    /// and the K steps are shared in proportion to (T − t_x)/t_x and ln(t_x/t_min). T ≤ t_x: geometric.
    public static func hybrid(from T: Double, to tMin: Double, steps: Int, crossover: Double = hybridCrossover) throws -> TimeGrid {
        guard steps >= 1 else { throw ModelError("steps must be ≥ 1, got \(steps)") }
        guard T.isFinite, tMin.isFinite, tMin > 0, T > tMin else {
            throw ModelError("need T > t_min > 0, got T = \(T), t_min = \(tMin)")
        }
        guard crossover.isFinite, crossover > 0 else { throw ModelError("the grid crossover must be finite and > 0") }
        guard T > crossover, crossover > tMin, steps >= 2 else { return try geometric(from: T, to: tMin, steps: steps) }
        let uniformLength = (T - crossover) / crossover, geometricLength = log(crossover / tMin)
        let nGeometric = min(steps - 1, max(1, Int((Double(steps) * geometricLength / (uniformLength + geometricLength)).rounded())))
        let nUniform = steps - nGeometric
        let upper = try uniform(from: T, to: crossover, steps: nUniform).times
        let lower = try geometric(from: crossover, to: tMin, steps: nGeometric).times
        return try TimeGrid(times: upper + lower.dropFirst())
    }

    /// The hybrid grid with steps no longer than `maxStep` and relative steps no larger than c =
    /// `maxStep`/t_x (the K that achieves it).
    public static func hybrid(from T: Double, to tMin: Double, maxStep: Double, crossover: Double = hybridCrossover) throws -> TimeGrid {
        guard maxStep.isFinite, maxStep > 0 else { throw ModelError("the largest step must be finite and > 0") }
        guard T.isFinite, tMin.isFinite, tMin > 0, T > tMin else {
            throw ModelError("need T > t_min > 0, got T = \(T), t_min = \(tMin)")
        }
        let c = maxStep / crossover
        let k = max(T - crossover, 0) / maxStep + log(max(crossover, tMin) / tMin) / c
        guard k < 1e8 else { throw ModelError("a step of \(maxStep) needs more than 10⁸ grid points") }
        var steps = max(2, Int(k.rounded(.up)) + 1)
        var grid = try hybrid(from: T, to: tMin, steps: steps, crossover: crossover)
        while grid.maxStep > maxStep {   // rounding of the split between the two parts
            steps += max(1, steps / 100)
            grid = try hybrid(from: T, to: tMin, steps: steps, crossover: crossover)
        }
        return grid
    }

    /// Crossover t_x = 0.25 of the hybrid grid: below it the 1/Δ_t ≈ 1/(2t) stiffness sets the step.
    public static let hybridCrossover = 0.25

    /// Every interval split in two at its midpoint (the step-halving check: the refined grid's
    /// steps are exactly half of this grid's, and its nodes contain this grid's).
    public func refined() -> TimeGrid {
        var out: [Double] = []
        out.reserveCapacity(2 * times.count)
        for k in 0..<(times.count - 1) {
            out.append(times[k])
            out.append(0.5 * (times[k] + times[k + 1]))
        }
        out.append(end)
        // Midpoints of distinct doubles stay strictly between them unless they are adjacent doubles.
        return (try? TimeGrid(times: out)) ?? self
    }

    /// The grid with the extra `nodes` (strictly inside (end, start)) inserted.
    public func inserting(_ nodes: [Double]) throws -> TimeGrid {
        let inside = nodes.filter { $0 < start && $0 > end }
        return try TimeGrid(times: Array(Set(times + inside)).sorted(by: >))
    }

    /// The largest step.
    public var maxStep: Double { zip(times, times.dropFirst()).map { $0 - $1 }.max() ?? 0 }

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
