import Foundation
import GSLKit

extension LevelCrossing {
    /// The crossing as a time and its statistical error.
    public init(_ solved: SolvedCrossing) {
        self.init(t: solved.t, standardError: solved.standardError)
    }
}

extension ForwardSampling {
    /// The level crossing of a forward-sampling curve solved on its own samples (the same draws
    /// as `estimate` with this seed and count): bracketed by `grid`, then Brent
    /// (`ForwardEnsemble.solveCrossing`); nil when the grid shows no sign change.
    public func solveCrossing(level: Double, grid: [Double], samples: Int, origins: ForwardOrigins = .planted,
                              seed: UInt64, statistic: @escaping (ForwardSampleValues) -> [Double]?) throws -> LevelCrossing? {
        try ensemble(origins: origins).solveCrossing(level: level, bracket: grid, samples: samples, seed: seed,
                                                     statistic: statistic).map(LevelCrossing.init)
    }
}

extension CollapseMeasurement {
    /// The operational collapse times of a curve, each solved on the curve's own samples
    /// (Docs/Engine.md "One forward ensemble"): t where E[Y2] = ½, where f^e/α = 0.1 and 0.05
    /// (f^e = −(1/d) E[ln w_μ0]), and the non-planted E[Y2] = ½ on `fresh`. The curve's grid only
    /// brackets each root, so the times do not move with the grid; where a grid shows no bracket
    /// the interpolated value of `MeasuredCollapseTimes(curve:alpha:)` stays.
    public func measuredTimes(curve: [CollapseCurvePoint], samples: Int, seed: UInt64,
                              fresh: Matrix<Double>? = nil, progress: ProgressReporter? = nil) throws -> MeasuredCollapseTimes {
        let alpha = CollapseTheory.alpha(n: Double(score.componentCount), d: Double(score.dimension))
        return try measuredTimes(grid: curve.map(\.t), samples: samples, seed: seed, fresh: fresh,
                                 fallback: MeasuredCollapseTimes(curve: curve, alpha: alpha), progress: progress)
    }

    /// The same from the curve's times alone; `fallback` holds the values kept where `grid` shows
    /// no bracket (and decides whether the non-planted time is wanted).
    /// `progress` advances one unit per crossing solved (three, and a fourth with `fresh`).
    public func measuredTimes(grid: [Double], samples: Int, seed: UInt64, fresh: Matrix<Double>? = nil,
                              fallback: MeasuredCollapseTimes, progress: ProgressReporter? = nil) throws -> MeasuredCollapseTimes {
        let d = Double(score.dimension)
        let alpha = CollapseTheory.alpha(n: Double(score.componentCount), d: d)
        var times = fallback
        let sampling = ForwardSampling(score: score, threads: threads, chunkSize: chunkSize)
        if let c = try sampling.solveCrossing(level: 0.5, grid: grid, samples: samples, seed: seed, statistic: { $0.y2 }) {
            times.y2 = c
        }
        progress?.advance()
        if alpha > 0 {
            let ratio: (ForwardSampleValues) -> [Double]? = { v in v.logWOrigin.map { $0.map { -$0 / (d * alpha) } } }
            if let c = try sampling.solveCrossing(level: 0.1, grid: grid, samples: samples, seed: seed, statistic: ratio) { times.entropy10 = c }
            progress?.advance()
            if let c = try sampling.solveCrossing(level: 0.05, grid: grid, samples: samples, seed: seed, statistic: ratio) { times.entropy05 = c }
            progress?.advance()
        }
        if let fresh {
            if let c = try sampling.solveCrossing(level: 0.5, grid: grid, samples: samples, origins: .fresh(fresh, labels: nil),
                                                  seed: seed, statistic: { $0.y2 }) {
                times.y2NonPlanted = c
            }
            progress?.advance()
        }
        return times
    }
}

extension MeasuredCollapseTimes {
    /// Times given directly (nil: not measured).
    public init(y2: LevelCrossing?, entropy10: LevelCrossing? = nil, entropy05: LevelCrossing? = nil,
                y2NonPlanted: LevelCrossing? = nil) {
        self.init(curve: [], alpha: 0)
        (self.y2, self.entropy10, self.entropy05, self.y2NonPlanted) = (y2, entropy10, entropy05, y2NonPlanted)
    }
}
