import XCTest
import GSLKit
@testable import DiffusionPhysics

/// Local machines (Docs/LocalScores.md): §5 test values, fast kernels against a brute force written
/// from the definitions (§1), the exact limits of §2 against the global engine, and the Jacobian.
final class LocalScoreTests: XCTestCase {
    // MARK: brute force, straight from Docs/LocalScores.md §1 (independent of the C kernels)

    struct Brute {
        var mean: [Double], y2: [Double], entropy: [Double], sizes: [Int]
    }

    static func window(_ img: [Double], _ s: ImageShape, row: Int, col: Int, r: Int, circular: Bool) -> [Double] {
        var out: [Double] = []
        for dr in -r...r {
            for dc in -r...r {
                var rr = row + dr, cc = col + dc
                if circular { rr = ((rr % s.height) + s.height) % s.height; cc = ((cc % s.width) + s.width) % s.width }
                for c in 0..<s.channels {
                    out.append(rr < 0 || rr >= s.height || cc < 0 || cc >= s.width ? 0 : img[(rr * s.width + cc) * s.channels + c])
                }
            }
        }
        return out
    }

    static func brute(_ machine: LocalMachine, images: [[Double]], shape s: ImageShape, patch p: Int, x: [Double], t: Double) -> Brute {
        let r = (p - 1) / 2, H = s.height, W = s.width, C = s.channels
        let delta = -expm1(-2 * t), decay = exp(-t)
        func sig(_ row: Int, _ col: Int) -> [Int] { [min(row, r), min(H - 1 - row, r), min(col, r), min(W - 1 - col, r)] }
        var mean = [Double](repeating: 0, count: s.dimension), y2 = [Double](repeating: 0, count: s.pixels)
        var entropy = y2, sizes = [Int](repeating: 0, count: s.pixels)
        for row in 0..<H {
            for col in 0..<W {
                let circ = machine == .els || machine == .elsCirc
                let q = window(x, s, row: row, col: col, r: r, circular: circ)
                var dict: [[Double]] = []
                for a in images {
                    for jr in 0..<H {
                        for jc in 0..<W {
                            switch machine {
                            case .ls: if jr == row && jc == col { dict.append(window(a, s, row: jr, col: jc, r: r, circular: false)) }
                            case .els:
                                if jr >= r && jr <= H - 1 - r && jc >= r && jc <= W - 1 - r {
                                    dict.append(window(a, s, row: jr, col: jc, r: r, circular: false))
                                }
                            case .elsCirc: dict.append(window(a, s, row: jr, col: jc, r: r, circular: true))
                            case .bbels: if sig(jr, jc) == sig(row, col) { dict.append(window(a, s, row: jr, col: jc, r: r, circular: false)) }
                            }
                        }
                    }
                }
                let lw = dict.map { phi in -zip(q, phi).reduce(0.0) { $0 + ($1.0 - decay * $1.1) * ($1.0 - decay * $1.1) } / (2 * delta) }
                let m = lw.max()!
                let z = lw.reduce(0.0) { $0 + exp($1 - m) }
                let w = lw.map { exp($0 - m) / z }
                let i = row * W + col, centre = (r * p + r) * C
                for (k, phi) in dict.enumerated() { for c in 0..<C { mean[i * C + c] += w[k] * phi[centre + c] } }
                y2[i] = w.reduce(0) { $0 + $1 * $1 }
                entropy[i] = -w.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) }
                sizes[i] = dict.count
            }
        }
        return Brute(mean: mean, y2: y2, entropy: entropy, sizes: sizes)
    }

    // MARK: data

    static let toyShape = try! ImageShape(height: 5, width: 5)
    static let toyImages: [[Double]] = (0..<3).map { mu in
        (0..<25).map { k in let r = Double(k / 5), c = Double(k % 5); return sin(0.7 + 1.9 * Double(mu) + 0.83 * r + 0.37 * c + 0.11 * r * c) }
    }
    static let toyX: [Double] = (0..<25).map { k in let r = Double(k / 5), c = Double(k % 5); return 0.9 * cos(0.5 + 0.61 * r - 1.07 * c) }

    static func random(_ count: Int, seed: UInt64) -> [Double] {
        let rng = RandomStream(seed: seed, stream: 7)
        return (0..<count).map { _ in rng.gaussian() }
    }

    static func machine(_ m: LocalMachine, _ images: [[Double]], _ s: ImageShape, _ p: Int) throws -> LocalScore {
        try LocalScore(machine: m, images: Matrix(rowArrays: images), shape: s, patch: .fixed(p))
    }

    static func maxDiff(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) } }

    // MARK: §5 test values

    func testToyValues() throws {
        let t = 0.3
        XCTAssertEqual(ForwardProcess.delta(t), 0.45118836390597356, accuracy: 1e-16)
        let pix = [(0, 0), (0, 2), (2, 2), (1, 3), (4, 4)]
        typealias Row = (m: Double, f: Double, size: Int, y2: Double, s: Double)
        let table: [LocalMachine: [Row]] = [
            .ls: [(0.636960778161609, -0.704699369077413, 3, 0.904390584494, 0.202335820572),
                  (0.453880138871022, 0.883170561448475, 3, 0.462610938992, 0.891960431215),
                  (0.844503455595996, -0.434755225619622, 3, 0.960985046633, 0.106914479808),
                  (-0.696864213939679, -0.137167129825587, 3, 0.654756872025, 0.621120247402),
                  (0.277990215998077, 0.000138944529655, 3, 0.518790313322, 0.823635093470)],
            .els: [(-0.195321044356828, -2.071245114021175, 27, 0.115228263858, 2.330140847016),
                   (0.718119847037437, 1.317032793050916, 27, 0.139551346198, 2.189421431995),
                   (0.797013224567891, -0.512730703855439, 27, 0.123976066159, 2.324189074450),
                   (-0.601511050527098, 0.019395774953585, 27, 0.070469508437, 2.868647962775),
                   (-0.747255141721241, -1.683238780668281, 27, 0.131635403991, 2.266039221911)],
        ]
        for (m, rows) in table {
            let post = try Self.machine(m, Self.toyImages, Self.toyShape, 3).posterior(at: Self.toyX, t: t)
            for ((r, c), v) in zip(pix, rows) {
                let i = r * 5 + c
                XCTAssertEqual(post.posteriorMean[i], v.m, accuracy: 1e-12, "\(m) m̂ \(r),\(c)")
                XCTAssertEqual(post.score[i], v.f, accuracy: 1e-12, "\(m) F \(r),\(c)")
                XCTAssertEqual(post.dictionarySizes[i], v.size)
                XCTAssertEqual(post.participationRatio[i], v.y2, accuracy: 1e-12, "\(m) Y2 \(r),\(c)")
                XCTAssertEqual(post.entropy[i], v.s, accuracy: 1e-12, "\(m) S \(r),\(c)")
            }
        }
        let circ = try Self.machine(.elsCirc, Self.toyImages, Self.toyShape, 3).posterior(at: Self.toyX, t: t)
        for ((r, c), v) in zip(pix, [0.162710820359982, 0.440401119736252, 0.640404855743462, -0.422203102194195, -0.276933181372630]) {
            XCTAssertEqual(circ.posteriorMean[r * 5 + c], v, accuracy: 1e-12, "els-circ \(r),\(c)")
            XCTAssertEqual(circ.dictionarySizes[r * 5 + c], 75)
        }
        let ls = try Self.machine(.ls, Self.toyImages, Self.toyShape, 3).posterior(at: Self.toyX, t: t)
        let els = try Self.machine(.els, Self.toyImages, Self.toyShape, 3).posterior(at: Self.toyX, t: t)
        let bb = try Self.machine(.bbels, Self.toyImages, Self.toyShape, 3).posterior(at: Self.toyX, t: t)
        XCTAssertEqual(bb.posteriorMean[0], ls.posteriorMean[0], accuracy: 1e-12)
        XCTAssertEqual(bb.posteriorMean[24], ls.posteriorMean[24], accuracy: 1e-12)
        XCTAssertEqual(bb.posteriorMean[2], 0.440601208107189, accuracy: 1e-12)
        XCTAssertEqual(bb.score[2], 0.861367530501807, accuracy: 1e-12)
        XCTAssertEqual(bb.dictionarySizes[2], 9)
        XCTAssertEqual(bb.participationRatio[2], 0.193917274947, accuracy: 1e-12)
        XCTAssertEqual(bb.entropy[2], 1.832937616506, accuracy: 1e-12)
        for i in [12, 8] {
            XCTAssertEqual(bb.posteriorMean[i], els.posteriorMean[i], accuracy: 1e-12)
            XCTAssertEqual(bb.participationRatio[i], els.participationRatio[i], accuracy: 1e-12)
        }
        // IS: the global exact score on the same toy.
        let global = try EmpiricalScore(points: Matrix(rowArrays: Self.toyImages)).evaluate(at: Self.toyX, t: t)
        for (k, w) in [0.05102251435415, 0.9489069001816, 7.058546423490e-05].enumerated() {
            XCTAssertEqual(global.weights[k], w, accuracy: 1e-13)
        }
        XCTAssertEqual(global.participationRatio, 0.9030276071656161, accuracy: 1e-13)
        XCTAssertEqual(global.posteriorMean[0], 0.521963415551599, accuracy: 1e-12)
        XCTAssertEqual(global.posteriorMean[2], -0.136511594288216, accuracy: 1e-12)
        XCTAssertEqual(global.posteriorMean[12], -0.728343618978354, accuracy: 1e-12)
    }

    /// The reference code's 20-step sampler (Docs/LocalScores.md §0): exponential integrator on the
    /// cosine clock t(s) = −ln cos(sπ/2.016), s = 0.95 … 0.05, then x₀ = m̂(x, t(0.05)).
    func testReferenceSamplerValues() throws {
        let xT: [Double] = (0..<25).map { k in let r = Double(k / 5), c = Double(k % 5); return sin(1 + 2.3 * r - 0.9 * c) + 0.5 * cos(0.4 + 1.3 * r * c) }
        func run(_ m: LocalMachine) throws -> [Double] {
            let model = try Self.machine(m, Self.toyImages, Self.toyShape, 3)
            func time(_ i: Int) -> Double { -log(cos(Double(i) / 20 * Double.pi / 2.016)) }
            var x = xT
            for i in stride(from: 19, through: 2, by: -1) {
                let t = time(i), s = time(i - 1)
                let mh = try model.posterior(at: x, t: t, sources: false).posteriorMean
                let ratio = (ForwardProcess.delta(s) / ForwardProcess.delta(t)).squareRoot()
                for j in 0..<25 { x[j] = exp(-s) * mh[j] + ratio * (x[j] - exp(-t) * mh[j]) }
            }
            return try model.posterior(at: x, t: time(1), sources: false).posteriorMean
        }
        func gap(_ x: [Double]) -> (Double, Int) {
            let d = Self.toyImages.map { a in zip(a, x).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() }
            let order = d.indices.sorted { d[$0] < d[$1] }
            return (d[order[0]] / d[order[1]], order[0])
        }
        let ls = try run(.ls)
        XCTAssertEqual(ls[0], 0.644217687238, accuracy: 1e-10)
        XCTAssertEqual(ls[12], 0.870793851691, accuracy: 1e-10)
        XCTAssertEqual(gap(ls).0, 0.880171, accuracy: 1e-6)
        XCTAssertEqual(gap(ls).1, 2)
        let bb = try run(.bbels)
        XCTAssertEqual(bb[12], -0.987605073920, accuracy: 1e-10)
        XCTAssertEqual(gap(bb).0, 0.879271, accuracy: 1e-6)
        XCTAssertEqual(gap(bb).1, 1)
        let els = try run(.els)
        XCTAssertEqual(els[0], 0.986585112721, accuracy: 1e-10)
        XCTAssertEqual(gap(els).0, 0.960866, accuracy: 1e-6)
        XCTAssertEqual(gap(els).1, 1)
    }

    // MARK: fast kernels = brute force

    func testFastKernelsEqualBruteForce() throws {
        let shapes = [try ImageShape(height: 5, width: 5), try ImageShape(height: 6, width: 4, channels: 3),
                      try ImageShape(height: 4, width: 7), try ImageShape(height: 7, width: 6, channels: 3)]
        for (k, s) in shapes.enumerated() {
            let n = 3 + k % 2
            let images = (0..<n).map { Self.random(s.dimension, seed: UInt64(100 + 10 * k + $0)) }
            let x = Self.random(s.dimension, seed: UInt64(900 + k))
            for m in LocalMachine.allCases {
                for p in [1, 3, 5] where !(m == .els && p > min(s.height, s.width)) {
                    for t in [0.05, 0.3, 1.5] {
                        try Self.assertMatchesBruteForce(m, images, s, p, x: x, t: t)
                    }
                }
            }
        }
    }

    /// The fast kernels of machine m against the brute force of Docs/LocalScores.md §1 at (x, t):
    /// m̂, Y2_i and S_i, the dictionary sizes, and source masses summing to 1 per pixel.
    static func assertMatchesBruteForce(_ m: LocalMachine, _ images: [[Double]], _ s: ImageShape, _ p: Int, x: [Double], t: Double,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let post = try machine(m, images, s, p).posterior(at: x, t: t)
        let b = brute(m, images: images, shape: s, patch: p, x: x, t: t)
        let tag = "\(m) \(s) P=\(p) t=\(t)"
        XCTAssertLessThan(maxDiff(post.posteriorMean, b.mean), 1e-11, tag, file: file, line: line)
        XCTAssertLessThan(maxDiff(post.participationRatio, b.y2), 1e-11, tag, file: file, line: line)
        XCTAssertLessThan(maxDiff(post.entropy, b.entropy), 1e-10, tag, file: file, line: line)
        XCTAssertEqual(post.dictionarySizes, b.sizes, tag, file: file, line: line)
        XCTAssertEqual(post.imageMass.reduce(0, +), 1, accuracy: 1e-12, tag, file: file, line: line)
    }

    /// The vector paths of the kernels (rows of ≥ 8 pixels, partial vectors, windows wider than the
    /// image, C = 3, n not a multiple of anything) against the same brute force.
    func testFastKernelsEqualBruteForceOnWiderImages() throws {
        let cases: [(ImageShape, [LocalMachine], [Int])] = [
            (try ImageShape(height: 9, width: 11), LocalMachine.allCases, [1, 3, 5]),
            (try ImageShape(height: 6, width: 17), [.ls], [3, 7, 15, 41]),
            (try ImageShape(height: 8, width: 9, channels: 3), [.ls, .bbels], [3, 9]),
        ]
        for (k, (s, machines, patches)) in cases.enumerated() {
            let n = 5 + k
            let images = (0..<n).map { Self.random(s.dimension, seed: UInt64(300 + 10 * k + $0)) }
            let x = Self.random(s.dimension, seed: UInt64(700 + k))
            for m in machines {
                for p in patches where !(m == .els && p > min(s.height, s.width)) {
                    for t in [0.05, 0.8] {
                        try Self.assertMatchesBruteForce(m, images, s, p, x: x, t: t)
                    }
                }
            }
        }
    }

    // MARK: §2 limits

    func testFullWindowLimitsEqualGlobalScore() throws {
        for (k, s) in [try ImageShape(height: 5, width: 5), try ImageShape(height: 6, width: 4, channels: 3)].enumerated() {
            let images = (0..<4).map { Self.random(s.dimension, seed: UInt64(300 + 10 * k + $0)) }
            let x = Self.random(s.dimension, seed: UInt64(400 + k))
            let full = 2 * max(s.height, s.width) - 1
            for t in [0.05, 0.3, 1.5] {
                let global = try EmpiricalScore(points: Matrix(rowArrays: images)).evaluate(at: x, t: t)
                for m in [LocalMachine.ls, .bbels] {
                    let post = try Self.machine(m, images, s, full).posterior(at: x, t: t)
                    XCTAssertLessThan(Self.maxDiff(post.score, global.score), 1e-11, "\(m) \(s) t=\(t)")
                }
            }
        }
    }

    /// P = H is not enough for LS: a corner window sees (r+1)² pixels only (toy: differs by 1.4).
    func testLSAtPatchEqualHeightIsNotGlobal() throws {
        let ls = try Self.machine(.ls, Self.toyImages, Self.toyShape, 5).posterior(at: Self.toyX, t: 0.3)
        let global = try EmpiricalScore(points: Matrix(rowArrays: Self.toyImages)).evaluate(at: Self.toyX, t: 0.3)
        XCTAssertGreaterThan(Self.maxDiff(ls.score, global.score), 1.0)
    }

    func testBbelsEqualsLSForLargePatchesAndAtCorners() throws {
        for (k, s) in [try ImageShape(height: 5, width: 5), try ImageShape(height: 6, width: 4, channels: 3)].enumerated() {
            let images = (0..<3).map { Self.random(s.dimension, seed: UInt64(500 + 10 * k + $0)) }
            let x = Self.random(s.dimension, seed: UInt64(600 + k))
            let t = 0.3
            var p = max(s.height, s.width) | 1
            while p <= 2 * max(s.height, s.width) + 1 {
                let a = try Self.machine(.ls, images, s, p).posterior(at: x, t: t)
                let b = try Self.machine(.bbels, images, s, p).posterior(at: x, t: t)
                XCTAssertLessThan(Self.maxDiff(a.posteriorMean, b.posteriorMean), 1e-13, "P=\(p)")
                p += 2
            }
            let a = try Self.machine(.ls, images, s, 3).posterior(at: x, t: t)
            let b = try Self.machine(.bbels, images, s, 3).posterior(at: x, t: t)
            let C = s.channels, W = s.width, H = s.height
            for pix in [0, W - 1, (H - 1) * W, H * W - 1] {
                for c in 0..<C { XCTAssertEqual(a.posteriorMean[pix * C + c], b.posteriorMean[pix * C + c], accuracy: 1e-13) }
            }
            let centre = (H / 2) * W + W / 2
            XCTAssertGreaterThan(abs(a.posteriorMean[centre * C] - b.posteriorMean[centre * C]), 1e-6, "interior differs")
        }
    }

    func testPatchOneReductions() throws {
        let s = try ImageShape(height: 4, width: 5, channels: 2)
        let n = 3
        let images = (0..<n).map { Self.random(s.dimension, seed: UInt64(700 + $0)) }
        let x = Self.random(s.dimension, seed: 777)
        let t = 0.4, C = s.channels
        // LS: an independent C-dimensional empirical posterior per pixel.
        let ls = try Self.machine(.ls, images, s, 1).posterior(at: x, t: t)
        for i in 0..<s.pixels {
            let pts = Matrix(rowArrays: images.map { Array($0[(i * C)..<((i + 1) * C)]) })
            let e = try EmpiricalScore(points: pts).evaluate(at: Array(x[(i * C)..<((i + 1) * C)]), t: t)
            for c in 0..<C { XCTAssertEqual(ls.score[i * C + c], e.score[c], accuracy: 1e-12) }
            XCTAssertEqual(ls.participationRatio[i], e.participationRatio, accuracy: 1e-12)
        }
        // Every ELS variant: one mixture over all n·H·W pixel values.
        var all: [[Double]] = []
        for a in images { for i in 0..<s.pixels { all.append(Array(a[(i * C)..<((i + 1) * C)])) } }
        let pool = try EmpiricalScore(points: Matrix(rowArrays: all))
        for m in [LocalMachine.els, .elsCirc, .bbels] {
            let post = try Self.machine(m, images, s, 1).posterior(at: x, t: t)
            for i in 0..<s.pixels {
                let e = try pool.evaluate(at: Array(x[(i * C)..<((i + 1) * C)]), t: t)
                for c in 0..<C { XCTAssertEqual(post.score[i * C + c], e.score[c], accuracy: 1e-12, "\(m)") }
                XCTAssertEqual(post.participationRatio[i], e.participationRatio, accuracy: 1e-12)
            }
        }
    }

    func testCircularELSAtFullWindowIsExactScoreOfTranslates() throws {
        for s in [try ImageShape(height: 5, width: 5), try ImageShape(height: 3, width: 3, channels: 2)] {
            let images = (0..<3).map { Self.random(s.dimension, seed: UInt64(800 + $0 + s.channels)) }
            let x = Self.random(s.dimension, seed: 888)
            var translates: [[Double]] = []
            for a in images {
                for dr in 0..<s.height {
                    for dc in 0..<s.width {
                        var b = a
                        for row in 0..<s.height {
                            for col in 0..<s.width {
                                let src = ((row + dr) % s.height) * s.width + (col + dc) % s.width
                                for c in 0..<s.channels { b[(row * s.width + col) * s.channels + c] = a[src * s.channels + c] }
                            }
                        }
                        translates.append(b)
                    }
                }
            }
            for t in [0.05, 0.3, 1.5] {
                let global = try EmpiricalScore(points: Matrix(rowArrays: translates)).evaluate(at: x, t: t)
                let post = try Self.machine(.elsCirc, images, s, s.height).posterior(at: x, t: t)
                XCTAssertLessThan(Self.maxDiff(post.score, global.score), 1e-11, "\(s) t=\(t)")
                let ref = try Self.machine(.els, images, s, s.height).posterior(at: x, t: t)
                XCTAssertGreaterThan(Self.maxDiff(ref.score, global.score), 1e-6, "ELS_ref has no such limit")
            }
        }
    }

    /// Under planted sampling the LS posterior at pixel i is the exact empirical posterior of the
    /// patch data set {a_μ,Ω_i ∩ image} (Docs/LocalScores.md §2): Y2_i equals that set's global Y2, sample by sample.
    func testForwardPixelY2IsGlobalY2OfPatchDataSet() throws {
        let s = try ImageShape(height: 6, width: 5)
        let images = (0..<5).map { Self.random(s.dimension, seed: UInt64(1000 + $0)) }
        let p = 3, r = 1, t = 0.2
        let model = try Self.machine(.ls, images, s, p)
        for (k, pix) in [(0, 0), (2, 2), (5, 4), (3, 0)].enumerated() {
            let (row, col) = pix
            var cells: [Int] = []
            for rr in max(0, row - r)...min(s.height - 1, row + r) { for cc in max(0, col - r)...min(s.width - 1, col + r) { cells.append(rr * s.width + cc) } }
            let patchData = try EmpiricalScore(points: Matrix(rowArrays: images.map { a in cells.map { a[$0] } }))
            let z = Self.random(s.dimension, seed: UInt64(1100 + k))
            let x = (0..<s.dimension).map { exp(-t) * images[k % 5][$0] + ForwardProcess.delta(t).squareRoot() * z[$0] }
            let post = try model.posterior(at: x, t: t)
            let e = try patchData.evaluate(at: cells.map { x[$0] }, t: t)
            XCTAssertEqual(post.participationRatio[row * s.width + col], e.participationRatio, accuracy: 1e-12)
        }
    }

    // MARK: Jacobian

    static func finiteDifferenceJacobian(_ model: LocalScore, x: [Double], t: Double, h: Double = 1e-5) throws -> Matrix<Double> {
        let d = x.count
        var j = Matrix<Double>(rows: d, columns: d)
        for k in 0..<d {
            var xp = x, xm = x
            xp[k] += h
            xm[k] -= h
            let fp = try model.posterior(at: xp, t: t, sources: false).score
            let fm = try model.posterior(at: xm, t: t, sources: false).score
            for i in 0..<d { j[i, k] = (fp[i] - fm[i]) / (2 * h) }
        }
        return j
    }

    static func asymmetry(_ j: Matrix<Double>) -> Double {
        var num = 0.0, den = 0.0
        for i in 0..<j.rows { for k in 0..<j.columns { num += pow(j[i, k] - j[k, i], 2); den += j[i, k] * j[i, k] } }
        return (num / den).squareRoot()
    }

    func testJacobianToyValuesAndAsymmetry() throws {
        let t = 0.3
        let ls = try Self.machine(.ls, Self.toyImages, Self.toyShape, 3)
        let jac = try ls.jacobian(at: Self.toyX, t: t)
        XCTAssertEqual(jac[12, 13], 0.1180998165, accuracy: 1e-9)
        XCTAssertEqual(jac[13, 12], 1.3973126653, accuracy: 1e-9)
        XCTAssertEqual(Self.asymmetry(jac), 0.663, accuracy: 5e-4)
        let els = try Self.machine(.els, Self.toyImages, Self.toyShape, 3).jacobian(at: Self.toyX, t: t)
        XCTAssertEqual(Self.asymmetry(els), 0.469, accuracy: 5e-4)
        XCTAssertLessThan(Self.asymmetry(try Self.machine(.ls, Self.toyImages, Self.toyShape, 1).jacobian(at: Self.toyX, t: t)), 1e-14)
        XCTAssertLessThan(Self.asymmetry(try Self.machine(.ls, Self.toyImages, Self.toyShape, 9).jacobian(at: Self.toyX, t: t)), 1e-10)
    }

    func testJacobianMatchesFiniteDifferences() throws {
        let cases: [(LocalMachine, ImageShape, Int)] = [
            (.ls, try ImageShape(height: 5, width: 4), 3), (.els, try ImageShape(height: 4, width: 4, channels: 2), 3),
            (.elsCirc, try ImageShape(height: 4, width: 5), 3), (.bbels, try ImageShape(height: 5, width: 5, channels: 2), 3),
            (.ls, try ImageShape(height: 4, width: 4), 1), (.ls, try ImageShape(height: 4, width: 4), 7),
            (.bbels, try ImageShape(height: 4, width: 3), 7),
        ]
        for (k, (m, s, p)) in cases.enumerated() {
            let images = (0..<3).map { Self.random(s.dimension, seed: UInt64(1200 + 10 * k + $0)) }
            let x = Self.random(s.dimension, seed: UInt64(1300 + k)).map { 0.5 * $0 }
            let model = try Self.machine(m, images, s, p)
            let t = 0.5
            let analytic = try model.jacobian(at: x, t: t)
            let fd = try Self.finiteDifferenceJacobian(model, x: x, t: t)
            let scale = analytic.storage.reduce(0) { max($0, abs($1)) }
            XCTAssertLessThan(Self.maxDiff(analytic.storage, fd.storage) / scale, 1e-7, "\(m) \(s) P=\(p)")
            let asym = Self.asymmetry(fd)
            let full = p == 1 || p >= 2 * max(s.height, s.width) - 1
            if full { XCTAssertLessThan(asym, 1e-8, "\(m) P=\(p) symmetric") } else { XCTAssertGreaterThan(asym, 1e-2, "\(m) P=\(p) asymmetric") }
        }
    }

    // MARK: samplers

    func testSamplersRunLocalScoreIndependentOfThreads() throws {
        let s = try ImageShape(height: 5, width: 4)
        let images = (0..<4).map { Self.random(s.dimension, seed: UInt64(1400 + $0)) }
        let model = try LocalScore(machine: .ls, images: Matrix(rowArrays: images), shape: s, patch: .fixed(3), labels: [0, 0, 1, 1])
        let schedule = try TimeGrid.geometric(from: 2.0, to: 0.01, steps: 12).times.map { NoiseLevel.time($0) }
        for stepper in [TrajectoryStepper.exactOU, .adaptive(relativeTolerance: 1e-7, absoluteTolerance: 1e-7)] {
            let one = try TrajectoryRunner(model: model, stepper: stepper, threads: 1, chunkSize: 2)
                .run(schedule: schedule, start: .prior(count: 6), seed: 5, recording: RecordingOptions([.participationRatio, .classProbabilities]))
            let two = try TrajectoryRunner(model: model, stepper: stepper, threads: 2, chunkSize: 2)
                .run(schedule: schedule, start: .prior(count: 6), seed: 5, recording: RecordingOptions([.participationRatio, .classProbabilities]))
            XCTAssertEqual(one.samples.storage, two.samples.storage)
            XCTAssertTrue(one.samples.storage.allSatisfy { $0.isFinite })
            let last = one.snapshots.last!
            for row in 0..<6 {
                XCTAssertEqual(last.classProbabilities[row, 0] + last.classProbabilities[row, 1], 1, accuracy: 1e-12)
                XCTAssertGreaterThan(last.participationRatio[row], 0)
                XCTAssertLessThanOrEqual(last.participationRatio[row], 1 + 1e-12)
            }
        }
    }

    func testImageShapeParsingAndDatasetShapes() throws {
        XCTAssertEqual(try ImageShape(parsing: "28x28"), try ImageShape(height: 28, width: 28))
        XCTAssertEqual(try ImageShape(parsing: "32×32×3").channels, 3)
        XCTAssertThrowsError(try ImageShape(parsing: "28"))
        XCTAssertThrowsError(try ImageShape(parsing: "0x3"))
        XCTAssertEqual(try DatasetSpec.parse("digits:classes=0,1").load(seed: 0).imageShape, try ImageShape(height: 8, width: 8))
        XCTAssertThrowsError(try Self.machine(.ls, Self.toyImages, Self.toyShape, 4))
        XCTAssertThrowsError(try Self.machine(.els, Self.toyImages, Self.toyShape, 7))
        XCTAssertThrowsError(try LocalScore(machine: .ls, images: Matrix(rowArrays: Self.toyImages), shape: try ImageShape(height: 4, width: 5), patch: .fixed(3)))
    }

    // MARK: schedules and memorisation

    func testShippedPatchScheduleAndScheduledMachine() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let s = try PatchSchedule.load(path: root.appendingPathComponent("Data/patch-schedules/fashion-mnist-unet.csv").path)
        XCTAssertEqual(s.times.count, 19)
        XCTAssertEqual(s.patch(at: 2.405), 25)
        XCTAssertEqual(s.patch(at: 0.34), 11)
        XCTAssertEqual(s.patch(at: 0.003), 3)
        XCTAssertEqual(s.patch(at: 1e-6), 3)
        XCTAssertEqual(s.patch(at: 50), 25)
        // Reference-code clock: t = −ln cos(sπ/2.016) at s = 19/20.
        XCTAssertEqual(s.times.last!, -log(cos(0.95 * Double.pi / 2.016)), accuracy: 1e-6)
        let small = try PatchSchedule(times: [0.1, 1.0], patches: [1, 3], name: "test")
        let model = try LocalScore(machine: .ls, images: Matrix(rowArrays: Self.toyImages), shape: Self.toyShape, patch: .schedule(small))
        // ln-nearest: t = 0.5 is nearer 1.0 than 0.1 in ln t; t = 0.3 nearer 0.1.
        XCTAssertEqual(try model.posterior(at: Self.toyX, t: 0.5).patch, 3)
        XCTAssertEqual(try model.posterior(at: Self.toyX, t: 0.3).patch, 1)
        XCTAssertEqual(try model.posterior(at: Self.toyX, t: 0.5).posteriorMean,
                       try Self.machine(.ls, Self.toyImages, Self.toyShape, 3).posterior(at: Self.toyX, t: 0.5).posteriorMean)
        XCTAssertEqual(try model.posterior(at: Self.toyX, t: 0.05).patch, 1)
        XCTAssertThrowsError(try PatchSchedule(times: [0.1], patches: [2], name: "even"))
    }

    /// [KG] Fig. 3 with zero padding: two training images, all −1 and all +1. At P = 1 every pixel
    /// decides alone, so samples are ±1 mosaics (none memorised, two sources each); at the full
    /// window (P ≥ 2·max(H, W) − 1) LS is the exact score and every sample is a training image.
    func testMemorisedFractionSwitchesOffWithLocality() throws {
        let s = try ImageShape(height: 6, width: 6)
        let images = [[Double](repeating: -1, count: 36), [Double](repeating: 1, count: 36)]
        let grid = try TimeGrid.geometric(from: 3, to: 1e-3, steps: 60)
        var results: [Int: LocalMemorization] = [:]
        for p in [1, 11] {
            let model = try Self.machine(.ls, images, s, p)
            let run = try BackwardSDE(model: model, scheme: .exactOU, finalStep: .posteriorMean, threads: 1)
                .run(grid: grid, start: .prior(count: 16), seed: 11)
            results[p] = try LocalMemorization.measure(model: model, samples: run.samples, lastStates: run.lastStates,
                                                       tLast: grid.end, seed: 1)
        }
        XCTAssertEqual(results[11]!.fraction, 1)
        XCTAssertEqual(results[11]!.distinctSources.mean, 1)
        XCTAssertEqual(results[11]!.copyFraction.mean, 1, accuracy: 1e-12)
        XCTAssertEqual(results[1]!.fraction, 0)
        XCTAssertGreaterThan(results[1]!.distinctSources.mean, 1.5)
        XCTAssertLessThan(results[1]!.copyFraction.mean, 0.9)
        // Local consistency ([KG] Theorem 4.1): at t_min = 10⁻³ every pixel of the P = 1 mosaic is the
        // centre of its source patch (±1); stopped at t_min = 0.5 the weights have not condensed.
        XCTAssertLessThan(try XCTUnwrap(results[1]!.consistencyResidual).mean, 1e-3)
        let model = try Self.machine(.ls, images, s, 1)
        let early = try TimeGrid.geometric(from: 3, to: 0.5, steps: 30)
        let run = try BackwardSDE(model: model, scheme: .exactOU, finalStep: .posteriorMean, threads: 1)
            .run(grid: early, start: .prior(count: 16), seed: 11)
        let stopped = try LocalMemorization.measure(model: model, samples: run.samples, lastStates: run.lastStates, tLast: early.end, seed: 1)
        XCTAssertGreaterThan(try XCTUnwrap(stopped.consistencyResidual).mean, 0.05)
        XCTAssertNil(try LocalMemorization.measure(model: try Self.machine(.bbels, images, s, 3), samples: run.samples,
                                                   lastStates: run.lastStates, tLast: early.end, seed: 1).consistencyResidual)
    }
}
