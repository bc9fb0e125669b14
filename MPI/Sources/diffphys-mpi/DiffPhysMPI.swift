import ArgumentParser
import DiffusionMPI
import DiffusionPhysics
import DiffusionStudies
import Foundation

/// `diffphys-mpi`: the parts of `diffphys` that run across MPI ranks (README "MPI").
/// Run under `mpirun -np K` or Slurm's `srun`; every rank runs the same command.
@main
struct DiffPhysMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffphys-mpi",
        abstract: "diffphys across MPI ranks: the memorisation map, reproduce, and the sharded exact score.",
        subcommands: [MemorizationMapMPI.self, ReproduceMPI.self, CollapseMPI.self, SampleMPI.self, SpeciationMPI.self,
                      ShardedScoreCheck.self, ShardedBench.self])

    static func main() {
        // The same kernel selection as diffphys, before MPI starts (it may re-execute).
        BLASCore.selectAtStartup { FileHandle.standardError.write(Data("diffphys-mpi: warning: \($0)\n".utf8)) }
        let command: ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        let mpi = MPIHandle()
        do {
            try (command as? MPICommand)?.run(mpi: mpi)
            if !(command is MPICommand) {
                var c = command
                try c.run()
            }
        } catch {
            mpi.abort("\(error)")
        }
        mpi.finalize()
    }
}

/// A subcommand that runs on every rank with the MPI session.
protocol MPICommand: ParsableCommand {
    func run(mpi: MPIHandle) throws
}

extension MPICommand {
    func run() throws { throw ValidationError("run under diffphys-mpi") }
}

func numbers(_ text: String, option: String) throws -> [Double] {
    try text.split(separator: ",").map {
        guard let v = Double($0.trimmingCharacters(in: .whitespaces)), v.isFinite else {
            throw ValidationError("\(option): '\($0)' is not a finite number")
        }
        return v
    }
}

func integers(_ text: String, option: String) throws -> [Int] {
    try numbers(text, option: option).map { v in
        guard v == v.rounded(), v >= 1, v < 1e12 else { throw ValidationError("\(option): '\(v)' is not a positive integer") }
        return Int(v)
    }
}

/// `diffphys-mpi memorization-map`: same options and the same map.csv as `diffphys memorization-map`.
struct MemorizationMapMPI: MPICommand {
    static let configuration = CommandConfiguration(
        commandName: "memorization-map",
        abstract: "The memorisation map with its rows dealt across ranks; rank 0 writes DIR/map.csv, identical to one process.",
        discussion: """
        Options as `diffphys memorization-map`. Afterwards `diffphys memorization-map` with the same options finds \
        every row done and writes thresholds.csv (and --plot) without recomputing.
        Example: mpirun -np 4 diffphys-mpi memorization-map --data gaussian:d=64,n=100 --n 100,1000 --d 32,64 --times 0.1,0.3,1 --out map
        """)

    @Option(help: "Dataset spec (as diffphys).") var data: String = "gmm2:d=256,n=2000,mtilde=1,sigma=1"
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Comma-separated training-set sizes n.") var n: String
    @Option(help: "Comma-separated dimensions d (gaussian/gmm2 specs only).") var d: String?
    @Option(help: "Comma-separated forward times t > 0.") var times: String = "0.02,0.05,0.1,0.2,0.3,0.5,0.7,1,1.5,2,3"
    @Option(help: "Forward samples per time.") var samples: Int = 1000
    @Option(help: "Output directory (map.csv).") var out: String
    @Option(help: "Worker threads per rank (default 1: use ranks for cores).") var threads: Int = 1
    @Option(help: .hidden) var failOnRank: Int?

    func run(mpi: MPIHandle) throws {
        let map = try MemorizationMap(spec: try DatasetSpec.parse(data), ns: try integers(n, option: "--n"),
                                      ds: try d.map { try integers($0, option: "--d") }, times: try numbers(times, option: "--times"),
                                      samples: samples, seed: seed, threads: threads)
        let t0 = mpi.wallTime()
        let rows = try DistributedMemorizationMap(map: map, mpi: mpi).run(directory: out, failOnRank: failOnRank)
        guard let rows else { return }
        let csv = (out as NSString).appendingPathComponent("map.csv")
        print(String(format: "memorization-map: %d rows in %@ from %d ranks in %.2f s", rows.count, csv, mpi.size, mpi.wallTime() - t0))
        for h in MemorizationMap.thresholds(rows) {
            let m = h.measured.map { String(format: "%.4f ± %.4f", $0.t, $0.standardError) } ?? "(not bracketed)"
            print(String(format: "  n %7d  d %5d  alpha %.5f  measured t_C^{Y2} ", h.n, h.d, h.alpha) + m)
        }
    }
}

/// `diffphys-mpi reproduce`: same arguments, folders and files as `diffphys reproduce`.
struct ReproduceMPI: MPICommand {
    static let configuration = CommandConfiguration(
        commandName: "reproduce",
        abstract: "The lecture studies with their rows dealt across ranks; rank 0 writes the same folders, row files, reports and index as one process.",
        discussion: """
        Options as `diffphys reproduce`; NAME may also be a comma-separated list of studies. Studies whose rows are         independent per d (collapse-gmm, speciation-gmm) are split per d; the others run whole, one study per unit.
        Example: mpirun -np 4 diffphys-mpi reproduce all --quick --out results
        """)

    @Argument(help: "A study name, a comma-separated list, or 'all'.") var study: String
    @Flag(help: "Reduced sizes.") var quick = false
    @Option(help: "Output folder (shared by the ranks).") var out = "results"
    @Option(help: "Folder of study files (default: the package's Analyses/).") var analyses: String?
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Flag(help: "Start each study folder over instead of resuming.") var fresh = false
    @Option(help: "Worker threads per rank (default 1: use ranks for cores).") var threads: Int = 1
    @Option(help: .hidden) var failOnRank: Int?

    func run(mpi: MPIHandle) throws {
        let all = try StudyRunner.declarations(in: try analyses ?? StudyRunner.analysesDirectory())
        let names = study == "all" ? all.map(\.name) : study.split(separator: ",").map(String.init)
        let chosen = try names.map { name in
            guard let s = all.first(where: { $0.name == name }) else {
                throw ValidationError("no study named '\(name)' (known: \(all.map(\.name).joined(separator: ", ")))")
            }
            return s
        }
        let t0 = mpi.wallTime()
        let results = try DistributedReproduce(studies: chosen, quick: quick, out: out, seed: seed, threads: threads,
                                               fresh: fresh, mpi: mpi).run(failOnRank: failOnRank)
        guard let results else { return }
        for (s, outcome, seconds) in results {
            StudyRunner.summaryLines(s, outcome, seconds: seconds, out: out).forEach { print($0) }
        }
        if study == "all" {
            try StudyRunner.writeIndex(results, out: out, quick: quick)
            print("index: \(out)/index.md")
        }
        print(String(format: "reproduce: %d studies on %d ranks in %.1f s", results.count, mpi.size, mpi.wallTime() - t0))
    }
}

/// `diffphys-mpi collapse`: the planted E[Y2](t) curve of `diffphys collapse` on a sharded training set.
struct CollapseMPI: MPICommand {
    static let configuration = CommandConfiguration(
        commandName: "collapse",
        abstract: "E[Y2](t) from planted forward samples with the exact score sharded across ranks (each rank loads only its rows).",
        discussion: """
        Same draws as `diffphys collapse --data SPEC --times … --samples S --seed K` (its y2 column), equal up to         rounding (relative 4e-10, README "MPI"). Rank r holds rows [r·n/K, (r+1)·n/K) of the data set; fashion-mnist         specs are decoded only for those rows.
        Example: mpirun -np 2 diffphys-mpi collapse --data fashion-mnist:classes=0,1,2,3,4,5,6,7,8,9,per-class=6000 --times 0.2,0.5,1 --samples 512
        """)
    @Option(help: "Dataset spec (as diffphys).") var data: String = "gmm2:d=256,n=2000,mtilde=1,sigma=1"
    @Option(help: "Random seed (as diffphys).") var seed: UInt64 = 1
    @Option(help: "Comma-separated forward times t > 0.") var times: String
    @Option(help: "Forward samples per time.") var samples: Int = 2000
    @Option(help: "Samples per sharded evaluation.") var chunk: Int = 256
    @Flag(help: "Print JSON (Docs/Schema.md envelope; results: {ranks, curve: [{t, y2: {value, stderr}}], seconds, communicationBytes}).") var json = false

    func run(mpi: MPIHandle) throws {
        let t0 = mpi.wallTime()
        let spec = try DatasetSpec.parse(data)
        let (slice, total, rows) = try spec.loadSlice(seed: seed) { n in ShardedEmpiricalScore.shard(of: n, rank: mpi.rank, size: mpi.size) }
        let tLoad = mpi.wallTime()
        let score = try ShardedEmpiricalScore(slice: slice.points, globalCount: total, shard: rows, mpi: mpi)
        let r = try ShardedForwardSampling(score: score, chunkSize: chunk).y2Curve(times: try numbers(times, option: "--times"), samples: samples, seed: seed)
        var timing = [tLoad - t0, r.localSeconds, r.reduceSeconds, mpi.wallTime() - t0]
        mpi.allReduceMax(&timing)
        guard mpi.isRoot else { return }
        if json {
            // The schema envelope of `diffphys collapse` (Docs/Schema.md "Keys of results per command").
            struct Row: Encodable { var t: Double; var y2: Measured }
            struct Out: Encodable { var ranks: Int; var curve: [Row]; var seconds: [String: Double]; var communicationBytes: Int }
            let out = OutputEnvelope(command: "diffphys-mpi collapse", data: DataDescription(spec: spec.description, n: total, d: slice.d),
                                     parameters: ["samples": .integer(samples), "chunk": .integer(chunk),
                                                  "times": .numbers(try numbers(times, option: "--times")),
                                                  "seed": seed <= UInt64(Int.max) ? .integer(Int(seed)) : .text(String(seed))],
                                     results: Out(ranks: mpi.size, curve: r.curve.map { Row(t: $0.t, y2: $0.y2.measured) },
                                                  seconds: ["load": timing[0], "local": timing[1], "allReduce": timing[2], "total": timing[3]],
                                                  communicationBytes: r.bytes))
            print(try JSONOutput.encode(out))
            return
        }
        print("collapse (sharded): \(spec.description)  n = \(total), d = \(slice.d), \(mpi.size) ranks (\(rows.count) rows on rank 0), \(samples) samples, seed \(seed)")
        print("      t     E[Y2]      ±SE")
        for p in r.curve { print(String(format: "  %7.4f  %.6f  %.6f", p.t, p.y2.mean, p.y2.standardError)) }
        print(String(format: "load %.2f s, local %.2f s, all-reduce %.2f s, total %.2f s (slowest rank); %d bytes all-reduced per rank", timing[0], timing[1], timing[2], timing[3], r.bytes))
    }
}

/// Deterministic test data whose shards hold different maxima: two well separated blobs, one
/// per half of the rows, and particles planted near points of every shard at small and large t.
func shardedTestData(n: Int, d: Int, batch: Int, seed: UInt64) -> (points: Matrix<Double>, x: Matrix<Double>, times: [Double]) {
    let rng = RandomStream(seed: seed, stream: 7)
    var points = Matrix<Double>(rows: n, columns: d)
    for mu in 0..<n {
        let centre = mu < n / 2 ? -2.0 : 3.0
        for j in 0..<d { points[mu, j] = centre + rng.gaussian() }
    }
    var x = Matrix<Double>(rows: batch, columns: d)
    for i in 0..<batch {
        let mu = (i * 7919 + 13) % n
        for j in 0..<d { x[i, j] = 0.3 * points[mu, j] + 0.1 * rng.gaussian() }
    }
    return (points, x, [0.01, 0.1, 0.5, 2])
}

/// `diffphys-mpi sharded-score-check`: sharded vs one-process exact score on the same data.
struct ShardedScoreCheck: MPICommand {
    static let configuration = CommandConfiguration(
        commandName: "sharded-score-check",
        abstract: "Compare the sharded exact score with the unsharded one (rank 0); exit 1 if they differ by more than --tolerance (relative).")
    @Option var n: Int = 600
    @Option var d: Int = 24
    @Option(name: .customLong("B")) var batch: Int = 40
    @Option var tolerance: Double = 1e-12

    func run(mpi: MPIHandle) throws {
        let (points, x, times) = shardedTestData(n: n, d: d, batch: batch, seed: 5)
        let sharded = try ShardedEmpiricalScore(full: points, mpi: mpi)
        let full = mpi.isRoot ? try EmpiricalScore(points: points) : nil
        var worstScore = 0.0, worstLSE = 0.0, worstDensity = 0.0
        var argmaxRanks = Set<Int>()
        for t in times {
            let ws = sharded.makeWorkspace(capacity: batch)
            try sharded.evaluate(x, rows: batch, t: t, workspace: ws)
            var f = Matrix<Double>(rows: batch, columns: d)
            sharded.score(x, rows: batch, t: t, workspace: ws, into: &f)
            guard let full else { continue }
            let wf = full.makeWorkspace(capacity: batch)
            try full.evaluate(x, rows: batch, t: t, workspace: wf, outputs: .mean)
            var g = Matrix<Double>(rows: batch, columns: d)
            full.score(x, rows: batch, t: t, workspace: wf, into: &g)
            for i in 0..<batch {
                let owner = (0..<mpi.size).first { ShardedEmpiricalScore.shard(of: n, rank: $0, size: mpi.size).contains(wf.argmax[i]) }!
                argmaxRanks.insert(owner)
                var scale = 0.0, diff = 0.0
                for j in 0..<d { scale = max(scale, abs(g[i, j])); diff = max(diff, abs(f[i, j] - g[i, j])) }
                worstScore = max(worstScore, diff / scale)
                worstLSE = max(worstLSE, abs(ws.logSumExp[i] - wf.logSumExp[i]) / max(1, abs(wf.logSumExp[i])))
                worstDensity = max(worstDensity, abs(ws.logDensity[i] - wf.logDensity[i]) / max(1, abs(wf.logDensity[i])))
            }
        }
        guard mpi.isRoot else { return }
        let ok = worstScore <= tolerance && worstLSE <= tolerance && worstDensity <= tolerance && (mpi.size == 1 || argmaxRanks.count > 1)
        print(String(format: "sharded-score-check: %d ranks, n=%d d=%d B=%d, maxima on ranks %@: max relative difference score %.2e, log-sum-exp %.2e, ln P %.2e (tolerance %.0e) %@",
                     mpi.size, n, d, batch, argmaxRanks.sorted().map(String.init).joined(separator: ","), worstScore, worstLSE, worstDensity, tolerance, ok ? "OK" : "FAILED"))
        if !ok { throw ModelError("the sharded score differs from the unsharded one") }
    }
}

/// `diffphys-mpi sharded-bench`: time one sharded score step (each rank generates only its slice).
struct ShardedBench: MPICommand {
    static let configuration = CommandConfiguration(
        commandName: "sharded-bench",
        abstract: "Median time of one sharded exact-score step (B particles, n points split across ranks, d dims) and its communication.")
    @Option(name: .customLong("B")) var batch: Int = 256
    @Option var n: Int = 40_000
    @Option var d: Int = 784
    @Option(name: .customLong("repeat")) var repetitions: Int = 5

    func run(mpi: MPIHandle) throws {
        let range = ShardedEmpiricalScore.shard(of: n, rank: mpi.rank, size: mpi.size)
        let rng = RandomStream(seed: 1, stream: UInt64(1000 + mpi.rank))
        let slice = Matrix(rows: range.count, columns: d, storage: (0..<(range.count * d)).map { _ in rng.uniform() })
        let xr = RandomStream(seed: 1, stream: 999)
        let x = Matrix(rows: batch, columns: d, storage: (0..<(batch * d)).map { _ in xr.uniform() * 0.37 + 0.2 * xr.gaussian() })
        let score = try ShardedEmpiricalScore(slice: slice, globalCount: n, shard: range, mpi: mpi)
        let ws = score.makeWorkspace(capacity: batch)
        var steps: [Double] = [], locals: [Double] = [], reduces: [Double] = []
        for k in 0...repetitions {
            mpi.barrier()
            let t0 = mpi.wallTime()
            try score.evaluate(x, rows: batch, t: 1, workspace: ws)
            var times = [mpi.wallTime() - t0, score.lastLocalSeconds, score.lastReduceSeconds]
            mpi.allReduceMax(&times)
            if k > 0 { steps.append(times[0]); locals.append(times[1]); reduces.append(times[2]) }
        }
        guard mpi.isRoot else { return }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
        let bytes = score.bytesPerStep(rows: batch)
        print("sharded-bench: BLAS core \(BLASCore.coreName)")
        print(String(format: "sharded-bench: ranks=%d B=%d n=%d d=%d (%d points per rank, %.0f MB of data per rank): step %.1f ms [min %.1f, max %.1f] = local %.1f ms + all-reduce %.2f ms; %.1f GFLOP/s; communication %d bytes per rank per step (%.2f MB)",
                     mpi.size, batch, n, d, range.count, Double(range.count * d * 8) / 1e6, median(steps) * 1e3, steps.min()! * 1e3, steps.max()! * 1e3,
                     median(locals) * 1e3, median(reduces) * 1e3, 4 * Double(batch * n * d) / median(steps) / 1e9, bytes, Double(bytes) / 1e6))
    }
}

/// Loads SPEC on every rank and keeps rank r's rows [r·n/K, (r+1)·n/K) for the sharded score (the
/// labels of all n points are kept: they are small).
func shardedModel(spec: String, seed: UInt64, mpi: MPIHandle) throws -> (model: ShardedScoreModel, data: Dataset) {
    let data = try DatasetSpec.parse(spec).load(seed: seed)
    let sharded = try ShardedEmpiricalScore(full: data.points, mpi: mpi)
    return (try ShardedScoreModel(sharded: sharded, labels: data.labels), data)
}

/// `diffphys-mpi sample`: backward-SDE samples on the sharded exact score.
struct SampleMPI: MPICommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate samples by the backward SDE with the exact score sharded across ranks (the library's BackwardSDE on ShardedScoreModel).",
        discussion: """
        The same streams as one process: trajectory i uses stream i; the final step is an exact posterior draw (a training \
        point, drawn across the shards). Equal to one rank up to summation order (README "MPI").
        Example: mpirun -np 2 diffphys-mpi sample --data gmm2:d=64,n=2000 --count 256 --json
        """)
    @Option(help: "Dataset spec (as diffphys).") var data: String = "gmm2:d=64,n=2000,mtilde=1,sigma=1"
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Number of samples (default: 64).") var count: Int = 64
    @Option(help: "Backward-SDE steps (default: 300, geometric).") var steps: Int = SDESettings.defaultSteps
    @Option(name: .customLong("T"), help: "Start time T (default: 6).") var horizon: Double = SDESettings.defaultHorizon
    @Option(help: "Final time t_min (default: 0.001).") var tMin: Double = SDESettings.defaultTMin
    @Flag(help: "Print JSON: {ranks, n, d, samples: [[x]], finalStates: [[x]], components: [μ], communicationBytes, seconds}.") var json = false

    func run(mpi: MPIHandle) throws {
        guard count >= 1 else { throw ValidationError("--count must be ≥ 1") }
        let t0 = mpi.wallTime()
        let (model, data) = try shardedModel(spec: data, seed: seed, mpi: mpi)
        let grid = try SDESettings(horizon: horizon, tMin: tMin, steps: steps).timeGrid()
        let run = try BackwardSDE(model: model, finalStep: .posteriorDraw, threads: 1).run(grid: grid, start: .prior(count: count), seed: seed)
        var timing = [mpi.wallTime() - t0]
        mpi.allReduceMax(&timing)
        guard mpi.isRoot else { return }
        if json {
            struct Out: Codable { var ranks, n, d: Int; var samples, finalStates: [[Double]]; var components: [Int]; var communicationBytes: Int; var seconds: Double }
            print(try JSONOutput.encode(Out(ranks: mpi.size, n: data.n, d: data.d, samples: (0..<count).map { run.samples.row($0) },
                                            finalStates: (0..<count).map { run.lastStates.row($0) }, components: run.finalComponents,
                                            communicationBytes: model.communicationBytes, seconds: timing[0])))
            return
        }
        print("sample (sharded): \(data.name) n = \(data.n), d = \(data.d), \(mpi.size) ranks, \(count) samples, \(steps) steps, seed \(seed)")
        let drawn = Dictionary(grouping: run.finalComponents, by: { $0 }).count
        print(String(format: "  %d distinct training points drawn; %.2f s (slowest rank); %d bytes all-reduced per rank", drawn, timing[0], model.communicationBytes))
    }
}

/// `diffphys-mpi speciation`: φ(t) by clones and by the Rao–Blackwellised forward estimator on the sharded score.
struct SpeciationMPI: MPICommand {
    static let configuration = CommandConfiguration(
        commandName: "speciation",
        abstract: "φ(t) on a labelled data set with the exact score sharded across ranks: clones (CloningExperiment) and the Rao–Blackwellised forward estimator (ForwardClassAgreement).",
        discussion: """
        The library's estimators on ShardedScoreModel, with the streams of one process: equal to one rank up to summation \
        order (README "MPI").
        Example: mpirun -np 2 diffphys-mpi speciation --data gmm2:d=64,n=2000 --times 1,2,3 --pairs 200 --samples 1000
        """)
    @Option(help: "Labelled dataset spec (as diffphys).") var data: String = "gmm2:d=64,n=2000,mtilde=1,sigma=1"
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Comma-separated branch / forward times.") var times: String
    @Option(help: "Clone pairs (0: skip the clones; default: 200).") var pairs: Int = 200
    @Option(help: "Forward samples of the Rao–Blackwellised estimator (0: skip; default: 2000).") var samples: Int = 2000
    @Option(help: "Backward-SDE steps of the clones (default: 300, geometric).") var steps: Int = SDESettings.defaultSteps
    @Option(name: .customLong("T"), help: "Start time T of the clones (default: 6).") var horizon: Double = SDESettings.defaultHorizon
    @Flag(help: "Print JSON: {ranks, n, d, clones: [{t, phi, phiStderr, phiComponent}], forward: [{t, phi, phiStderr, originClass}], communicationBytes, seconds}.") var json = false

    func run(mpi: MPIHandle) throws {
        guard pairs >= 0, samples >= 0, pairs != 1, samples != 1 else { throw ValidationError("--pairs and --samples must be 0 or ≥ 2") }
        let t0 = mpi.wallTime()
        let ts = try numbers(times, option: "--times")
        let (model, data) = try shardedModel(spec: data, seed: seed, mpi: mpi)
        guard model.classCount >= 2 else { throw ModelError("speciation needs a labelled data set with at least two classes") }
        struct Clone: Codable { var t, phi, phiStderr, phiComponent: Double }
        struct Forward: Codable { var t, phi, phiStderr, originClass: Double }
        var clones: [Clone] = [], forward: [Forward] = []
        if pairs > 0 {
            let r = try CloningExperiment(model: model, settings: SDESettings(horizon: horizon, steps: steps), threads: 1)
                .run(branchTimes: ts, pairs: pairs, seed: seed)
            clones = r.map { Clone(t: $0.t, phi: $0.sameClass?.mean ?? .nan, phiStderr: $0.sameClass?.standardError ?? .nan, phiComponent: $0.sameComponent.mean) }
        }
        if samples > 0 {
            let origins = try UTurnOrigins(points: data.points, components: Array(0..<data.n), uniform: true)
            let r = try ForwardClassAgreement(model: model, threads: 1).estimate(times: ts, origins: origins, samples: samples, seed: seed)
            forward = r.map { Forward(t: $0.t, phi: $0.agreement.mean, phiStderr: $0.agreement.standardError, originClass: $0.originClass.mean) }
        }
        var timing = [mpi.wallTime() - t0]
        mpi.allReduceMax(&timing)
        guard mpi.isRoot else { return }
        if json {
            struct Out: Codable { var ranks, n, d: Int; var clones: [Clone]; var forward: [Forward]; var communicationBytes: Int; var seconds: Double }
            print(try JSONOutput.encode(Out(ranks: mpi.size, n: data.n, d: data.d, clones: clones, forward: forward,
                                            communicationBytes: model.communicationBytes, seconds: timing[0])))
            return
        }
        print("speciation (sharded): \(data.name) n = \(data.n), d = \(data.d), \(mpi.size) ranks, seed \(seed)")
        for c in clones { print(String(format: "  clones   t %.4f  φ %.5f ± %.5f  (same point %.5f)", c.t, c.phi, c.phiStderr, c.phiComponent)) }
        for f in forward { print(String(format: "  forward  t %.4f  φ %.5f ± %.5f  (origin class %.5f)", f.t, f.phi, f.phiStderr, f.originClass)) }
        print(String(format: "  %.2f s (slowest rank); %d bytes all-reduced per rank", timing[0], model.communicationBytes))
    }
}
