import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// The claim measurements of Docs/PoissonFlow.md §11 against independent numbers.
final class PFGMClaimsTests: XCTestCase {
    static let y2 = PoissonFlowTests.y2

    /// Brute force: ln k_i = −((N+D)/2) log1p(d²/(Dσ²)) (or −d²/(2σ²)), softmax, m, V = Σ w |y − m|² — written out here.
    func bruteForceVariance(_ Y: Matrix<Double>, _ x: [Double], sigma: Double, D: Double) -> Double {
        let n = Y.rows, N = Y.columns
        let lk = (0..<n).map { i -> Double in
            let d2 = (0..<N).reduce(0.0) { $0 + (x[$1] - Y[i, $1]) * (x[$1] - Y[i, $1]) }
            return D.isInfinite ? -d2 / (2 * sigma * sigma) : -0.5 * (Double(N) + D) * log1p(d2 / (D * sigma * sigma))
        }
        let top = lk.max()!
        let e = lk.map { exp($0 - top) }, z = e.reduce(0, +)
        let w = e.map { $0 / z }
        let m = (0..<N).map { j in (0..<n).reduce(0.0) { $0 + w[$1] * Y[$1, j] } }
        return (0..<n).reduce(0.0) { acc, i in acc + w[i] * (0..<N).reduce(0.0) { $0 + (Y[i, $1] - m[$1]) * (Y[i, $1] - m[$1]) } }
    }

    func testPosteriorVarianceAgainstBruteForceAndDiffusionEngine() throws {
        // Independent python values at the §7.1 point (N = 2, x = (0.3, −0.2), σ = 0.5).
        let python: [Double: Double] = [1: 0.35717546748603113, 16: 0.3842718883442994, .infinity: 0.3824099000240292]
        for (D, v) in python {
            let model = try PoissonFlowModel(points: Self.y2, D: D)
            XCTAssertEqual(try model.posteriorVariance(at: [0.3, -0.2], sigma: 0.5), v, accuracy: 1e-12, "D = \(D)")
            XCTAssertEqual(try model.evaluate(at: [0.3, -0.2], sigma: 0.5).posteriorVariance, v, accuracy: 1e-12, "D = \(D)")
        }
        // N = 16 points, several D and σ, against the brute force.
        let Y = PoissonFlowTests.makeY(16)
        let x = (0..<16).map { 0.5 * (Y[0, $0] + Y[1, $0]) + 0.1 * sin(Double($0)) }
        for D in [1.0, 2.5, 4, 128, 1e5, .infinity] {
            let model = try PoissonFlowModel(points: Y, D: D)
            for s in [0.3, 1.0, 3.0] {
                let want = bruteForceVariance(Y, x, sigma: s, D: D)
                XCTAssertEqual(try model.posteriorVariance(at: x, sigma: s), want, accuracy: 1e-11 * max(1, want), "D = \(D) σ = \(s)")
            }
        }
        // D = ∞: the diffusion engine's own posterior (EmpiricalScore → EmpiricalPosterior, Gaussian kernel) gives the same V.
        let engine = try EmpiricalScore(points: Y).posterior
        let ws = PosteriorWorkspace(capacity: 1, dimension: 16, components: 5, classes: 0)
        engine.evaluate(Matrix(rows: 1, columns: 16, storage: x), rows: 1, scale: 1, sigma2: 1, workspace: ws, outputs: .mean)
        var v = 0.0
        for mu in 0..<5 { for j in 0..<16 { let e = Y[mu, j] - ws.mean[0, j]; v += ws.weights[0, mu] * e * e } }
        XCTAssertEqual(try PoissonFlowModel(points: Y, D: .infinity).posteriorVariance(at: x, sigma: 1), v, accuracy: 1e-13)
        // Large D converges to it.
        XCTAssertEqual(try PoissonFlowModel(points: Y, D: 1e8).posteriorVariance(at: x, sigma: 1), v, accuracy: 1e-6)
    }

    func testTrainabilityTargetMomentMatchesClosedForm() throws {
        let data = try DatasetSpec.parse("gmm2:d=4,n=30,mtilde=1,sigma=0.5").load(seed: 3)
        for D in [Double.infinity, 16] {
            let rep = try PoissonFlowClaims.trainability(model: try PoissonFlowModel(data, D: D), nodes: 6, samples: 3000, seed: 5, threads: 2)
            for q in rep.points {
                XCTAssertEqual(q.targetMomentSample.mean, q.targetMoment, accuracy: 4.5 * q.targetMomentSample.standardError, "D = \(D) σ = \(q.sigma)")
                // E|F_t|² = E|F*|² + λ E V exactly per sample set: learnable + irreducible ≤ target within MC error.
                XCTAssertEqual(q.learnable.mean + q.weightedIrreducibleLoss.mean, q.targetMomentSample.mean,
                               accuracy: 4.5 * q.targetMomentSample.standardError + 1e-9)
                XCTAssertGreaterThanOrEqual(q.irreducibleLoss.mean, 0)
            }
            XCTAssertTrue(rep.lossVarianceFinite)
        }
        let heavy = try PoissonFlowClaims.trainability(model: try PoissonFlowModel(data, D: 2), nodes: 4, samples: 50, seed: 5, threads: 1)
        XCTAssertEqual(heavy.integratedTarget, .infinity)
        XCTAssertFalse(heavy.lossVarianceFinite)
    }

    func testZeroPerturbationIsBitIdenticalAndPerturbedRunsAreThreadIndependent() throws {
        let data = try DatasetSpec.parse("gmm2:d=3,n=12,mtilde=1,sigma=1").load(seed: 2)
        for D in [2.0, .infinity] {
            let model = try PoissonFlowModel(data, D: D)
            func run(_ p: HeunPerturbation?, threads: Int, chunk: Int) throws -> PoissonFlowRun {
                try PoissonFlowSampler(model: model, integrator: .heunEDM(steps: 7), threads: threads, chunkSize: chunk)
                    .run(sigmaMax: 80, sigmaMin: 0.002, start: .prior(count: 9), seed: 11, perturbation: p)
            }
            // (Bits may depend on the chunk size — batched BLAS — never on the thread count.)
            let plain = try run(nil, threads: 1, chunk: 2)
            let zero = try run(HeunPerturbation(noiseInjection: 0, denoiserError: 0), threads: 2, chunk: 2)
            XCTAssertEqual(plain.samples.storage, zero.samples.storage, "D = \(D): α = ε = 0 must be the unperturbed run")
            XCTAssertEqual(plain.finalStates.storage, zero.finalStates.storage)
            for p in [HeunPerturbation(noiseInjection: 0.2), HeunPerturbation(denoiserError: 0.1), HeunPerturbation(noiseInjection: 0.1, denoiserError: 0.05)] {
                let a = try run(p, threads: 1, chunk: 2), b = try run(p, threads: 2, chunk: 2)
                XCTAssertEqual(a.samples.storage, b.samples.storage, "D = \(D) \(p): thread count changed the result")
                XCTAssertNotEqual(a.samples.storage, plain.samples.storage, "D = \(D) \(p): the perturbation did nothing")
            }
            // The denoiser error of the last step moves each output by exactly ε |m̂| from the exact denoiser of its state.
            let eps = 0.1
            let pert = try run(HeunPerturbation(denoiserError: eps), threads: 1, chunk: 9)
            let ws = model.makeWorkspace(capacity: 9)
            try model.evaluate(pert.finalStates, rows: 9, sigma: 0.002, workspace: ws, outputs: .mean)
            for r in 0..<9 {
                let m = ws.mean.row(r), out = pert.samples.row(r)
                let shift = zip(out, m).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
                XCTAssertEqual(shift, eps * m.reduce(0.0) { $0 + $1 * $1 }.squareRoot(), accuracy: 1e-12)
            }
        }
        XCTAssertThrowsError(try PoissonFlowSampler(model: try PoissonFlowModel(data, D: 4))
            .run(sigmaMax: 80, sigmaMin: 0.01, start: .prior(count: 2), seed: 1, perturbation: HeunPerturbation(noiseInjection: 0.1)))
        XCTAssertThrowsError(try PoissonFlowSampler(model: try PoissonFlowModel(data, D: 4), integrator: .heunEDM(steps: 5))
            .run(sigmaMax: 80, sigmaMin: 0.01, start: .prior(count: 2), seed: 1, perturbation: HeunPerturbation(noiseInjection: -1)))
    }

    func testEnergyDistanceNullAndShift() {
        func gaussian(_ rows: Int, shift: Double, stream: UInt64) -> Matrix<Double> {
            let rng = RandomStream(seed: 77, stream: stream)
            var m = Matrix<Double>(rows: rows, columns: 3)
            for k in 0..<m.storage.count { m.storage[k] = rng.gaussian() + (k % 3 == 0 ? shift : 0) }
            return m
        }
        var nullZ: [Double] = []
        for s in 0..<6 {
            let e = PoissonFlowClaims.energyDistance(gaussian(150, shift: 0, stream: 2 * UInt64(s)), gaussian(150, shift: 0, stream: 2 * UInt64(s) + 1), bootstrap: 100, seed: 1)
            XCTAssertLessThan(abs(e.value), 3.5 * e.stderr, "same law, replicate \(s)")
            nullZ.append(e.value / e.stderr)
        }
        let shifted = PoissonFlowClaims.energyDistance(gaussian(200, shift: 0, stream: 20), gaussian(200, shift: 1.2, stream: 21), bootstrap: 100, seed: 1)
        XCTAssertGreaterThan(shifted.value, 4 * shifted.stderr)
        // The U-statistic is unbiased: its mean over null replicates is within their spread of 0.
        XCTAssertLessThan(abs(nullZ.reduce(0, +) / Double(nullZ.count)), 2.5)
    }

    func testClockAverageReducesToDiffusionAsDGrows() throws {
        // A smooth collapse-like curve C(σ) = 1/(1 + (σ/0.5)^4) on a log grid.
        let grid = PoissonFlowAnalysis.levels(from: 50, to: 1e-3, count: 400)
        let curve = grid.map { 1 / (1 + pow($0 / 0.5, 4)) }
        let Y = PoissonFlowTests.makeY(16)
        var previous = Double.infinity
        for D in [4.0, 64, 1024, 65536] {
            let kappas = try PoissonFlowClaims.kappaDraws(model: try PoissonFlowModel(points: Y, D: D), count: 3000, seed: 9)
            let dev = [0.1, 0.3, 0.5, 0.8, 2].map { s in
                abs(PoissonFlowClaims.clockAverage(sigmas: grid, values: curve, kappas: kappas, at: s) - 1 / (1 + pow(s / 0.5, 4)))
            }.max()!
            XCTAssertLessThan(dev, previous, "D = \(D)")
            previous = dev
            if D == 4 { XCTAssertGreaterThan(dev, 0.05, "the clock matters at small D") }
        }
        XCTAssertLessThan(previous, 5e-3, "E_κ C(κσ) → C(σ) as D → ∞")
        XCTAssertEqual(try PoissonFlowClaims.kappaDraws(model: try PoissonFlowModel(points: Y, D: .infinity), count: 5, seed: 1), [1, 1, 1, 1, 1])
    }

    func testSamplingCostCountsEvaluations() throws {
        let data = try DatasetSpec.parse("gmm2:d=2,n=8,mtilde=1,sigma=1").load(seed: 4)
        let rows = try PoissonFlowClaims.samplingCost(model: try PoissonFlowModel(data, D: 4), count: 4, tolerances: [1e-3, 1e-8], heunSteps: [5],
                                                      referenceTolerance: 1e-11, seed: 2, threads: 2)
        let heun = rows.first { $0.method == "heun" }!
        XCTAssertEqual(heun.evaluations.mean, 9)   // 2 per Heun step (4 steps) + the evaluation at σ_min
        XCTAssertEqual(heun.evaluations.standardError, 0)
        let loose = rows[0], tight = rows[1]
        XCTAssertGreaterThan(tight.evaluations.mean, loose.evaluations.mean)
        XCTAssertLessThan(tight.endpointError.mean, 1e-5)
        XCTAssertEqual(PoissonFlowClaims.evaluationsForAccuracy(rows, accuracy: 1e-5)?.mean, tight.evaluations.mean)
    }

    func testYukawaLogWeightsAtSmallMassArePFGMs() throws {
        let yukawa = try YukawaFlowModel(points: Self.y2, mass: 1e-6)
        let lw = try yukawa.logWeights(at: [0.3, -0.2], z: 0.5)
        let pfgm = try PoissonFlowModel(points: Self.y2, D: 1).evaluate(at: [0.3, -0.2], sigma: 0.5).weights
        for i in 0..<5 { XCTAssertEqual(lw[i], log(pfgm[i]), accuracy: 1e-8) }
        // At m = 1.5 the §7.4 weights.
        let w15 = [0.14871797, 0.02484362, 0.07666782, 0.09617093, 0.65359966]
        let l15 = try YukawaFlowModel(points: Self.y2, mass: 1.5).logWeights(at: [0.3, -0.2], z: 0.5)
        for i in 0..<5 { XCTAssertEqual(exp(l15[i]), w15[i], accuracy: 1e-8) }
        // Collapse fraction on the plane z: m → 0 equals PFGM's (D = 1, σ = r = z) within the binomial errors of independent draws.
        let zs = [5, 0.8, 0.3, 0.05]
        let c = try yukawa.collapseCurve(zs: zs, samples: 400, seed: 3)
        let p = try PoissonFlowAnalysis.marginalCurves(model: try PoissonFlowModel(points: Self.y2, D: 1), sigmas: zs, samples: 400, seed: 4, threads: 1)
        for (a, b) in zip(c.points, p.points) {
            let se = (a.collapseFraction.standardError * a.collapseFraction.standardError + b.collapseFraction.standardError * b.collapseFraction.standardError).squareRoot()
            XCTAssertEqual(a.collapseFraction.mean, b.collapseFraction.mean, accuracy: 4 * se + 0.01, "z = \(a.z)")
        }
        XCTAssertLessThan(c.points[0].collapseFraction.mean, c.points[3].collapseFraction.mean)
    }
}
