import XCTest
import GSLKit
@testable import DiffusionPhysics

/// Per-pixel collapse times of the local machines (Docs/LocalScores.md §7 "Per-pixel collapse times"):
/// the per-pixel-time engine against the machine itself, the forward crossings against the exact
/// engine (`ForwardEnsemble`) on the full image and on explicit patch data sets with the same draws,
/// grid independence of the solved roots, the lockstep Brent iteration, and the trajectory maps.
final class LocalCollapseTests: XCTestCase {
    static func images(n: Int, shape: ImageShape, seed: UInt64) -> Matrix<Double> {
        let rng = RandomStream(seed: seed, stream: 0, domain: .general)
        var m = Matrix<Double>(rows: n, columns: shape.dimension)
        rng.fillGaussian(&m.storage, 0..<m.storage.count)
        return m
    }

    func testBrentIterationSolvesAKnownRoot() {
        // cos t − t = 0 at 0.739085133215160641655 (the Dottie number).
        var b = BrentIteration(lo: 0, hi: 1, fLo: 1, fHi: cos(1) - 1, tolerance: 1e-12)
        var steps = 0
        while let t = b.next() { b.receive(cos(t) - t); steps += 1; XCTAssertLessThan(steps, 60) }
        XCTAssertEqual(b.root, 0.739085133215160641655, accuracy: 1e-11)
        XCTAssertLessThan(steps, 15)
        XCTAssertNil(b.next(), "a converged iteration stays converged")
    }

    /// The engine's Y2_i at per-pixel times equals the machine's own per-pixel Y2 at the planted state.
    func testPerPixelTimeEngineEqualsTheMachine() throws {
        for (shape, p) in [(try ImageShape(height: 5, width: 5), 3), (try ImageShape(height: 4, width: 6, channels: 2), 3),
                           (try ImageShape(height: 5, width: 5), 5)] {
            let imgs = Self.images(n: 4, shape: shape, seed: 3)
            for machine in LocalMachine.allCases where !(machine == .els && p > min(shape.height, shape.width)) {
                let model = try LocalScore(machine: machine, images: imgs, shape: shape, patch: .fixed(p))
                var fc = try LocalForwardCollapse(model: model, threads: 1)
                let modes = machine == .ls ? [true, false] : [true]
                for box in modes {
                    fc.boxSums = box
                    let times = (0..<shape.pixels).map { 0.05 + 0.1 * Double($0 % 7) }
                    let y = try fc.participationRatios(sample: 2, seed: 11, times: times)
                    var compared = 0, control = 0.0
                    for t in Set(times) {
                        let x = try fc.plantedState(sample: 2, seed: 11, t: t)
                        let post = try model.posterior(at: x, t: t, sources: false)
                        // Negative control: the same state read at another time gives other weights.
                        let other = try model.posterior(at: x, t: t + 0.05, sources: false)
                        for i in 0..<shape.pixels where times[i] == t {
                            XCTAssertEqual(y[i], post.participationRatio[i], accuracy: 1e-11, "\(machine) \(shape) P=\(p) box=\(box) pixel \(i)")
                            control = max(control, abs(y[i] - other.participationRatio[i]))
                            compared += 1
                        }
                    }
                    XCTAssertEqual(compared, shape.pixels)
                    XCTAssertGreaterThan(control, 1e-3)
                }
            }
        }
    }

    /// LS at P ≥ 2 max(H, W) − 1 is the exact score (Docs/LocalScores.md §2 item 1): every pixel's
    /// forward crossing, and the pixel average, equal the global t_C^{Y2} of `ForwardEnsemble` on the
    /// same planted draws (same streams) to the root tolerance.
    func testFullWindowCrossingEqualsTheGlobalExactCrossing() throws {
        let shape = try ImageShape(height: 4, width: 5)
        let imgs = Self.images(n: 6, shape: shape, seed: 5)
        let model = try LocalScore(machine: .ls, images: imgs, shape: shape, patch: .fixed(9))
        let map = try LocalForwardCollapse(model: model, threads: 2, spectrum: false).measure(samples: 300, seed: 7)
        let score = try EmpiricalScore(points: imgs)
        let global = try XCTUnwrap(ForwardEnsemble(model: .diffusion(score), origins: .planted(score.posterior), statistics: [], threads: 1)
            .solveCrossing(level: 0.5, bracket: [0.05, 0.3, 1, 3], samples: 300, seed: 7) { $0.y2 })
        for px in map.pixels {
            let c = try XCTUnwrap(px.tC)
            XCTAssertEqual(c.t, global.t, accuracy: 1e-6)
            XCTAssertEqual(c.standardError, global.standardError, accuracy: 1e-3 * global.standardError)
            XCTAssertEqual(px.dimension, shape.dimension)
            XCTAssertEqual(px.dictionarySize, 6)
        }
        XCTAssertEqual(try XCTUnwrap(map.pixelAverage).t, global.t, accuracy: 1e-6)
        // The prediction is eq. 10 of the whole data set (σ² = population variance per coordinate).
        var trace = 0.0
        for j in 0..<shape.dimension {
            let col = (0..<6).map { imgs[$0, j] }, m = col.reduce(0, +) / 6
            trace += col.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 6
        }
        let eq10 = CollapseTheory.tCGaussian(n: 6, d: Double(shape.dimension), sigma2: trace / Double(shape.dimension))
        XCTAssertEqual(try XCTUnwrap(map.pixels[7].tCGaussian), eq10, accuracy: 1e-12)
    }

    /// LS at P = 3: pixel i's crossing is the global crossing of its explicit patch data set 𝒟_i (the
    /// in-frame window entries of every image) under the exact engine, with the same draws (the
    /// window of each full-image noise vector).
    func testPatchCrossingEqualsTheExplicitPatchDataSet() throws {
        let shape = try ImageShape(height: 5, width: 5)
        let n = 8, seed: UInt64 = 21, samples = 250
        let imgs = Self.images(n: n, shape: shape, seed: 9)
        let model = try LocalScore(machine: .ls, images: imgs, shape: shape, patch: .fixed(3))
        let map = try LocalForwardCollapse(model: model, threads: 1).measure(samples: samples, seed: seed)
        for (row, col) in [(0, 0), (2, 3), (4, 2)] {
            var window: [Int] = []
            for r in max(0, row - 1)...min(4, row + 1) { for c in max(0, col - 1)...min(4, col + 1) { window.append(r * 5 + c) } }
            let coords = window
            let points = Matrix(rows: n, columns: coords.count, storage: (0..<n).flatMap { mu in coords.map { imgs[mu, $0] } })
            let score = try EmpiricalScore(points: points)
            let d = shape.dimension
            let origins = OriginDraws(points: points, components: Array(0..<n), classes: nil) { seed, s, noise, offset in
                let rng = RandomStream(seed: seed, stream: UInt64(s), domain: .forward)
                let origin = rng.uniformInt(n)
                var full = [Double](repeating: 0, count: d)
                rng.fillGaussian(&full, 0..<d)
                for (e, j) in coords.enumerated() { noise[offset + e] = full[j] }
                return origin
            }
            let exact = try XCTUnwrap(ForwardEnsemble(model: .diffusion(score), origins: origins, statistics: [], threads: 1)
                .solveCrossing(level: 0.5, bracket: [0.01, 0.1, 0.5, 2, 4], samples: samples, seed: seed) { $0.y2 })
            let px = map.pixels[row * 5 + col]
            let c = try XCTUnwrap(px.tC)
            XCTAssertEqual(c.t, exact.t, accuracy: 1e-6, "pixel (\(row), \(col))")
            XCTAssertEqual(c.standardError, exact.standardError, accuracy: 1e-3 * exact.standardError)
            XCTAssertEqual(px.dimension, coords.count)
            XCTAssertEqual(px.region, row == 0 && col == 0 ? .corner : (row == 4 ? .edge : .interior))
            // Predictions are those of the patch data set (n → |𝒟_i|, d → d_i).
            let sp = try DataSpectrum(points: points)
            XCTAssertEqual(try XCTUnwrap(px.tCSpectrum), try CollapseTheory.tCSpectrum(eigenvalues: sp.eigenvalues, n: Double(n)), accuracy: 1e-9)
        }
    }

    /// The roots are solved, not read off the grid: two unrelated brackets give the same roots to the
    /// solver tolerance; and the map does not depend on the thread count.
    func testCrossingsAreGridAndThreadIndependent() throws {
        let shape = try ImageShape(height: 5, width: 4)
        let imgs = Self.images(n: 6, shape: shape, seed: 2)
        for machine in [LocalMachine.ls, .bbels] {
            let model = try LocalScore(machine: machine, images: imgs, shape: shape, patch: .fixed(3))
            let a = try LocalForwardCollapse(model: model, threads: 1, spectrum: false)
                .measure(samples: 120, grid: [0.002, 0.03, 0.2, 0.9, 2.5, 5], seed: 4)
            let b = try LocalForwardCollapse(model: model, threads: 2, spectrum: false)
                .measure(samples: 120, grid: (0..<9).map { 0.004 * pow(1000, Double($0) / 8) }, seed: 4)
            let c = try LocalForwardCollapse(model: model, threads: 2, spectrum: false)
                .measure(samples: 120, grid: [0.002, 0.03, 0.2, 0.9, 2.5, 5], seed: 4)
            for i in a.pixels.indices {
                let ta = try XCTUnwrap(a.pixels[i].tC), tb = try XCTUnwrap(b.pixels[i].tC)
                XCTAssertEqual(ta.t, tb.t, accuracy: 2e-7, "\(machine) pixel \(i)")
                XCTAssertEqual(ta.t, c.pixels[i].tC!.t, "threads must not change the map")
                XCTAssertEqual(ta.standardError, c.pixels[i].tC!.standardError)
            }
            XCTAssertEqual(a.pixelAverage!.t, b.pixelAverage!.t, accuracy: 2e-7)
        }
    }

    /// Identical patches share their weight at every t: with image 3 a copy of image 0, E[Y2_i](0⁺) =
    /// (½ + 1 + 1 + ½)/4 at the full window; per sample Y2_i → 1/m(origin).
    func testY2LimitCountsIdenticalPatches() throws {
        let shape = try ImageShape(height: 3, width: 3)
        var imgs = Self.images(n: 4, shape: shape, seed: 6)
        imgs.setRow(3, imgs.row(0))
        let model = try LocalScore(machine: .ls, images: imgs, shape: shape, patch: .fixed(5))
        let fc = try LocalForwardCollapse(model: model, threads: 1)
        let map = try fc.measure(samples: 40, seed: 1)
        for p in map.pixels { XCTAssertEqual(try XCTUnwrap(p.y2Limit), 0.75, accuracy: 1e-15) }
        let draws = try PlantedDraws(model: model, samples: 6, seed: 1)
        for s in 0..<6 {
            let y = try fc.participationRatios(sample: s, seed: 1, times: Array(repeating: 1e-7, count: 9))
            let expected = [0, 3].contains(draws.origin[s]) ? 0.5 : 1
            for v in y { XCTAssertEqual(v, expected, accuracy: 1e-6) }
        }
        // At P = 1 the centre values alone: still one duplicate pair per pixel.
        let p1 = try LocalForwardCollapse(model: LocalScore(machine: .ls, images: imgs, shape: shape, patch: .fixed(1)), threads: 1, spectrum: false)
            .measure(samples: 20, seed: 1)
        XCTAssertEqual(p1.pixels[4].y2Limit!, 0.75, accuracy: 1e-15)
    }

    /// Roots far below 10⁻⁶ (values 10⁻³ apart, as on quantised images) are solved with a relative
    /// tolerance and a finite SE, equal to the exact engine's on the 1-D patch data set; a pixel whose
    /// values come in identical pairs sits at E[Y2_i] ≤ ½ and has no crossing.
    func testTinyRootsAndDegeneratePixels() throws {
        let shape = try ImageShape(height: 3, width: 3)
        var imgs = Matrix<Double>(rows: 4, columns: 9)
        for mu in 0..<4 { imgs[mu, 4] = 1e-3 * Double(mu) }
        imgs[2, 0] = 5
        imgs[3, 0] = 5
        let model = try LocalScore(machine: .ls, images: imgs, shape: shape, patch: .fixed(1))
        let map = try LocalForwardCollapse(model: model, threads: 1).measure(samples: 200, seed: 3)
        for p in map.pixels where p.row * 3 + p.col != 4 {
            XCTAssertNil(p.tC)
            XCTAssertEqual(p.y2Limit!, p.row + p.col == 0 ? 0.5 : 0.25, accuracy: 1e-15)
        }
        let c = try XCTUnwrap(map.pixels[4].tC)
        XCTAssertTrue(c.standardError.isFinite && c.standardError > 0)
        XCTAssertLessThan(c.t, 1e-5)
        let points = Matrix(rows: 4, columns: 1, storage: [0, 1e-3, 2e-3, 3e-3])
        let score = try EmpiricalScore(points: points)
        let origins = OriginDraws(points: points, components: [0, 1, 2, 3], classes: nil) { seed, s, noise, offset in
            let rng = RandomStream(seed: seed, stream: UInt64(s), domain: .forward)
            let origin = rng.uniformInt(4)
            var full = [Double](repeating: 0, count: 9)
            rng.fillGaussian(&full, 0..<9)
            noise[offset] = full[4]
            return origin
        }
        let exact = try XCTUnwrap(ForwardEnsemble(model: .diffusion(score), origins: origins, statistics: [], threads: 1)
            .solveCrossing(level: 0.5, bracket: [1e-9, 1e-8, 1e-7, 1e-6, 1e-5], samples: 200, seed: 3, tolerance: 1e-13) { $0.y2 })
        XCTAssertEqual(c.t, exact.t, accuracy: 2e-3 * exact.t)
        XCTAssertEqual(c.standardError, exact.standardError, accuracy: 1e-2 * exact.standardError)
    }

    /// Trajectory maps: at the full window LS is the exact score, so every pixel sees the same
    /// posterior and the maps are constant over pixels; results do not depend on threads or batches.
    func testTrajectoryMaps() throws {
        let shape = try ImageShape(height: 4, width: 4)
        let imgs = Self.images(n: 5, shape: shape, seed: 8)
        let settings = SDESettings(horizon: 3, tMin: 0.01, steps: 30)
        let full = try LocalScore(machine: .ls, images: imgs, shape: shape, patch: .fixed(7))
        let m = try LocalTrajectoryCollapse(model: full, settings: settings, threads: 2, batch: 3).measure(trajectories: 5, seed: 3)
        for k in 0..<5 {
            XCTAssertEqual(Set(m.sourceTimes[k]).count, 1, "full window: one source map value per trajectory")
            XCTAssertEqual(Set(m.y2Times[k]).count, 1)
            XCTAssertTrue(m.times.contains(m.sourceTimes[k][0]))
        }
        // Below the full window the map varies over pixels, and is reproducible across threads and batches.
        let local = try LocalScore(machine: .ls, images: imgs, shape: shape, patch: .fixed(1))
        let a = try LocalTrajectoryCollapse(model: local, settings: settings, threads: 1, batch: 5).measure(trajectories: 4, seed: 3)
        let b = try LocalTrajectoryCollapse(model: local, settings: settings, threads: 2, batch: 2).measure(trajectories: 4, seed: 3)
        XCTAssertEqual(a.sourceTimes, b.sourceTimes)
        XCTAssertEqual(a.y2Times, b.y2Times)
        XCTAssertGreaterThan(Set(a.sourceTimes.flatMap { $0 }).count, 1)
        // At P = 1 each pixel is a 1-D mixture of n values: its weights collapse by t_min = 0.01 (Y2 > ½).
        XCTAssertGreaterThan(a.y2Collapsed.reduce(0, +) / Double(shape.pixels), 0.5)
    }
}
