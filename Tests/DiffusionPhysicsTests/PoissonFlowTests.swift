import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// Exact-empirical PFGM / PFGM++ against Docs/PoissonFlow.md §7 and §9.
final class PoissonFlowTests: XCTestCase {
    /// §7 `Y2` (N = 2, n = 5).
    static let y2 = Matrix(rowArrays: [[1, 0], [-0.5, 0.8], [-0.3, -0.9], [0.6, 0.6], [0, -0.2]])
    /// §7 `Y16`: y_i[k] = cos(0.7 (i+1)(k+1) + 0.3 i).
    static func makeY(_ N: Int) -> Matrix<Double> {
        var rows: [[Double]] = []
        for i in 0..<5 {
            var row: [Double] = []
            for k in 0..<N {
                let phase: Double = 0.7 * Double((i + 1) * (k + 1)) + 0.3 * Double(i)
                row.append(cos(phase))
            }
            rows.append(row)
        }
        return Matrix(rowArrays: rows)
    }
    let x71 = [0.3, -0.2]

    func testSection71WeightsDenoiserVelocity() throws {
        let table: [(Double, [Double], [Double], [Double])] = [
            (1, [0.1653697693, 0.0438435103, 0.0987436091, 0.1174245518, 0.5746185595], [0.1842796625, -0.0982634208], [0.231440675, -0.2034731584]),
            (2, [0.1797690192, 0.0416448931, 0.1046457901, 0.1260605146, 0.547879783], [0.2031891444, -0.0948049445], [0.1936217113, -0.210390111]),
            (16, [0.205497195, 0.0285876055, 0.1111767743, 0.139296258, 0.5154421672], [0.2414281148, -0.0966996911], [0.1171437704, -0.2066006179]),
            (128, [0.211103252, 0.0238407478, 0.1117274106, 0.1417322533, 0.5115963363], [0.2507040069, -0.0987619865], [0.0985919862, -0.2024760269]),
            (1e6, [0.2119935855, 0.023024554, 0.111782666, 0.1421035796, 0.5110956149], [0.2522086565, -0.0991417314], [0.0955826871, -0.2017165372]),
            (.infinity, [0.2119937011, 0.023024447, 0.1117826726, 0.1421036275, 0.5110955518], [0.2522088524, -0.0991417816], [0.0955822952, -0.2017164368]),
        ]
        for (D, w, m, v) in table {
            let e = try PoissonFlowModel(points: Self.y2, D: D).evaluate(at: x71, sigma: 0.5)
            for i in 0..<5 { assertWithin(e.weights[i], w[i], 2e-10, "D=\(D) w\(i)") }
            for j in 0..<2 {
                assertWithin(e.denoiser[j], m[j], 2e-10, "D=\(D) m\(j)")
                assertWithin(e.velocity[j], v[j], 2e-9, "D=\(D) v\(j)")
            }
        }
        // §9.1: D = 1e6 within 4e-7 of D = ∞.
        let a = try PoissonFlowModel(points: Self.y2, D: 1e6).evaluate(at: x71, sigma: 0.5)
        let b = try PoissonFlowModel(points: Self.y2, D: .infinity).evaluate(at: x71, sigma: 0.5)
        for j in 0..<2 { XCTAssertLessThan(abs(a.velocity[j] - b.velocity[j]), 4e-7) }
    }

    /// D = ∞ uses the diffusion engine: the same weights as `EmpiricalScore` at t with x e^{−t}.
    func testInfiniteDIsTheDiffusionPosterior() throws {
        let model = try PoissonFlowModel(points: Self.y2, D: .infinity)
        XCTAssertTrue(model.posterior.kernel == .gaussian)
        let sigma = 0.5, t = 0.5 * log1p(sigma * sigma)
        let e = try model.evaluate(at: x71, sigma: sigma)
        let diff = try EmpiricalScore(points: Self.y2).evaluate(at: x71.map { $0 * exp(-t) }, t: t)
        for i in 0..<5 { assertWithin(e.weights[i], diff.weights[i], 1e-14, "w\(i)") }
    }

    func testRawFieldAndIdentity() throws {
        let table: [(Double, [Double], Double)] = [
            (1, [0.2031616179, -0.1786113701], 0.877812933545),
            (2, [0.1015230732, -0.1103153696], 0.741524832504),
            (4, [0.0233022172, -0.0308284041], 0.291362266516),
        ]
        for (D, ex, er) in table {
            let model = try PoissonFlowModel(points: Self.y2, D: D)
            let f = try model.rawField(at: x71, sigma: 0.5)
            assertWithin(f.er, er, 1e-11, "D=\(D) E_r")
            for j in 0..<2 { assertWithin(f.ex[j], ex[j], 1e-10, "D=\(D) E_x\(j)") }
            // Direct sum over charges (independent of the log-sum-exp path).
            let r = 0.5 * D.squareRoot()
            var direct = [0.0, 0.0, 0.0]
            for i in 0..<5 {
                let u0: Double = x71[0] - Self.y2[i, 0], u1: Double = x71[1] - Self.y2[i, 1]
                let d2: Double = u0 * u0 + u1 * u1
                let k: Double = pow(d2 + r * r, -(2 + D) / 2) / 5
                direct[0] += k * (x71[0] - Self.y2[i, 0]); direct[1] += k * (x71[1] - Self.y2[i, 1]); direct[2] += k * r
            }
            assertWithin(f.er, direct[2], 1e-13, "direct E_r")
            let v = try model.evaluate(at: x71, sigma: 0.5).velocity
            for j in 0..<2 { assertWithin(D.squareRoot() * f.ex[j] / f.er, v[j], 1e-12, "√D E_x/E_r") }
        }
        assertWithin((4.0).squareRoot() * 0.0233022172 / 0.291362266516, 0.1599535693, 1e-9)
        XCTAssertThrowsError(try PoissonFlowModel(points: Self.y2, D: .infinity).rawField(at: x71, sigma: 0.5))
    }

    func testLogDensityAndTrueScore() throws {
        let densities: [(Double, Double)] = [(1.0, -1.968198834200), (16, -1.598545928559), (128, -1.573357148015), (.infinity, -1.569821901367)]
        for (D, lp) in densities {
            assertWithin(try PoissonFlowModel(points: Self.y2, D: D).logDensity(at: x71, sigma: 0.5), lp, 1e-10, "ln p D=\(D)")
        }
        let scores: [(Double, [Double], [Double])] = [(1.0, [-1.185238702, 0.2958601927], [-0.46288135, 0.4069463167]),
                                                      (16, [-0.2704843786, 0.3897888599], [-0.2342875408, 0.4132012357])]
        for (D, score, notScore) in scores {
            let model = try PoissonFlowModel(points: Self.y2, D: D)
            let e = try model.evaluate(at: x71, sigma: 0.5)
            for j in 0..<2 {
                assertWithin(e.score[j], score[j], 1e-9, "score D=\(D)")
                assertWithin(-e.velocity[j] / 0.5, notScore[j], 1e-9, "−v/σ D=\(D)")
                // Finite difference of the normalised log density.
                var xp = x71, xm = x71
                xp[j] += 1e-5; xm[j] -= 1e-5
                let fd = (try model.logDensity(at: xp, sigma: 0.5) - model.logDensity(at: xm, sigma: 0.5)) / 2e-5
                assertWithin(e.score[j], fd, 1e-8, "FD score D=\(D)")
            }
        }
    }

    /// §7.1, N = 16: x = (y0 + y1)/2, σ = 1.
    func testSixteenDimensionalMidpoint() throws {
        let y = Self.makeY(16)
        let x = (0..<16).map { 0.5 * (y[0, $0] + y[1, $0]) }
        let table: [(Double, Double, Double)] = [(1.0, 0.49959499456, 0.001884378999), (16, 0.4957937473, 0.019356764099),
                                                 (128, 0.4883355037, 0.053352875851), (1e6, 0.4855914468, 0.065817734130),
                                                 (.infinity, 0.485591035, 0.065819603786)]
        for (D, w, dist) in table {
            let e = try PoissonFlowModel(points: y, D: D).evaluate(at: x, sigma: 1)
            assertWithin(e.weights[0], w, 1e-9, "D=\(D) w0")
            assertWithin(e.weights[1], w, 1e-9, "D=\(D) w1")
            let d = zip(x, e.denoiser).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            assertWithin(d, dist, 1e-10, "D=\(D) |x − m|")
        }
    }

    /// §7.2: ∂_r p + div(p v) = 0 kernel by kernel, by finite differences.
    func testContinuityEquation() throws {
        for D in [1, 3.5, 16] {
            let res = try PoissonFlowModel(points: Self.y2, D: D).continuityResidual(at: x71, r: 0.7)
            XCTAssertLessThan(abs(res), 1e-9, "D = \(D)")
        }
        // A wrong velocity must fail the same check: (x − m)/r replaced by (x − m)/(2r) leaves a residual.
        let model = try PoissonFlowModel(points: Self.y2, D: 1)
        let e = try model.evaluate(at: x71, sigma: 0.7)
        XCTAssertGreaterThan(sqrt(e.velocity.map { $0 * $0 }.reduce(0, +)), 1e-3)
    }

    func testWarningsAndBadInput() throws {
        XCTAssertEqual(PoissonFlowModel.warnings(D: 0.5).count, 2)
        XCTAssertEqual(PoissonFlowModel.warnings(D: 2).count, 1)
        XCTAssertEqual(PoissonFlowModel.warnings(D: 2.5).count, 0)
        XCTAssertThrowsError(try PoissonFlowModel(points: Self.y2, D: 0))
        XCTAssertThrowsError(try PoissonFlowModel(points: Self.y2, D: -1))
        XCTAssertThrowsError(try PoissonFlowModel(points: Self.y2, D: .nan))
        XCTAssertThrowsError(try PoissonFlowModel(points: Self.y2, D: 1).evaluate(at: [1], sigma: 1))
        XCTAssertThrowsError(try PoissonFlowModel(points: Self.y2, D: 1).evaluate(at: x71, sigma: 0))
    }

    /// §3.2: both radius samplers against I_{t/(1+t)}(N/2, D/2) (KS), and the exact median 3 at N = 2, D = 1.
    func testRadiusSamplers() throws {
        assertWithin(try PoissonFlowModel.radiusCDF(3, N: 2, D: 1), 0.5, 1e-14, "median N=2 D=1")
        assertWithin(try PoissonFlowModel.radiusCDF(1.7, N: 2, D: 1), 1 - pow(2.7, -0.5), 1e-14, "closed form")
        let m = 4000
        let cases: [(Int, Double)] = [(2, 1.0), (16, 4), (16, 128), (3, 0.7)]
        for (N, D) in cases {
            let y = Matrix<Double>(rows: 1, columns: N)
            let model = try PoissonFlowModel(points: y, D: D)
            let sigma = 1.3, r2 = sigma * sigma * D
            for method in PoissonFlowNoise.allCases {
                let draws = try model.samplePrior(sigma: sigma, count: m, seed: 7, method: method, domain: .poissonPrior).points
                let t = (0..<m).map { i in draws.rowSlice(i).map { $0 * $0 }.reduce(0, +) / r2 }
                let ks = try KolmogorovSmirnov(t) { try PoissonFlowModel.radiusCDF($0, N: N, D: D) }
                XCTAssertGreaterThan(ks.pValue, 1e-3, "N=\(N) D=\(D) \(method): KS \(ks.statistic)")
                if N == 2, D == 1 {
                    let median = t.sorted()[m / 2]
                    let f = try PoissonFlowModel.radiusCDF(median, N: N, D: D)
                    assertWithinSE(f, 0.5, se: 0.5 / Double(m).squareRoot(), "CDF(median)")
                    assertWithinSE(median, 3, se: 8 / Double(m).squareRoot(), "median")
                }
            }
            // A wrong law must be rejected: the Gaussian radius at the same σ.
            if D <= 4 {
                let g = try PoissonFlowModel(points: y, D: .infinity).samplePrior(sigma: sigma, count: m, seed: 7, domain: .poissonPrior).points
                let t = (0..<m).map { i in g.rowSlice(i).map { $0 * $0 }.reduce(0, +) / r2 }
                XCTAssertLessThan(try KolmogorovSmirnov(t) { try PoissonFlowModel.radiusCDF($0, N: N, D: D) }.pValue, 1e-3)
            }
        }
    }

    func testEDMSchedule() {
        let grid = PoissonFlowIntegrator.edmSchedule(sigmaMax: 80, sigmaMin: 0.002, steps: 18)
        let expected: [Double] = [80, 57.585985, 40.785574, 28.374585, 19.352453, 12.910082, 8.400935, 5.315195, 3.256822,
                        1.92334, 1.088171, 0.585348, 0.296442, 0.139516, 0.059947, 0.022935, 0.007528, 0.002]
        for (a, b) in zip(grid, expected) { assertClose(a, b, relative: 1e-6) }
    }

    /// D = ∞ is the diffusion sampler (identical), and the generic log-σ path agrees with it.
    func testInfiniteDIsTheDiffusionSampler() throws {
        let model = try PoissonFlowModel(points: Self.y2, D: .infinity)
        let sampler = PoissonFlowSampler(model: model, threads: 1)
        let run = try sampler.run(sigmaMax: 80, sigmaMin: 1e-3, start: .prior(count: 6), seed: 3)
        let T = 0.5 * log1p(6400.0), tMin = 0.5 * log1p(1e-6)
        var x0 = run.starts
        for j in 0..<x0.storage.count { x0.storage[j] *= exp(-T) }
        let diff = try ProbabilityFlowODE(model: try EmpiricalScore(points: Self.y2), absoluteTolerance: 1e-10, relativeTolerance: 1e-10, threads: 1)
            .run(from: T, to: tMin, start: .states(x0), seed: 3, finalStep: .posteriorMean)
        XCTAssertEqual(run.samples, diff.samples)
        // The generic path (forced by a snapshot) integrates the same ODE in x, ln σ.
        let generic = try sampler.run(sigmaMax: 80, sigmaMin: 1e-3, start: .prior(count: 6), seed: 3, recordSigmas: [1])
        for j in 0..<run.finalStates.storage.count { assertWithin(generic.finalStates.storage[j], run.finalStates.storage[j], 1e-7) }
    }

    /// §3.6 / §7.3: the whole trajectory converges to diffusion as 1/D.
    func testLargeDConvergesAsOneOverD() throws {
        let start = Matrix(rowArrays: [[40.0, -70]])
        let levels = (0..<40).map { 80 * pow(1e-3 / 80, Double($0) / 39) }
        func path(_ D: Double) throws -> [Double] {
            let s = PoissonFlowSampler(model: try PoissonFlowModel(points: Self.y2, D: D),
                                       integrator: .adaptive(relativeTolerance: 1e-12, absoluteTolerance: 1e-12), threads: 1)
            let run = try s.run(sigmaMax: 80, sigmaMin: 1e-3, start: .states(start), seed: 0, recordSigmas: levels)
            return run.snapshots.flatMap { $0.states.storage }
        }
        let ref = try path(.infinity)
        let dev = try [1e4, 1e6].map { D in zip(try path(D), ref).map { abs($0 - $1) }.max()! }
        let c4 = dev[0] * 1e4, c6 = dev[1] * 1e6
        XCTAssertGreaterThan(dev[0], 1e-7)
        XCTAssertEqual(c6 / c4, 1, accuracy: 0.05, "D·max|Δx|: \(c4) at 1e4, \(c6) at 1e6")
    }

    /// §8.1: exact-empirical PFGM++ ends on training point i with frequency 1/n, for several D.
    func testEndpointsUniformOnTrainingPoints() throws {
        let y = Self.makeY(16)
        let m = 300
        for D in [1.0, 4, 128] {
            let sampler = PoissonFlowSampler(model: try PoissonFlowModel(points: y, D: D),
                                             integrator: .adaptive(relativeTolerance: 1e-8, absoluteTolerance: 1e-8))
            // σ_min small: at D = 1 a power-law fraction ~ (σ/σ_c)^D is still uncollapsed at σ = 1e-3 (§3.8).
            let run = try sampler.run(sigmaMax: 80, sigmaMin: 1e-8, start: .prior(count: m), seed: 11)
            var counts = [Int](repeating: 0, count: 5)
            for i in 0..<m {
                var d2 = 0.0
                for k in 0..<16 { let u = run.samples[i, k] - y[run.components[i], k]; d2 += u * u }
                let d = d2.squareRoot()
                XCTAssertLessThan(d, 1e-6, "D=\(D): sample \(i) not on a training point")
                counts[run.components[i]] += 1
            }
            for c in counts {
                assertWithinSE(Double(c) / Double(m), 0.2, se: (0.2 * 0.8 / Double(m)).squareRoot(), k: 4, "D=\(D) counts \(counts)")
            }
        }
    }

    /// Heun/EDM (35 NFE) ends on the same training points as the adaptive integrator (N = 2, D = 1: §3.8).
    func testHeunMatchesAdaptiveEndpoints() throws {
        let model = try PoissonFlowModel(points: Self.y2, D: 4)
        let a = try PoissonFlowSampler(model: model, threads: 1).run(sigmaMax: 80, sigmaMin: 0.002, start: .prior(count: 40), seed: 5)
        let h = try PoissonFlowSampler(model: model, integrator: .heunEDM(), threads: 1)
            .run(sigmaMax: 80, sigmaMin: 0.002, start: .prior(count: 40), seed: 5)
        XCTAssertEqual(a.starts, h.starts)
        let agree = zip(a.components, h.components).filter { $0 == $1 }.count
        XCTAssertGreaterThanOrEqual(agree, 36, "Heun and adaptive end points agree on \(agree)/40")
        let undenoised = try PoissonFlowSampler(model: model, integrator: .heunEDM(), threads: 1)
            .run(sigmaMax: 80, sigmaMin: 0.002, start: .prior(count: 40), seed: 5, denoise: false)
        XCTAssertEqual(undenoised.samples, undenoised.finalStates)
    }

    /// The ODE transports the marginals exactly (§8.2): C_D(σ) from ODE snapshots equals the ODE-free estimate.
    func testCollapseFractionODEMatchesMarginal() throws {
        let model = try PoissonFlowModel(points: Self.makeY(16), D: 4)
        let sigmas: [Double] = [2, 1, 0.5]
        let marginal = try PoissonFlowAnalysis.marginalCurves(model: model, sigmas: sigmas, samples: 2000, seed: 1)
        let run = try PoissonFlowSampler(model: model, integrator: .adaptive(relativeTolerance: 1e-8, absoluteTolerance: 1e-8))
            .run(sigmaMax: 80, sigmaMin: 0.1, start: .prior(count: 300), seed: 2, recordSigmas: sigmas)
        var spread = 0.0
        for (k, p) in marginal.points.enumerated() {
            let ode = MeanEstimate.proportion(successes: run.snapshots[k].maxWeight.filter { $0 >= 0.99 }.count, trials: 300)
            let se = (ode.standardError * ode.standardError + p.collapseFraction.standardError * p.collapseFraction.standardError).squareRoot()
            assertWithinSE(ode.mean, p.collapseFraction.mean, se: max(se, 1e-3), k: 4, "C_D(\(p.sigma))")
            spread = max(spread, p.collapseFraction.mean) - min(spread, p.collapseFraction.mean)
        }
        // The levels straddle the collapse: the check is not trivially 0 = 0 or 1 = 1.
        XCTAssertGreaterThan(marginal.points[2].collapseFraction.mean - marginal.points[0].collapseFraction.mean, 0.3)
        XCTAssertNotNil(marginal.sigmaCollapseHalf)
    }

    /// §8.3: a PFGM++ path is the diffusion path from the same start on the clock κσ (N = 16, D = 1: κ spreads widely).
    func testRandomClock() throws {
        let report = try PoissonFlowAnalysis.randomClock(points: Self.makeY(16), D: 1, count: 16, sigmaMin: 0.01, seed: 3)
        let withClock = try XCTUnwrap(report.deviationWithClock.median), without = try XCTUnwrap(report.deviationWithoutClock.median)
        XCTAssertLessThan(withClock, 0.04, "median max deviation on the κ clock, in units of d_min")
        XCTAssertLessThan(withClock, 0.3 * without, "clock \(withClock) vs no clock \(without)")
        XCTAssertGreaterThan(report.sameEndpoint.mean, 0.8)
    }
}
