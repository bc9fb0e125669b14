import Foundation
import GSLKit

/// A sample mean with its standard error (SE = s/√N, s the unbiased sample deviation).
public struct MeanEstimate: Sendable, Codable, Equatable {
    public var mean: Double
    public var standardError: Double
    public var count: Int

    /// Written as a schema measured value `{"value", "stderr", "count"}` (Docs/Schema.md).
    enum CodingKeys: String, CodingKey { case mean = "value", standardError = "stderr", count }

    public init(mean: Double, standardError: Double, count: Int) {
        self.mean = mean
        self.standardError = standardError
        self.count = count
    }

    /// Mean and SE of `values` (SE = 0 for fewer than two values).
    public init(_ values: some Collection<Double>) {
        let n = values.count
        let m = n > 0 ? values.reduce(0, +) / Double(n) : .nan
        var ss = 0.0
        for v in values { ss += (v - m) * (v - m) }
        self.init(mean: m, standardError: n > 1 ? (ss / Double(n - 1) / Double(n)).squareRoot() : 0, count: n)
    }

    /// Fraction of successes with its binomial SE √(p(1−p)/N).
    public static func proportion(successes: Int, trials: Int) -> MeanEstimate {
        let p = trials > 0 ? Double(successes) / Double(trials) : .nan
        return MeanEstimate(mean: p, standardError: trials > 0 ? (p * (1 - p) / Double(trials)).squareRoot() : 0, count: trials)
    }
}

/// Percentile-bootstrap confidence interval of the mean (for skewed statistics such as −ln w).
public struct BootstrapInterval: Sendable, Codable, Equatable {
    public var lower: Double
    public var upper: Double
    public var level: Double
}

public enum Bootstrap {
    /// Percentile interval of the mean of `values` from `resamples` resamples drawn with stream
    /// `RandomStream(seed: seed)`.
    public static func meanInterval(_ values: [Double], level: Double = 0.95, resamples: Int = 2000,
                                    seed: UInt64 = 0) -> BootstrapInterval {
        precondition(!values.isEmpty && level > 0 && level < 1)
        let rng = RandomStream(seed: seed, domain: .bootstrap)
        let n = values.count
        var means = [Double](repeating: 0, count: resamples)
        for r in 0..<resamples {
            var s = 0.0
            for _ in 0..<n { s += values[rng.uniformInt(n)] }
            means[r] = s / Double(n)
        }
        means.sort()
        let lo = Int((Double(resamples) * (1 - level) / 2).rounded(.down))
        let hi = min(resamples - 1, Int((Double(resamples) * (1 + level) / 2).rounded(.down)))
        return BootstrapInterval(lower: means[lo], upper: means[hi], level: level)
    }
}

/// Where a monotone measured curve crosses a level, by linear interpolation between the two
/// bracketing points, with an SE propagated from the two points' SEs (delta method).
public struct LevelCrossing: Sendable, Codable, Equatable {
    public var t: Double
    public var standardError: Double

    /// Written as a schema measured value `{"value": t, "stderr"}` (Docs/Schema.md).
    enum CodingKeys: String, CodingKey { case t = "value", standardError = "stderr" }

    /// The indices of the points in increasing t, and the position k in that order of the first
    /// pair (order[k], order[k + 1]) that brackets `level` (or whose first point lies on it).
    static func bracket(times: [Double], values: [Double], level: Double) -> (order: [Int], k: Int)? {
        let order = times.indices.sorted { times[$0] < times[$1] }
        guard order.count >= 2, let k = (0..<(order.count - 1)).first(where: { k in
            let va = values[order[k]] - level, vb = values[order[k + 1]] - level
            return va == 0 || va * vb < 0
        }) else { return nil }
        return (order, k)
    }

    /// First bracketing pair in the order given (curves sampled on increasing or decreasing t).
    public static func find(times: [Double], values: [Double], errors: [Double], level: Double) -> LevelCrossing? {
        guard times.count == values.count, let (order, k) = bracket(times: times, values: values, level: level) else { return nil }
        let a = order[k], b = order[k + 1]
        let va = values[a] - level, vb = values[b] - level
        let t = va == 0 ? times[a] : times[a] + va / (va - vb) * (times[b] - times[a])
        return LevelCrossing(t: t, standardError: errors.isEmpty ? 0 : slopeError(a, b))

        func slopeError(_ a: Int, _ b: Int) -> Double {
            let slope = (values[b] - values[a]) / (times[b] - times[a])
            guard slope != 0 else { return .infinity }
            // Crossing time error ≈ (level error)/|slope|; the two bracketing errors combine.
            let f = 0.5
            let e = ((1 - f) * (1 - f) * errors[a] * errors[a] + f * f * errors[b] * errors[b]).squareRoot()
            return e / abs(slope)
        }
    }
}

/// The level crossing of a noisy monotone curve measured at discrete times with independent
/// errors (clone curves): solved from a weighted least-squares line through the points around
/// the crossing, not read off the grid (Docs/Conventions.md "Error bars").
///
/// The window is the bracketing pair and one neighbour on each side (up to four points); the
/// line v(t) = a + b t is fitted with weights 1/σ_k² and solved, t* = (level − a)/b. A point whose
/// error is below `errorFloor` (a binomial estimate measured as exactly 0 or 1) gets, when `counts`
/// are given, the Agresti–Coull error √(p̃(1 − p̃)/(N_k + 2)), p̃ = (N_k v_k + 1)/(N_k + 2), else
/// `errorFloor`; other errors are used as given (they may be below binomial, e.g. martingale scores). Its standard error is the delta method on the fit
/// covariance, Var t* = (Var a + 2t* Cov(a,b) + t*² Var b)/b², treating the points as independent
/// (clone points that share trunks are positively correlated: the SE is then approximate).
/// `systematic` is the grid dependence of the answer: |t* − t_interp|, t_interp the two-point
/// interpolation of `LevelCrossing.find` (the curvature across the window); NaN (written as null)
/// when the fitted root leaves the window and the interpolation is returned instead.
/// Non-finite points are dropped first.
public struct FittedCrossing: Sendable, Codable, Equatable {
    public var t: Double
    public var standardError: Double
    public var systematic: Double
    /// Number of points in the fit.
    public var points: Int

    enum CodingKeys: String, CodingKey { case t = "value", standardError = "stderr", systematic, points }

    public init(t: Double, standardError: Double, systematic: Double, points: Int) {
        (self.t, self.standardError, self.systematic, self.points) = (t, standardError, systematic, points)
    }

    /// The crossing as a plain value ± SE (for outputs that carry no systematic).
    public var levelCrossing: LevelCrossing { LevelCrossing(t: t, standardError: standardError) }

    /// Nil when the curve does not cross `level` between two of its points.
    public static func solve(times allTimes: [Double], values allValues: [Double], errors allErrors: [Double], level: Double,
                             counts allCounts: [Int]? = nil, errorFloor: Double = 1e-3) -> FittedCrossing? {
        guard allTimes.count == allValues.count, allTimes.count == allErrors.count, allCounts.map({ $0.count == allTimes.count }) ?? true
        else { return nil }
        let keep = allTimes.indices.filter { allTimes[$0].isFinite && allValues[$0].isFinite && allErrors[$0].isFinite }
        let times = keep.map { allTimes[$0] }, values = keep.map { allValues[$0] }
        let errors = keep.map { k -> Double in
            guard allErrors[k] < errorFloor else { return allErrors[k] }
            guard let n = allCounts?[k], n > 0 else { return errorFloor }
            let p = (Double(n) * allValues[k] + 1) / Double(n + 2)
            return max(errorFloor, (p * (1 - p) / Double(n + 2)).squareRoot())
        }
        guard let interp = LevelCrossing.find(times: times, values: values, errors: errors, level: level),
              let (order, k) = LevelCrossing.bracket(times: times, values: values, level: level) else { return nil }
        // The bracketing pair in sorted order, and one neighbour each side.
        let window = order[max(0, k - 1)...min(order.count - 1, k + 2)]
        var sw = 0.0, st = 0.0, stt = 0.0, sv = 0.0, stv = 0.0
        for i in window {
            let w = 1 / (errors[i] * errors[i])
            sw += w; st += w * times[i]; stt += w * times[i] * times[i]; sv += w * values[i]; stv += w * times[i] * values[i]
        }
        let det = sw * stt - st * st
        guard det > 0 else { return nil }
        let b = (sw * stv - st * sv) / det, a = (stt * sv - st * stv) / det
        guard b != 0, b.isFinite else { return nil }
        let t = (level - a) / b
        // The fitted root must stay inside the window; else the line is not a description there.
        guard let lo = window.map({ times[$0] }).min(), let hi = window.map({ times[$0] }).max(), t >= lo, t <= hi else {
            return FittedCrossing(t: interp.t, standardError: interp.standardError, systematic: .nan, points: 2)
        }
        let varA = stt / det, varB = sw / det, cov = -st / det
        let variance = (varA + 2 * t * cov + t * t * varB) / (b * b)
        return FittedCrossing(t: t, standardError: max(variance, 0).squareRoot(), systematic: abs(t - interp.t), points: window.count)
    }
}
