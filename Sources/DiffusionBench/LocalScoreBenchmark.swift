import DiffusionPhysics
import Foundation
import GSLKit

/// `diffphys bench --local`: one sample-step of the local machines (per-pixel m̂, Y2, entropy at one
/// noisy image) on Fashion-MNIST 28×28, classes 1 and 9, beside floors and the numpy reference
/// (bench/local_scores.py, the fast numpy algorithms of Docs/LocalScores.md §3) measured
/// interleaved in the same run: per repetition ours, the floors, then one numpy request.
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
        /// LS only: the same n·HW exps on one image's worth of values at a time (in cache, no
        /// allocation): the exps' compute alone, the strictest floor.
        public var cacheFloorSeconds: Timing?
        public var oursOverCacheFloor: Double? { cacheFloorSeconds.map { seconds.median / $0.median } }
        /// The numpy reference, interleaved (nil without Python + numpy).
        public var numpySeconds: Timing?
        /// Per repetition ours/numpy, and their median (the ratio to quote).
        public var oursOverNumpy: Double?
        /// max |ours − numpy| over the per-pixel m̂, Y2 and entropy (a cross-check of the two codes).
        public var numpyMaxDifference: Double?
    }

    public var cases: [Case]

    /// bench/local_scores.py of this package (found as `Data/` is), nil if absent.
    public static func numpyScript() -> String? {
        guard let data = try? DataDirectory.locate(containing: "digits/digits.csv.gz") else { return nil }
        let script = URL(fileURLWithPath: data).deletingLastPathComponent().appendingPathComponent("bench/local_scores.py").path
        return FileManager.default.fileExists(atPath: script) ? script : nil
    }

    /// The numpy reference as a child process serving one JSON request per line (see the script).
    final class NumpyServer {
        let process = Process()
        let input = Pipe(), output = Pipe()
        var buffer = Data()

        init?(python: String, script: String, blasThreads: Int) {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [python, script]
            var env = ProcessInfo.processInfo.environment
            for k in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"] { env[k] = String(blasThreads) }
            process.environment = env
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch { return nil }
        }

        /// One request; nil if the child failed.
        func request(_ q: [String: Any]) -> [String: Any]? {
            guard process.isRunning, let line = try? JSONSerialization.data(withJSONObject: q) else { return nil }
            input.fileHandleForWriting.write(line + Data([0x0A]))
            while true {
                if let nl = buffer.firstIndex(of: 0x0A) {
                    let reply = buffer[buffer.startIndex..<nl]
                    buffer = Data(buffer[(nl + 1)...])
                    return (try? JSONSerialization.jsonObject(with: reply)) as? [String: Any]
                }
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                buffer.append(chunk)
            }
        }

        deinit {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
    }

    /// The standard set: LS at n = 200 and 2000, ELS and bbELS at n = 200; P = 3, 9, 15.
    public static let standard: [(LocalMachine, Int, Int)] = [
        (.ls, 200, 3), (.ls, 200, 9), (.ls, 200, 15), (.ls, 2000, 3), (.ls, 2000, 9), (.ls, 2000, 15),
        (.els, 200, 3), (.els, 200, 9), (.els, 200, 15), (.bbels, 200, 3), (.bbels, 200, 9), (.bbels, 200, 15),
    ]

    /// `python`: the interpreter for the numpy reference (nil: skip it); `blasThreads` its BLAS threads.
    public static func run(cases list: [(LocalMachine, Int, Int)] = standard, repetitions: Int, t: Double = 0.3,
                           python: String? = nil, blasThreads: Int = 1) throws -> LocalScoreBenchmark {
        var out: [Case] = []
        var loaded: [Int: Dataset] = [:]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-bench-local-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = python.flatMap { py in numpyScript().flatMap { NumpyServer(python: py, script: $0, blasThreads: blasThreads) } }
        for (machine, n, p) in list {
            if loaded[n] == nil {
                loaded[n] = try DatasetSpec.parse("fashion-mnist:classes=1,9,per-class=\(n / 2)").load(seed: 1)
                if server != nil { try loaded[n]!.points.writeNPY(to: "\(dir)/images\(n).npy") }
            }
            let data = loaded[n]!
            let model = try LocalScore(machine: machine, dataset: data, patch: .fixed(p))
            let rng = RandomStream(seed: 3, stream: 0)
            let x = (0..<data.d).map { exp(-t) * data.points[0, $0] + ForwardProcess.delta(t).squareRoot() * rng.gaussian() }
            let reference = try model.posterior(at: x, t: t, sources: false)
            let s = model.shape
            let xPath = "\(dir)/x.npy"
            if server != nil { try NPYLoader.write(values: x, shape: [x.count], to: xPath) }
            let request: [String: Any] = ["machine": machine.rawValue, "n": data.n, "H": s.height, "W": s.width, "P": p, "t": t,
                                          "images": "\(dir)/images\(n).npy", "x": xPath]
            var numpyDiff: Double?
            if let server, s.channels == 1 {
                var q = request
                q["values"] = true
                if let reply = server.request(q), let mean = reply["mean"] as? [Double], let y2 = reply["y2"] as? [Double],
                   let entropy = reply["entropy"] as? [Double], mean.count == s.pixels {
                    var diff = 0.0
                    for (a, b) in zip(mean + y2 + entropy, reference.posteriorMean + reference.participationRatio + reference.entropy) {
                        diff = Swift.max(diff, abs(a - b))
                    }
                    numpyDiff = diff
                }
            }
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
            // LS: the exps alone, one image's worth (HW values, in cache) at a time.
            var cacheIn = [Double](repeating: -0.5, count: s.pixels), cacheOut = cacheIn
            func cacheFloor() { for _ in 0..<data.n { PatchKernels.exp(cacheIn, into: &cacheOut) } }
            var times: [Double] = [], floorTimes: [Double] = [], cacheTimes: [Double] = [], numpyTimes: [Double] = [], ratios: [Double] = []
            func clock(_ body: () throws -> Void) rethrows -> Double {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try body()
                return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            }
            for _ in 0..<repetitions {
                let ours = try clock { _ = try model.posterior(at: x, t: t, sources: false) }
                times.append(ours)
                floorTimes.append(clock { floor() })
                if machine == .ls { cacheTimes.append(clock { cacheFloor() }) }
                if let server, s.channels == 1, let reply = server.request(request), let sec = reply["seconds"] as? Double {
                    numpyTimes.append(sec)
                    ratios.append(ours / sec)
                }
            }
            cacheIn[0] = cacheOut[0]   // keep the floor's work observable
            let triples = Double(machine.dictionarySizes(height: s.height, width: s.width, patch: p, images: data.n).reduce(0, +))
            out.append(Case(machine: machine.rawValue, n: data.n, patch: p, triples: triples, seconds: Timing(times),
                            floorSeconds: Timing(floorTimes), cacheFloorSeconds: cacheTimes.isEmpty ? nil : Timing(cacheTimes),
                            numpySeconds: numpyTimes.isEmpty ? nil : Timing(numpyTimes),
                            oursOverNumpy: ratios.isEmpty ? nil : Timing(ratios).median, numpyMaxDifference: numpyDiff))
        }
        return LocalScoreBenchmark(cases: out)
    }
}
