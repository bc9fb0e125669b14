import Foundation
import XCTest
import GSLKit
@testable import DiffusionPhysics

/// Collapse measurements (Docs/Theory.md §3.3–3.4). The closed form vs Brent root, the t_C tables, the
/// spectrum reductions and λ_c(t_C) = 1 are covered by TheoryTests.
final class CollapseTests: XCTestCase {
    private func gaussianScore(d: Int, n: Int, seed: UInt64 = 1) throws -> (EmpiricalScore, Dataset, CollapsePredictions) {
        let spec = DatasetSpec.gaussian(d: d, n: n, sigma: 1)
        let data = try spec.load(seed: seed)
        return (try EmpiricalScore(data), data, try CollapsePredictions(spec: spec, data: data))
    }

    /// Per-sample planted values (common-noise fast path) against the straightforward per-time
    /// evaluation on the same draws: equal means up to rounding.
    func testPlantedSamplesMatchForwardSampling() throws {
        let (score, _, _) = try gaussianScore(d: 12, n: 150)
        let times = [0.2, 0.6, 1.5]
        let reference = try ForwardReference.estimate(score: score, times: times, samples: 300, origins: .planted, seed: 7)
        let m = CollapseMeasurement(score: score, threads: 2)
        for (t, e) in zip(times, reference) {
            let s = try m.plantedSamples(t: t, samples: 300, seed: 7)
            XCTAssertEqual(MeanEstimate(s.y2).mean, e.y2.mean, accuracy: 1e-9)
            XCTAssertEqual(MeanEstimate(s.wOrigin).mean, e.wOrigin!.mean, accuracy: 1e-9)
            XCTAssertEqual(MeanEstimate(s.argmaxIsOrigin).mean, e.argmaxIsOrigin!.mean, accuracy: 0)
            XCTAssertEqual(MeanEstimate(s.logWOrigin.map { -$0 / 12 }).mean, e.excessEntropy!.mean, accuracy: 1e-9)
        }
    }

    /// Exact identities of the planted ensemble (Docs/Theory.md §3.3): E[Y2] = E[w_μ0] and
    /// P(argmax = μ0) = E[max w], tested paired on the same samples (SE of the per-sample difference);
    /// limits E[Y2] → 1 well below t_C and → 1/n (n E[Y2] − 1 = O(d e^{−2t})) well above; f^e ≥ 0 per
    /// sample, f^e → α at large t; the bootstrap interval brackets the mean.
    func testPlantedIdentitiesAndLimits() throws {
        let d = 32, n = 400
        let (score, _, pred) = try gaussianScore(d: d, n: n)
        let tC = pred.tCGaussian!
        let m = CollapseMeasurement(score: score, threads: 2)
        let times = [0.15 * tC, 0.8 * tC, tC, 1.25 * tC, 6.0]
        let curve = try m.curve(times: times, samples: 3000, seed: 3, predictions: pred)
        for p in curve {
            let diff = p.y2MinusWOrigin
            assertWithinSE(diff.mean, 0, se: max(diff.standardError, 1e-15), k: 4, "E[Y2 − w_μ0] at t = \(p.t)")
            let s = try m.plantedSamples(t: p.t, samples: 3000, seed: 3)
            let pd = MeanEstimate(zip(s.argmaxIsOrigin, s.maxWeight).map { $0 - $1 })
            assertWithinSE(pd.mean, 0, se: max(pd.standardError, 1e-15), k: 4, "P(argmax = μ0) − E[max w] at t = \(p.t)")
            XCTAssertTrue(s.logWOrigin.allSatisfy { $0 <= 0 }, "f^e per sample ≥ 0")
            XCTAssertGreaterThanOrEqual(p.fe.mean, 0)
            XCTAssertLessThanOrEqual(p.feInterval.lower, p.fe.mean)
            XCTAssertGreaterThanOrEqual(p.feInterval.upper, p.fe.mean)
        }
        XCTAssertGreaterThan(curve[0].y2.mean, 0.999, "E[Y2] → 1 well below t_C")
        XCTAssertLessThan(curve[0].fe.mean, 1e-3 * pred.alpha, "f^e → 0 well below t_C")
        // Crossover: E[Y2] decreasing through ½ around t_C.
        XCTAssertGreaterThan(curve[1].y2.mean, 0.5)
        XCTAssertLessThan(curve[3].y2.mean, 0.5)
        // t = 6: Y2 ≥ 1/n always (Cauchy–Schwarz); the excess is O(d e^{−2t}) ≈ 2e−4.
        let top = curve[4]
        XCTAssertGreaterThanOrEqual(top.y2.mean * Double(n), 1 - 1e-12)
        XCTAssertLessThan(top.y2.mean * Double(n), 1.01, "n E[Y2] at t = 6")
        // f^e(6) → α: the asymptotic f(6) = α − ½ log1p(1/expm1(12)) differs from α by 3e−6.
        let f6 = CollapseTheory.excessEntropy(t: 6, alpha: pred.alpha)
        assertWithinSE(top.fe.mean, f6, se: top.fe.standardError + 1e-4 * pred.alpha, k: 4, "f^e(6) vs α")
    }

    /// Gaussian data, d = 64…256, n up to 2·10⁴: the measured E[Y2] = ½ time lies near eq. 10.
    /// Tolerance from the finite-d crossover window (Docs/Theory.md §3.3/§6): ln(Z_{2..n}/Z_1) = d f(t) +
    /// O(√d), so |f(t)| ≲ 1/√d, i.e. Δt ~ 1/(√d f'(t_C)), with f'(t_C) = e^{2t}σ²/(u(u + σ²)),
    /// u = e^{2t_C} − 1 (= expm1(2α) for σ = 1). We require |t^{Y2} − t_C| ≤ ¼ of that window plus 4 SE.
    func testY2HalfTimeNearClosedForm() throws {
        for (d, n) in [(64, 2000), (128, 8000), (256, 20000)] {
            let (score, _, pred) = try gaussianScore(d: d, n: n)
            let tC = pred.tCGaussian!
            let times = [-0.02, 0.03, 0.08, 0.14].map { tC + $0 }
            let curve = try CollapseMeasurement(score: score, threads: 2).curve(times: times, samples: 300, seed: 11)
            guard let cross = MeasuredCollapseTimes(curve: curve, alpha: pred.alpha).y2 else {
                XCTFail("E[Y2] = ½ not bracketed for d = \(d), n = \(n): \(curve.map(\.y2.mean))"); continue
            }
            let fPrime = 1 / expm1(2 * tC)   // σ = 1: f'(t) = 1/(e^{2t} − 1)
            XCTAssertEqual(fPrime, expm1(2 * pred.alpha), accuracy: 1e-10)
            let window = 1 / (Double(d).squareRoot() * fPrime)
            let shift = cross.t - tC
            print("CollapseTests: d = \(d), n = \(n): t_C = \(tC), t^{Y2} = \(cross.t) ± \(cross.standardError), shift = \(shift), window 1/(√d f') = \(window), d f' shift = \(Double(d) * fPrime * shift)")
            XCTAssertLessThanOrEqual(abs(shift), 0.25 * window + 4 * cross.standardError, "d = \(d), n = \(n)")
        }
    }

    /// hat t_C of hand-made paths (Docs/Theory.md §3.4 M2).
    func testCollapseTimeOfPath() {
        let times = [5.0, 4, 3, 2, 1, 0.5]
        XCTAssertEqual(TrajectoryCollapse.collapseTime(path: [3, 3, 5, 5, 2, 2], end: 2, times: times), 1)
        XCTAssertEqual(TrajectoryCollapse.collapseTime(path: [7, 7, 7, 7, 7, 7], end: 7, times: times), 5)
        XCTAssertEqual(TrajectoryCollapse.collapseTime(path: [1, 2, 1, 2, 1, 2], end: 2, times: times), 0.5)
        XCTAssertEqual(TrajectoryCollapse.collapseTime(path: [1, 2, 2, 2, 2, 2], end: 3, times: times), 0)
    }

    /// Trajectories: P(hat t_C ≥ t) ≤ C(t) at every grid time (exact, pathwise), and the commitment
    /// C(t) = P(μ*(t) = μ_end) equals the forward P(argmax w = μ0) = E[max w] (both are
    /// E[w_argmax(x_t)] when x_t ~ P_t^e and μ_end | x_t ~ Categorical(w)) within the SEs.
    func testTrajectoryCommitmentAndSurvival() throws {
        let (score, _, pred) = try gaussianScore(d: 16, n: 100)
        let tc = TrajectoryCollapse(score: score, horizon: 6, tMin: 1e-3, steps: 150, threads: 2)
        let r = try tc.run(trajectories: 1500, seed: 5)
        for k in r.times.indices {
            XCTAssertLessThanOrEqual(r.survival[k], r.commitment[k].mean + 1e-15, "P(hat t_C ≥ t) ≤ C(t) at t = \(r.times[k])")
        }
        XCTAssertEqual(r.histogram.counts.reduce(0, +), 1500)
        XCTAssertEqual(r.mean.mean, r.collapseTimes.reduce(0, +) / 1500, accuracy: 1e-12)
        let m = CollapseMeasurement(score: score, threads: 2)
        var checked = 0
        for k in r.times.indices where r.times[k] > 0.5 * pred.tCGaussian! && r.times[k] < 2 * pred.tCGaussian! && k % 8 == 0 {
            let s = try m.plantedSamples(t: r.times[k], samples: 3000, seed: 9)
            let fwd = MeanEstimate(s.maxWeight)
            let c = r.commitment[k]
            let se = (c.standardError * c.standardError + fwd.standardError * fwd.standardError).squareRoot()
            assertWithinSE(c.mean, fwd.mean, se: max(se, 1e-3), k: 4, "C(t) vs E[max w] at t = \(r.times[k])")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 2)
        // Endpoints: the draw is a training point (f_mem = 1, d₁ = 0); x(t_min) lies within √(dΔ) of one.
        let draw = r.memorization.first { $0.samples == "posterior draw" }!
        XCTAssertEqual(draw.fraction.mean, 1)
        XCTAssertEqual(draw.nearestDistance.mean, 0, accuracy: 1e-12)
        print("CollapseTests: trajectory bar hat t_C = \(r.mean.mean) ± \(r.mean.standardError), eq. 10 t_C = \(pred.tCGaussian!)")
    }

    /// Clones: φ_C(t) = P(two clones from x_t end on the same training point) = planted E[Y2] exactly
    /// (Docs/Theory.md §3.3); compared within the combined SEs (the SDE discretisation bias is far below them).
    func testClonesMatchPlantedY2() throws {
        let (score, _, pred) = try gaussianScore(d: 16, n: 100)
        let tC = pred.tCGaussian!
        let times = [0.6 * tC, tC, 1.5 * tC]
        let clones = try CloningExperiment(model: score, horizon: 6, tMin: 1e-3, steps: 100, threads: 2)
            .run(branchTimes: times, pairs: 800, seed: 21)
        let curve = try CollapseMeasurement(score: score, threads: 2).curve(times: times, samples: 3000, seed: 22)
        for (c, p) in zip(clones, curve) {
            XCTAssertEqual(c.t, p.t)
            let se = (c.sameComponent.standardError * c.sameComponent.standardError + p.y2.standardError * p.y2.standardError).squareRoot()
            assertWithinSE(c.sameComponent.mean, p.y2.mean, se: max(se, 1e-3), k: 4, "φ_C vs E[Y2] at t = \(c.t)")
        }
    }

    /// Gap ratio: samples on training points are memorised (r ≈ 0), midpoints between two close
    /// points are not (r = 1).
    func testMemorizationFraction() throws {
        let points = Matrix(rowArrays: [[0.0, 0], [1, 0], [0, 5], [10, 10]])
        let onPoints = Matrix(rowArrays: [[0.01, 0], [0, 5.02], [10, 9.9]])
        let m = MemorizationFraction.measure(onPoints, points: points, label: "test")
        XCTAssertEqual(m.fraction.mean, 1)
        XCTAssertEqual(m.nearestDistance.mean, (0.01 + 0.02 + 0.1) / 3, accuracy: 1e-12)
        let between = Matrix(rowArrays: [[0.5, 0], [0.5, 0.1]])
        let b = MemorizationFraction.measure(between, points: points, label: "test")
        XCTAssertEqual(b.fraction.mean, 0)
        XCTAssertEqual(b.gapRatio.mean, 1, accuracy: 1e-12)
    }

    /// Non-planted ensemble well below t_C: fresh points still condense (E[Y2] > 0) but less than
    /// planted ones; above t_C both are small. (The REM value 1 − λ_c is the d → ∞ limit.)
    func testNonPlantedBelowPlanted() throws {
        let spec = DatasetSpec.gaussian(d: 32, n: 300, sigma: 1)
        let all = try spec.population!.sample(n: 800, seed: 1)
        let data = try spec.load(seed: 1)
        XCTAssertEqual(all.points.rows(0..<300), data.points, "training points are streams 0..<n")
        let fresh = all.points.rows(300..<800)
        let pred = try CollapsePredictions(spec: spec, data: data)
        let curve = try CollapseMeasurement(score: try EmpiricalScore(data), threads: 2)
            .curve(times: [0.3 * pred.tCGaussian!, 2 * pred.tCGaussian!], samples: 1500, seed: 2, fresh: fresh, predictions: pred)
        let below = curve[0]
        XCTAssertGreaterThan(below.y2NonPlanted!.mean, 0.3)
        XCTAssertLessThan(below.y2NonPlanted!.mean, below.y2.mean)
        XCTAssertEqual(curve[1].y2Rem, 0)
        XCTAssertGreaterThan(below.y2Rem!, 0)
    }

    // MARK: memorisation map

    private func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("collapse-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// An interrupted sweep (injected stop after 5 rows, then a half-written line as a kill mid-write
    /// leaves it) resumes to the same file as an uninterrupted run.
    func testMapResumesToIdenticalFile() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let map = try MemorizationMap(spec: .gaussian(d: 8, n: 10, sigma: 1), ns: [20, 60], ds: [4, 8],
                                      times: [0.1, 0.4, 1.2], samples: 60, seed: 3, threads: 2)
        let full = dir.appendingPathComponent("full.csv").path
        let rowsFull = try map.run(csvPath: full)
        XCTAssertEqual(rowsFull.count, 12)
        let part = dir.appendingPathComponent("part.csv").path
        let first = try map.run(csvPath: part, stopAfter: 5)
        XCTAssertEqual(first.count, 5)
        let h = FileHandle(forWritingAtPath: part)!
        h.seekToEndOfFile()
        h.write(Data("60,4,0.23,0.4,0.9".utf8))
        try h.close()
        let second = try map.run(csvPath: part, stopAfter: 3)
        XCTAssertEqual(second.count, 8)
        let rows = try map.run(csvPath: part)
        XCTAssertEqual(rows, rowsFull)
        XCTAssertEqual(try String(contentsOfFile: part, encoding: .utf8), try String(contentsOfFile: full, encoding: .utf8))
        // A finished sweep recomputes nothing and returns the same rows.
        XCTAssertEqual(try map.run(csvPath: part, stopAfter: 0), rowsFull)
        // Resuming with other options is refused.
        let other = try MemorizationMap(spec: .gaussian(d: 8, n: 10, sigma: 1), ns: [20, 60], ds: [4, 8],
                                        times: [0.1, 0.4, 1.2], samples: 61, seed: 3, threads: 2)
        XCTAssertThrowsError(try other.run(csvPath: part))
        // Thresholds: one per cell, predictions = eq. 10 of the cell.
        let th = MemorizationMap.thresholds(rows)
        XCTAssertEqual(th.count, 4)
        for x in th { XCTAssertEqual(x.tCGaussian!, CollapseTheory.tCGaussian(n: Double(x.n), d: Double(x.d)), accuracy: 1e-12) }
    }

    func testMapRejectsBadGrids() {
        XCTAssertThrowsError(try MemorizationMap(spec: .gaussian(d: 8, n: 10, sigma: 1), ns: [1], times: [0.1], samples: 10, seed: 1))
        XCTAssertThrowsError(try MemorizationMap(spec: .gaussian(d: 8, n: 10, sigma: 1), ns: [10], times: [0], samples: 10, seed: 1))
        XCTAssertThrowsError(try MemorizationMap(spec: .digits(classes: [0, 1], perClass: nil, centering: .scalarMean), ns: [10], ds: [4],
                                                 times: [0.1], samples: 10, seed: 1))
    }
}
