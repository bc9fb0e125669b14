import DiffusionPhysics
import Foundation
import GSLKit

/// `diffphys bench --local`: one sample-step of the local machines (per-pixel m̂, Y2, entropy at one
/// noisy image) on Fashion-MNIST 28×28, classes 1 and 9, beside the numpy timings of
/// Docs/LocalScores.md §3 (measured there on the same kind of 2-core machine, not in this run).
public struct LocalScoreBenchmark: Sendable, Codable {
    public struct Case: Sendable, Codable {
        public var machine: String
        public var n: Int
        public var patch: Int
        /// (pixel, image, position) triples T = HW·Σ|𝒟_i|/HW: one exp each.
        public var triples: Double
        public var seconds: Timing
        /// The floor measured interleaved in the same run: the same exps (vectorised, one per triple)
        /// plus, for the equivariant machines, the same per-image products (BLAS), nothing else.
        public var floorSeconds: Timing
        public var oursOverFloor: Double { seconds.median / floorSeconds.median }
        /// numpy seconds per sample-step from Docs/LocalScores.md §3 (nil where not tabulated).
        public var numpySeconds: Double?
        public var numpyOverOurs: Double? { numpySeconds.map { $0 / seconds.median } }
    }

    public var cases: [Case]

    /// The numpy figures of Docs/LocalScores.md §3 (LS: the ranges' ends at P = 3 and 15; ELS_ref / bbELS).
    static let numpy: [String: Double] = [
        "ls 200 3": 0.005, "ls 200 15": 0.011, "ls 2000 3": 0.055, "ls 2000 15": 0.073,
        "els 200 3": 2.55, "els 200 9": 1.31, "els 200 15": 1.20, "bbels 200 3": 1.48, "bbels 200 9": 0.55, "bbels 200 15": 0.75,
    ]

    /// The standard set: LS at n = 200 and 2000, ELS and bbELS at n = 200; P = 3, 9, 15.
    public static let standard: [(LocalMachine, Int, Int)] = [
        (.ls, 200, 3), (.ls, 200, 9), (.ls, 200, 15), (.ls, 2000, 3), (.ls, 2000, 9), (.ls, 2000, 15),
        (.els, 200, 3), (.els, 200, 9), (.els, 200, 15), (.bbels, 200, 3), (.bbels, 200, 9), (.bbels, 200, 15),
    ]

    public static func run(cases list: [(LocalMachine, Int, Int)] = standard, repetitions: Int, t: Double = 0.3) throws -> LocalScoreBenchmark {
        var out: [Case] = []
        var loaded: [Int: Dataset] = [:]
        for (machine, n, p) in list {
            if loaded[n] == nil {
                loaded[n] = try DatasetSpec.parse("fashion-mnist:classes=1,9,per-class=\(n / 2)").load(seed: 1)
            }
            let data = loaded[n]!
            let model = try LocalScore(machine: machine, dataset: data, patch: .fixed(p))
            let rng = RandomStream(seed: 3, stream: 0)
            let x = (0..<data.d).map { exp(-t) * data.points[0, $0] + ForwardProcess.delta(t).squareRoot() * rng.gaussian() }
            _ = try model.posterior(at: x, t: t, sources: false)
            let s = model.shape
            let groups = machine == .ls ? [] : machine.groups(height: s.height, width: s.width, patch: p)
            let floorInputs = groups.filter { !$0.positions.isEmpty }.map { g in
                (PatchKernels.im2col(height: s.height, width: s.width, channels: s.channels, patch: p, image: x[...],
                                     positions: g.pixels, circular: machine.circular),
                 PatchKernels.im2col(height: s.height, width: s.width, channels: s.channels, patch: p,
                                     image: data.points.rowSlice(0), positions: g.positions, circular: machine.circular))
            }
            let exps = [Double](repeating: -0.5, count: machine == .ls ? data.n * s.pixels : 0)
            func floor() {
                if machine == .ls { _ = VectorMath.exp(exps); return }
                for (q, a) in floorInputs {
                    var dots = Matrix<Double>(rows: q.rows, columns: a.rows)
                    for _ in 0..<data.n {
                        BLAS.multiplyTransposed(q, a, into: &dots)
                        _ = VectorMath.exp(dots.storage)
                    }
                }
            }
            var times: [Double] = [], floorTimes: [Double] = []
            for _ in 0..<repetitions {
                var t0 = DispatchTime.now().uptimeNanoseconds
                _ = try model.posterior(at: x, t: t, sources: false)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                t0 = DispatchTime.now().uptimeNanoseconds
                floor()
                floorTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            }
            let triples = Double(machine.dictionarySizes(height: s.height, width: s.width, patch: p, images: data.n).reduce(0, +))
            out.append(Case(machine: machine.rawValue, n: data.n, patch: p, triples: triples, seconds: Timing(times), floorSeconds: Timing(floorTimes),
                            numpySeconds: numpy["\(machine.rawValue) \(n) \(p)"]))
        }
        return LocalScoreBenchmark(cases: out)
    }
}
