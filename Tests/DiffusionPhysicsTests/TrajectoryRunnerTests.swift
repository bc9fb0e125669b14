import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// The model protocol (`NoiseModel`, `NoiseLevel`), the trajectory runner, `SDESettings` and `StreamPlan`.
final class TrajectoryRunnerTests: XCTestCase {
    // MARK: model protocol

    /// Docs/Theory.md §0: σ² = e^{2t} − 1 and t = ½ ln(1 + σ²) invert each other; states map by eᵗ.
    func testNoiseLevelConversions() throws {
        for t in [1e-4, 0.3, 2.0, 7.5] {
            let (sigma, c) = NoiseLevel.time(t).converted(to: .sigma)
            assertClose(sigma.value, (exp(2 * t) - 1).squareRoot(), relative: 1e-12, "σ(t = \(t))")
            assertClose(c, exp(t), relative: 1e-15)
            let (back, c2) = sigma.converted(to: .time)
            assertClose(back.value, t, relative: 1e-12, "t(σ(t))")
            assertClose(c * c2, 1, relative: 1e-12)
            assertClose(NoiseLevel.time(t).logSigma, log(sigma.value), relative: 1e-12)
        }
        XCTAssertThrowsError(try NoiseLevel.sigma(0).validate())
        XCTAssertThrowsError(try NoiseLevel.time(.nan).validate())
    }

    /// The empirical score evaluated at a σ level (states y = x eᵗ) reproduces the Docs/Theory.md §1.3 test
    /// vector: data {(1,0), (−1,0), (0,2)}, x = (0.3, −0.2), t = 0.5.
    func testEmpiricalScoreAtSigmaLevel() throws {
        let model = try EmpiricalScore(points: Matrix(rowArrays: [[1, 0], [-1, 0], [0, 2]]))
        let t = 0.5, x = [0.3, -0.2]
        let level = NoiseLevel.sigma(expm1(2 * t).squareRoot())
        let y = Matrix(rows: 1, columns: 2, storage: x.map { $0 * exp(t) })
        let ws = model.makeWorkspace(capacity: 1)
        try model.evaluate(y, rows: 1, at: level, workspace: ws, outputs: .mean)
        let delta = -expm1(-2 * t)
        let score = (0..<2).map { (exp(-t) * ws.mean[0, $0] - x[$0]) / delta }
        assertWithin(score[0], -0.2380798014, 1e-9, "F_1")
        assertWithin(score[1], 0.5470121634, 1e-9, "F_2")
        assertWithin(ws.logDensity[0], -2.0095830089298143, 1e-9, "ln P_t")
        XCTAssertEqual(model.nativeNoise, .time)
    }

    /// PFGM++ at D = ∞ is the diffusion posterior: at a time level it equals the empirical score's
    /// weights and mean (Docs/PoissonFlow.md §3.6), through the VE conversion.
    func testPoissonFlowAtTimeLevelIsDiffusion() throws {
        let y = PoissonFlowTests.y2
        let pf = try PoissonFlowModel(points: y, D: .infinity), score = try EmpiricalScore(points: y)
        let x = Matrix(rowArrays: [[0.3, -0.2], [1.5, 0.4], [-0.7, -0.1]])
        for t in [0.05, 0.4, 1.3] {
            let a = pf.makeWorkspace(capacity: 3), b = score.makeWorkspace(capacity: 3)
            try pf.evaluate(x, rows: 3, at: .time(t), workspace: a, outputs: .mean)
            try score.evaluate(x, rows: 3, t: t, workspace: b, outputs: .mean)
            for i in 0..<(3 * y.rows) { assertWithin(a.weights.storage[i], b.weights.storage[i], 1e-12, "w at t = \(t)") }
            for i in 0..<6 { assertWithin(a.mean.storage[i], b.mean.storage[i], 1e-12, "m̂ at t = \(t)") }
        }
        XCTAssertEqual(pf.nativeNoise, .sigma)
        XCTAssertEqual(pf.componentCount, y.rows)
    }

    /// Yukawa through the protocol: the published weights (Docs/PoissonFlow.md §7.4, m = 1.5, z = 0.5,
    /// x = (0.3, −0.2)) and ln q_z against the single-point density 2 e^{mz} E_z.
    func testYukawaConformance() throws {
        let model = try YukawaFlowModel(points: PoissonFlowTests.y2, mass: 1.5)
        let x = Matrix(rowArrays: [[0.3, -0.2], [0.9, 0.1]])
        let ws = model.makeWorkspace(capacity: 2)
        try model.evaluate(x, rows: 2, at: .sigma(0.5), workspace: ws, outputs: .mean)
        let w: [Double] = [0.14871797, 0.02484362, 0.07666782, 0.09617093, 0.65359966]
        for i in 0..<5 { assertWithin(ws.weights[0, i], w[i], 1e-8, "w\(i)") }
        for r in 0..<2 {
            let point = try model.evaluate(at: x.row(r), z: 0.5)
            assertClose(ws.logDensity[r], log(point.density), relative: 1e-10, "ln q_z row \(r)")
        }
    }

    // MARK: runner

    /// One training point a: the VE flow is dy/d ln σ = y − a, so y(σ) − a = (σ/σ₀)(y₀ − a) exactly.
    /// The adaptive stepper on a σ schedule with snapshots, for a σ-native (PFGM++ D = ∞) and a
    /// time-native (empirical score, converted) model.
    func testAdaptiveStepperOnSigmaSchedule() throws {
        let a = [1.5, -0.5]
        let points = Matrix(rows: 1, columns: 2, storage: a)
        let start = Matrix(rowArrays: [[30.0, -12], [-5, 8]])
        let sigmas = [40.0, 3, 0.2, 1e-3]
        func check<M: NoiseModel>(_ model: M) throws {
            let run = try TrajectoryRunner(model: model, stepper: .adaptive(relativeTolerance: 1e-12, absoluteTolerance: 1e-12), threads: 1)
                .run(schedule: sigmas.map { .sigma($0) }, start: .states(start), seed: 0,
                     recording: RecordingOptions([.states, .maxWeight], at: [1, 2]))
            XCTAssertEqual(run.snapshots.map(\.level), [.sigma(3), .sigma(0.2)])
            for (k, sigma) in [(1, 3.0), (2, 0.2)] {
                let snap = run.snapshots[k - 1]
                XCTAssertEqual(snap.maxWeight, [1, 1])
                for i in 0..<2 { for j in 0..<2 {
                    assertWithin(snap.states[i, j], a[j] + sigma / 40 * (start[i, j] - a[j]), 1e-8, "\(M.self) y(σ = \(sigma))")
                } }
            }
            for i in 0..<2 { for j in 0..<2 {
                assertWithin(run.finalStates[i, j], a[j] + 1e-3 / 40 * (start[i, j] - a[j]), 1e-9, "\(M.self) y(σ_min)")
            } }
        }
        try check(try PoissonFlowModel(points: points, D: .infinity))
        try check(try EmpiricalScore(points: points))
    }

    /// Heun on a σ schedule (the EDM stepper), through the time-native empirical score, follows the same solution.
    func testHeunStepperOnSigmaSchedule() throws {
        let a = [0.5, 2.0]
        let model = try EmpiricalScore(points: Matrix(rows: 1, columns: 2, storage: a))
        let sigmas = (0...400).map { 10 * pow(1e-3, Double($0) / 400) }
        let start = Matrix(rowArrays: [[7.0, -3]])
        let run = try TrajectoryRunner(model: model, stepper: .heun, threads: 1)
            .run(schedule: sigmas.map { .sigma($0) }, start: .states(start), seed: 0, finalStep: .posteriorMean)
        for j in 0..<2 {
            // Heun is exact for this linear flow: the Euler predictor already lands on the solution.
            let exact = 1e-3 * (start[0, j] - a[j])
            assertWithin(run.finalStates[0, j] - a[j], exact, 1e-9 * abs(start[0, j] - a[j]), "Heun y(σ_min) − a")
            assertWithin(run.samples[0, j], a[j], 1e-12, "denoised sample")
        }
    }

    /// The SDE façade is the runner: recording at every level gives BackwardSDE's argmax path, and
    /// recorded class probabilities are distributions with w_max ≤ 1.
    func testRecordingMatchesSDEFacade() throws {
        let rng = RandomStream(seed: 3)
        let points = Matrix(rows: 20, columns: 3, storage: (0..<60).map { _ in 2 * rng.gaussian() })
        let model = try EmpiricalScore(points: points, labels: (0..<20).map { $0 % 2 })
        let grid = try TimeGrid.geometric(from: 4, to: 1e-2, steps: 30)
        let sde = try BackwardSDE(model: model, threads: 2, chunkSize: 8).run(grid: grid, start: .prior(count: 25), seed: 4, recording: .argmax)
        let run = try TrajectoryRunner(model: model, stepper: .exactOU, threads: 1, chunkSize: 8)
            .run(schedule: grid.times.map { .time($0) }, start: .prior(count: 25), seed: 4,
                 recording: RecordingOptions([.argmax, .maxWeight, .classProbabilities]), finalStep: .posteriorDraw)
        XCTAssertEqual(run.samples, sde.samples)
        XCTAssertEqual(run.snapshots.count, grid.times.count)
        for (k, snap) in run.snapshots.enumerated() {
            XCTAssertEqual(snap.argmax, sde.argmaxPath.map { $0[k] })
            for i in 0..<25 {
                assertWithin(snap.classProbabilities[i, 0] + snap.classProbabilities[i, 1], 1, 1e-12)
                XCTAssertLessThanOrEqual(snap.maxWeight[i], 1 + 1e-15)
            }
        }
    }

    func testRunnerRejectsBadSchedules() throws {
        let model = try EmpiricalScore(points: Matrix(rowArrays: [[0.0, 1], [1, 0]]))
        func run(_ stepper: TrajectoryStepper, _ schedule: [NoiseLevel]) throws {
            _ = try TrajectoryRunner(model: model, stepper: stepper, threads: 1).run(schedule: schedule, start: .prior(count: 2), seed: 1)
        }
        XCTAssertThrowsError(try run(.exactOU, [.sigma(2), .sigma(1)]))        // SDE needs times
        XCTAssertThrowsError(try run(.heun, [.time(2), .time(1)]))             // Heun needs σ
        XCTAssertThrowsError(try run(.adaptive(), [.time(2), .sigma(1)]))      // mixed kinds
        XCTAssertThrowsError(try run(.exactOU, [.time(1), .time(2)]))          // increasing
        XCTAssertThrowsError(try run(.exactOU, [.time(1)]))                    // one level
        do { try run(.exactOU, [.time(1), .time(0)]) } catch let e as ModelError { XCTAssertEqual(e.parameter, "t") }
    }

    // MARK: settings

    /// One set of defaults: T = 6, t_min = 10⁻³, 400 hybrid-grid exact-OU steps; errors name parameters.
    func testSDESettingsDefaults() throws {
        let s = SDESettings()
        XCTAssertNil(s.horizon)
        XCTAssertEqual(s.resolvedHorizon(), 6)
        XCTAssertEqual(s.tMin, 1e-3)
        XCTAssertEqual(s.steps, 400)
        XCTAssertEqual(s.grid, .hybrid)
        XCTAssertEqual(s.scheme, .exactOU)
        let model = try EmpiricalScore(points: Matrix(rowArrays: [[0.0, 1], [1, 0]]))
        XCTAssertEqual(CloningExperiment(model: model).settings, s)
        XCTAssertEqual(UTurnExperiment(model: model).settings, s)
        XCTAssertEqual(TrajectoryCollapse(score: model).settings, SDESettings(horizon: 6))
        XCTAssertEqual(try SDESettings(steps: 10).timeGrid().times.count, 11)
        let uniform = try SDESettings(horizon: 2, steps: 4, grid: .uniform).timeGrid().times
        for (a, b) in zip(uniform, [2, 1.50025, 1.0005, 0.50075, 0.001]) { assertWithin(a, b, 1e-12) }
        for (bad, parameter) in [(SDESettings(tMin: 0), "t_min"), (SDESettings(steps: 0), "steps"), (SDESettings(horizon: 1e-4), "T")] {
            XCTAssertThrowsError(try bad.validate()) { XCTAssertEqual(($0 as? ModelError)?.parameter, parameter) }
        }
    }

    // MARK: stream plan

    /// Every purpose owns its own id range: ranges of one domain never intersect, grids of
    /// items × slots stay inside their range, and plain runs keep streams 0, 1, 2, ….
    func testStreamPlanRangesAreDisjoint() throws {
        XCTAssertTrue(StreamPlan.overlappingPurposes().isEmpty)
        let all = StreamPurpose.allCases
        for (i, a) in all.enumerated() {
            for b in all[(i + 1)...] where a.domain == b.domain {
                let ra = StreamPlan.range(a), rb = StreamPlan.range(b)
                XCTAssert(ra.upperBound <= rb.lowerBound || rb.upperBound <= ra.lowerBound, "\(a) and \(b) overlap")
            }
        }
        var seen = Set<UInt64>()
        for p in all where p.domain == .trajectory {
            for k in 0..<3 {
                let ids = try StreamPlan.ids(p, count: 50, stride: 3, offset: k).ids
                XCTAssert(ids.allSatisfy(StreamPlan.range(p).contains))
                for id in ids { XCTAssertTrue(seen.insert(id).inserted, "stream \(id) used twice") }
            }
        }
        XCTAssertEqual(try StreamPlan.ids(.trajectory, count: 5).ids, StreamIDs.sequential(5).ids)
        XCTAssertThrowsError(try StreamPlan.id(.cloneA, StreamPlan.capacity))
        XCTAssertThrowsError(try StreamPlan.ids(.cloneTrunk, count: 1 << 40, stride: 1 << 20))
        XCTAssertThrowsError(try StreamPlan.ids(.cloneTrunk, count: 4, stride: 2, offset: 2))
        // U-turn origins keep their documented stream (seed, i, .uTurn).
        let a = try StreamPlan.stream(.uTurnOrigin, 7, seed: 9).gaussian()
        XCTAssertEqual(a, RandomStream(seed: 9, stream: 7, domain: .uTurn).gaussian())
    }
}
