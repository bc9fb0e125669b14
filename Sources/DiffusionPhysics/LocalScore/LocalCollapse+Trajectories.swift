import Foundation
import GSLKit

/// Which sampler a local trajectory map runs (Docs/LocalScores.md §7: the two no longer agree).
public enum LocalSampler: String, Sendable, Codable, CaseIterable {
    /// Backward SDE on the settings' grid and scheme.
    case sde
    /// Probability-flow ODE (GSL rk8pd, tolerance 10⁻⁹) between the same grid levels.
    case ode
}

/// Per-pixel collapse times along machine trajectories (Docs/LocalScores.md §7 "Per-pixel collapse
/// times", Docs/Theory.md §3.4 M2 per pixel). Per trajectory and recorded level t_k, pixel i has its
/// source src_k(i) (the training image of largest posterior mass at i) and Y2_i. Then
///
///     t_C^src(i) = t_{k*},  k* = min{k : src_j(i) = src_K(i) for all j ≥ k}   (the last change of source),
///     t_C^Y2(i)  = t_{k*},  k* = min{k : Y2_i(t_j) > ½ for all j ≥ k}        (0 if Y2_i(t_min) ≤ ½),
///
/// both by `TrajectoryCollapse.collapseTime(holds:times:)`; t_K = t_min is the last recorded level.
public struct LocalTrajectoryCollapseMap: Sendable, Codable {
    public var machine: LocalMachine
    public var patch: String
    public var shape: ImageShape
    public var sampler: LocalSampler
    public var trajectories: Int
    /// The recorded levels t₀ = T > … > t_K = t_min.
    public var times: [Double]
    /// [trajectory][pixel] (row-major pixels).
    public var sourceTimes: [[Double]]
    public var y2Times: [[Double]]
    /// Per pixel: mean over trajectories ± SE.
    public var sourceMean: [MeanEstimate]
    public var y2Mean: [MeanEstimate]
    /// Per pixel: fraction of trajectories with Y2_i(t_min) > ½.
    public var y2Collapsed: [Double]
    /// Per trajectory the pixel mean of t_C^src and of t_C^Y2, summarised over trajectories (mean ± SE).
    public var sourcePixelMean: MeanEstimate
    public var y2PixelMean: MeanEstimate

    /// Mean over trajectories of the standard deviation of the map over pixels.
    public var sourcePixelSpread: Double { Self.meanSpread(sourceTimes) }
    public var y2PixelSpread: Double { Self.meanSpread(y2Times) }

    static func meanSpread(_ maps: [[Double]]) -> Double {
        maps.isEmpty ? .nan : maps.map { PixelSummary($0).spread }.reduce(0, +) / Double(maps.count)
    }
}

public struct LocalTrajectoryCollapse: Sendable {
    public let model: LocalScore
    public var settings: SDESettings
    public var sampler: LocalSampler
    /// Record every `stride`-th level of the grid (and always the last).
    public var stride: Int
    public var threads: Int
    /// Trajectories per runner call (bounds the recorded states in memory; results do not depend on it).
    public var batch: Int

    public init(model: LocalScore, settings: SDESettings, sampler: LocalSampler = .sde, stride: Int = 1,
                threads: Int = Parallel.defaultThreads, batch: Int = 32) throws {
        try settings.validate()
        guard stride >= 1, batch >= 1 else { throw ModelError("stride and batch must be ≥ 1", parameter: "stride") }
        (self.model, self.settings, self.sampler, self.stride, self.threads, self.batch) = (model, settings, sampler, stride, threads, batch)
    }

    /// The pixel maps of `trajectories` runs of stream i of `seed` (domain `.trajectory`, as every sampler run).
    public static func measure(model: LocalScore, trajectories: Int, settings: SDESettings, sampler: LocalSampler = .sde,
                               stride: Int = 1, seed: UInt64, threads: Int = Parallel.defaultThreads,
                               progress: ProgressReporter? = nil) throws -> LocalTrajectoryCollapseMap {
        try LocalTrajectoryCollapse(model: model, settings: settings, sampler: sampler, stride: stride, threads: threads)
            .measure(trajectories: trajectories, seed: seed, progress: progress)
    }

    /// Recorded level indices of a grid of `count` levels.
    func recordedLevels(_ count: Int) -> [Int] {
        var k = Array(Swift.stride(from: 0, to: count, by: stride))
        if k.last != count - 1 { k.append(count - 1) }
        return k
    }

    public func measure(trajectories: Int, seed: UInt64, progress: ProgressReporter? = nil) throws -> LocalTrajectoryCollapseMap {
        guard trajectories >= 2 else { throw ModelError("need at least 2 trajectories, got \(trajectories)", parameter: "trajectories") }
        let grid = try settings.timeGrid()
        let schedule = grid.times.map { NoiseLevel.time($0) }
        let levels = recordedLevels(schedule.count)
        let times = levels.map { grid.times[$0] }
        let stepper: TrajectoryStepper = sampler == .sde ? settings.scheme.stepper : .adaptive()
        let runner = TrajectoryRunner(model: model, stepper: stepper, threads: threads)
        let hw = model.shape.pixels
        var sourceTimes: [[Double]] = [], y2Times: [[Double]] = []
        var start = 0
        while start < trajectories {
            let size = min(batch, trajectories - start)
            let run = try runner.run(schedule: schedule, start: .prior(count: size), seed: seed,
                                     streams: StreamIDs.sequential(size, base: UInt64(start)),
                                     recording: RecordingOptions(.states, at: levels))
            // Re-evaluate each recorded state with its per-pixel sources (one trajectory per chunk).
            let maps = try Parallel.mapChunks(count: size, chunkSize: 1, threads: threads, makeWorkspace: { () }) { _, range in
                let j = range.lowerBound
                var src = [[Int]](repeating: [], count: hw), y2 = [[Double]](repeating: [], count: hw)
                for (slot, snap) in run.snapshots.enumerated() {
                    let post = try model.posterior(at: snap.states.row(j), t: times[slot], sources: true)
                    let map = post.sourceMap
                    for i in 0..<hw { src[i].append(map[i]); y2[i].append(post.participationRatio[i]) }
                }
                let s = (0..<hw).map { i in TrajectoryCollapse.collapseTime(path: src[i], end: src[i].last!, times: times) }
                let y = (0..<hw).map { i in TrajectoryCollapse.collapseTime(holds: y2[i].map { $0 > 0.5 }, times: times) }
                return (s, y)
            }
            for m in maps { sourceTimes.append(m.0); y2Times.append(m.1) }
            progress?.advance(size)
            start += size
        }
        let collapsed = (0..<hw).map { i in Double(y2Times.filter { $0[i] > 0 }.count) / Double(trajectories) }
        return LocalTrajectoryCollapseMap(
            machine: model.machine, patch: model.rule.description, shape: model.shape, sampler: sampler, trajectories: trajectories,
            times: times, sourceTimes: sourceTimes, y2Times: y2Times,
            sourceMean: (0..<hw).map { i in MeanEstimate(sourceTimes.map { $0[i] }) },
            y2Mean: (0..<hw).map { i in MeanEstimate(y2Times.map { $0[i] }) },
            y2Collapsed: collapsed,
            sourcePixelMean: MeanEstimate(sourceTimes.map { $0.reduce(0, +) / Double(hw) }),
            y2PixelMean: MeanEstimate(y2Times.map { $0.reduce(0, +) / Double(hw) }))
    }
}
