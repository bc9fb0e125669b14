import Foundation
import XCTest
import GSLKit
@testable import DiffusionPhysics

/// `diffphys analyze` on arrays (issue 14, Docs/YourData.md): exports of the toolkit's own
/// exact-score runs, written as .npy from Swift, reproduce the built-in measurements; the time
/// maps are exact; f_mem is 1 for exact-score endpoints and ≈ 0 for fresh data; bad files fail in
/// one line.
final class AnalyzeTests: XCTestCase {
    var tmp = ""

    override func setUpWithError() throws {
        tmp = NSTemporaryDirectory() + "/AnalyzeTests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: tmp) }

    func path(_ name: String) -> String { tmp + "/" + name }

    /// Two blobs, d = 16, n = 120 (labelled).
    func blobs() throws -> Dataset { try DatasetSpec.parse("gmm2:d=16,n=120,mtilde=1,sigma=1").load(seed: 2) }

    // MARK: time conventions (Docs/Theory.md §0)

    func testTimeMapsAreExact() throws {
        // The DDPM table of Docs/Theory.md §0 (L = 1000, β linear 1e-4 → 2e-2, k 0-based), 6 decimals.
        let table: [(Double, Double)] = [(0, 0.000050), (49, 0.014706), (99, 0.054340), (199, 0.208487), (299, 0.462641),
                                         (399, 0.817003), (499, 1.271773), (599, 1.827154), (699, 2.483349), (799, 3.240561),
                                         (899, 4.098995), (999, 5.058857)]
        let steps = TimeMap(.ddpmSteps)
        for (k, t) in table { XCTAssertEqual(try steps.time(k), t, accuracy: 5e-7, "k = \(k)") }
        // ᾱ_k → t = −½ ln ᾱ_k agrees with the step map; σ_VE(t) = √(e^{2t} − 1) maps back to t.
        let schedule = DDPMSchedule()
        for k in [0, 17, 500, 999] {
            let alphaBar = exp(schedule.logAlphaBar(step: k))
            XCTAssertEqual(try TimeMap(.ddpmAlphaBar).time(alphaBar), try steps.time(Double(k)), accuracy: 1e-14)
        }
        for t in [1e-6, 0.01, 0.5, 2, 7] {
            XCTAssertEqual(try TimeMap(.ve).time(expm1(2 * t).squareRoot()), t, accuracy: 1e-14 * max(1, t))
            XCTAssertEqual(try TimeMap(.ddpmAlphaBar).time(exp(-2 * t)), t, accuracy: 1e-14 * max(1, t))
            XCTAssertEqual(try TimeMap(.vp).time(t), t)
            XCTAssertEqual(TimeMap(.ve).stateScale(t: t), 1 / (1 + expm1(2 * t)).squareRoot(), accuracy: 1e-15)
        }
        XCTAssertEqual(try TimeMap(.ve).time(0), 0)
        XCTAssertEqual(try TimeMap(.ddpmAlphaBar).time(1), 0)
        // Out of domain: one line each.
        for (map, u) in [(TimeMap(.ddpmSteps), 1000.0), (TimeMap(.ddpmSteps), 3.5), (TimeMap(.ddpmAlphaBar), 1.5),
                         (TimeMap(.ddpmAlphaBar), 0), (TimeMap(.ve), -1), (TimeMap(.vp), .nan)] {
            XCTAssertThrowsError(try map.time(u)) { XCTAssertFalse("\($0)".contains("\n")) }
        }
    }

    // MARK: trajectories: export of a built-in run reproduces TrajectoryCollapse

    func testExportedTrajectoriesReproduceTrajectoryCollapse() throws {
        let data = try blobs()
        let score = try EmpiricalScore(data)
        let settings = SDESettings(horizon: 5, tMin: 1e-3, steps: 60)
        let B = 64, seed: UInt64 = 7
        let builtIn = try TrajectoryCollapse(score: score, settings: settings, threads: 1).run(trajectories: B, seed: seed)
        // The same run (same streams), recording the states as a user's sampler would export them.
        let grid = try settings.timeGrid()
        let run = try BackwardSDE(model: score, scheme: settings.scheme, finalStep: .posteriorDraw, threads: 1)
            .run(grid: grid, start: .prior(count: B), seed: seed, recording: [.argmax, .states])
        let K = grid.times.count
        XCTAssertEqual(run.statePath.count, B)
        XCTAssertEqual(run.statePath[0].count, K)
        try NPYLoader.write(values: run.statePath.flatMap { $0.flatMap { $0 } }, shape: [B, K, data.d], to: path("traj.npy"))
        try NPYLoader.write(values: grid.times, shape: [K], to: path("times.npy"))
        try run.samples.writeNPY(to: path("ends.npy"))

        let times = try TimeMap(.vp).times(try ExternalArrays.times(path("times.npy")))
        let states = try ExternalArrays.trajectories(path: path("traj.npy"), timeCount: times.count, dimension: data.d)
        let ends = try ExternalArrays.samples(path: path("ends.npy"), dimension: data.d)
        let a = try TrajectoryAnalysis.run(states: states, times: times, data: data, endpoints: ends, seed: seed)
        XCTAssertEqual(a.nearestPath, run.argmaxPath, "nearest scaled point = argmax of the posterior weights")
        XCTAssertEqual(a.ends, run.finalComponents)
        XCTAssertEqual(a.collapseTimes, builtIn.collapseTimes)
        XCTAssertEqual(a.mean, builtIn.mean)
        XCTAssertEqual(a.median, builtIn.median)
        XCTAssertEqual(a.commitment, builtIn.commitment)
        XCTAssertEqual(a.histogram, builtIn.histogram)
        // Endpoints are posterior draws (training points): f_mem = 1 exactly, as the built-in says.
        XCTAssertEqual(a.memorization.fraction.mean, 1)
        XCTAssertEqual(builtIn.memorization.first { $0.samples == "posterior draw" }?.fraction.mean, 1)
        // Times given in increasing order are reordered to the generation order.
        var reversed = states
        for b in 0..<B { for k in 0..<K {
            for j in 0..<data.d { reversed.values[(b * K + k) * data.d + j] = states.values[(b * K + (K - 1 - k)) * data.d + j] }
        } }
        let r = try TrajectoryAnalysis.run(states: reversed, times: times.reversed(), data: data, endpoints: ends, seed: seed)
        XCTAssertEqual(r.collapseTimes, a.collapseTimes)
        // Class commitment is 1 at t_min and ≤ 1 − (commitment deficit) never below C(t).
        let cc = try XCTUnwrap(a.classCommitment)
        XCTAssertEqual(cc.last?.mean, 1)
        for k in 0..<K { XCTAssertGreaterThanOrEqual(cc[k].mean, a.commitment[k].mean) }
    }

    // MARK: clones: export reproduces CloningExperiment

    func testExportedClonesReproduceCloningExperiment() throws {
        let data = try blobs()
        let score = try EmpiricalScore(data)
        let settings = SDESettings(horizon: 5, tMin: 1e-3, steps: 50)
        let P = 60, seed: UInt64 = 11
        let branch = [0.3, 0.8, 1.4, 2.2]
        let builtIn = try CloningExperiment(model: score, settings: settings, threads: 1).run(branchTimes: branch, pairs: P, seed: seed)
        // The protocol of CloningExperiment (same grid, same streams), keeping the clones' endpoints.
        let grid = try settings.timeGrid()
        let times = branch.sorted(by: >), K = times.count
        var state: SamplerStart = .prior(count: P)
        var segmentStart = settings.resolvedHorizon()
        var endpoints = [[Double]](repeating: [], count: K)
        for (k, t) in times.enumerated() {
            let trunkGrid = try TimeGrid(times: [segmentStart] + grid.times.filter { $0 < segmentStart && $0 > t } + [t])
            let trunk = try BackwardSDE(model: score, scheme: settings.scheme, finalStep: .none, threads: 1)
                .run(grid: trunkGrid, start: state, seed: seed, streams: try StreamPlan.ids(.cloneTrunk, count: P, stride: K, offset: k))
            state = .states(trunk.lastStates)
            let sde = BackwardSDE(model: score, scheme: settings.scheme, finalStep: .posteriorDraw, threads: 1)
            let a = try sde.run(grid: try grid.continuing(from: t), start: state, seed: seed,
                                streams: try StreamPlan.ids(.cloneA, count: P, stride: K, offset: k))
            let b = try sde.run(grid: try grid.continuing(from: t), start: state, seed: seed,
                                streams: try StreamPlan.ids(.cloneB, count: P, stride: K, offset: k))
            for p in 0..<P { endpoints[k] += a.samples.row(p) + b.samples.row(p) }
            segmentStart = t
        }
        try NPYLoader.write(values: endpoints.flatMap { $0 }, shape: [K, P, 2, data.d], to: path("clones.npy"))
        try NPYLoader.write(values: times, shape: [K], to: path("branch.npy"))
        let t = try ExternalArrays.times(path("branch.npy"))
        let clones = try ExternalArrays.clones(path: path("clones.npy"), timeCount: t.count, dimension: data.d)
        let analysis = try CloneAnalysis.run(clones: clones, times: t, data: data)
        XCTAssertEqual(analysis.points.map(\.t), builtIn.map(\.t))
        XCTAssertEqual(analysis.points.map(\.sameClass), builtIn.map(\.sameClass))
        XCTAssertEqual(analysis.points.map(\.sameComponent), builtIn.map(\.sameComponent))
        // Crossings are LevelCrossing on those curves.
        let phi = builtIn.map { $0.sameClass! }
        XCTAssertEqual(analysis.phiCrossing, LevelCrossing.find(times: builtIn.map(\.t), values: phi.map(\.mean),
                                                                errors: phi.map(\.standardError), level: 0.775))
        // Supplied endpoint labels override the nearest-point classes: all one class → φ = 1.
        let same = try CloneAnalysis.run(clones: clones, times: t, data: data, endpointLabels: Array(repeating: 3, count: K * P * 2))
        XCTAssertTrue(same.points.allSatisfy { $0.sameClass?.mean == 1 })
    }

    // MARK: samples: f_mem

    func testMemorisedFractionOfExactScoreAndFreshSamples() throws {
        let data = try blobs()
        let score = try EmpiricalScore(data)
        let settings = SDESettings(horizon: 5, tMin: 1e-4, steps: 80)
        let run = try BackwardSDE(model: score, scheme: settings.scheme, finalStep: .posteriorDraw, threads: 1)
            .run(grid: try settings.timeGrid(), start: .prior(count: 100), seed: 3)
        // Exact-score x(t_min) at t_min = 1e-4, compared as x e^{t_min} (as `analyze samples --end-time` does): f_mem = 1.
        try run.lastStates.writeNPY(to: path("xmin.npy"))
        let xmin = try ExternalArrays.samples(path: path("xmin.npy"), dimension: data.d)
        let memorised = SampleAnalysis.run(samples: xmin, data: data, scale: exp(1e-4), seed: 1)
        XCTAssertEqual(memorised.memorization.fraction.mean, 1)
        XCTAssertEqual(memorised.neighbours.map(\.nearest), run.finalComponents, "nearest point = the posterior draw")
        XCTAssertEqual(memorised.nearestClassCounts?.values.reduce(0, +), 100)
        // Fresh samples of the data law (streams n..<n+B of the same spec): f_mem ≈ 0. For d = 16 the
        // gap ratio of an independent point concentrates near 1; P(r < 1/3) is below 10⁻³, so 0 of
        // 200 is expected and 2 (1 %) would already be a 3σ excess over 0.001.
        let law = try XCTUnwrap(DatasetSpec.parse("gmm2:d=16,n=120,mtilde=1,sigma=1").population)
        let fresh = try law.sample(n: data.n + 200, seed: 2).points.rows(data.n..<(data.n + 200))
        let novel = SampleAnalysis.run(samples: fresh, data: data, seed: 1)
        XCTAssertLessThanOrEqual(novel.memorization.fraction.mean, 0.01)
        XCTAssertGreaterThan(novel.memorization.gapRatio.mean, 0.6)
    }

    // MARK: bad files

    func testBadFilesGiveOneLineErrors() throws {
        let d = 4
        try NPYLoader.write(values: Array(repeating: 0.5, count: 2 * 3 * d), shape: [2, 3, d], to: path("traj.npy"))
        try NPYLoader.write(values: Array(repeating: 0.5, count: 2 * 5), shape: [2, 5], to: path("wide.npy"))
        try NPYLoader.write(values: [0.5, .nan, 1, 2], shape: [1, 4], to: path("nan.npy"))
        try NPYLoader.write(values: Array(repeating: 0.5, count: 3 * 2 * 2 * d), shape: [3, 2, 2, d], to: path("clones.npy"))
        let cases: [(String, () throws -> Any)] = [
            ("samples with wrong d", { try ExternalArrays.samples(path: self.path("wide.npy"), dimension: d) }),
            ("samples 1-D", { try ExternalArrays.samples(path: self.path("times.npy"), dimension: d) }),
            ("NaN", { try ExternalArrays.samples(path: self.path("nan.npy"), dimension: d) }),
            ("trajectories K ≠ times", { try ExternalArrays.trajectories(path: self.path("traj.npy"), timeCount: 4, dimension: d) }),
            ("trajectories given B × d", { try ExternalArrays.trajectories(path: self.path("wide.npy"), timeCount: 5, dimension: 1) }),
            ("trajectories wrong d", { try ExternalArrays.trajectories(path: self.path("traj.npy"), timeCount: 3, dimension: 5) }),
            ("clones K ≠ times", { try ExternalArrays.clones(path: self.path("clones.npy"), timeCount: 2, dimension: d) }),
            ("clones not pairs", { try ExternalArrays.clones(path: self.path("traj.npy"), timeCount: 2, dimension: d) }),
            ("missing file", { try ExternalArrays.samples(path: self.path("none.npy"), dimension: d) }),
            ("bad times list", { try ExternalArrays.times("0.1,x") }),
        ]
        try NPYLoader.write(values: [1, 2, 3], shape: [3], to: path("times.npy"))
        for (name, body) in cases {
            XCTAssertThrowsError(try body(), name) { e in
                XCTAssertTrue(e is DataError, "\(name): \(type(of: e))")
                XCTAssertFalse("\(e)".contains("\n"), "\(name): \(e)")
            }
        }
        XCTAssertThrowsError(try ExternalArrays.samples(path: path("nan.npy"), dimension: d)) { e in
            XCTAssertTrue("\(e)".contains("[0, 1]"), "NaN located by its numpy index: \(e)")
        }
        XCTAssertThrowsError(try ExternalArrays.trajectories(path: path("traj.npy"), timeCount: 4, dimension: d)) { e in
            XCTAssertTrue("\(e)".contains("K = 3") && "\(e)".contains("4 times"), "\(e)")
        }
        XCTAssertEqual(try ExternalArrays.times("0.1, 0.5,2"), [0.1, 0.5, 2])
    }
}
