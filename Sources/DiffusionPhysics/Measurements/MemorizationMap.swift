import Foundation
import GSLKit

/// One cell of the memorisation map: measured planted E[Y2] and f^e at (n, d, t), beside the
/// predictions of the cell (Docs/Theory.md §3.2–3.4).
public struct MemorizationMapRow: Sendable, Codable, Equatable {
    public var n: Int
    public var d: Int
    public var alpha: Double
    public var t: Double
    public var y2: Double
    public var y2Stderr: Double
    public var fe: Double
    public var feStderr: Double
    public var feRatio: Double
    /// Eq. 10 t_C (nan for real data) and the Gaussian-spectrum t_C of the cell's data.
    public var tCGaussian: Double
    public var tCSpectrum: Double
    /// t_S = ½ ln Λ of the cell's data.
    public var tS: Double
    public var samples: Int
    public var seed: UInt64

    public static let header = ["n", "d", "alpha", "t", "y2", "y2Stderr", "fe", "feStderr", "feRatio",
                                "tCGaussian", "tCSpectrum", "tS", "samples", "seed"]

    var cells: [CSVValue] {
        [.integer(n), .integer(d), .number(alpha), .number(t), .number(y2), .number(y2Stderr), .number(fe),
         .number(feStderr), .number(feRatio), .number(tCGaussian), .number(tCSpectrum), .number(tS), .integer(samples), .text(String(seed))]
    }

    init(n: Int, d: Int, alpha: Double, t: Double, y2: Double, y2Stderr: Double, fe: Double, feStderr: Double,
         feRatio: Double, tCGaussian: Double, tCSpectrum: Double, tS: Double, samples: Int, seed: UInt64) {
        self.n = n; self.d = d; self.alpha = alpha; self.t = t; self.y2 = y2; self.y2Stderr = y2Stderr
        self.fe = fe; self.feStderr = feStderr; self.feRatio = feRatio; self.tCGaussian = tCGaussian
        self.tCSpectrum = tCSpectrum; self.tS = tS; self.samples = samples; self.seed = seed
    }

    /// Parses a CSV row written by `MemorizationMap` (header order).
    init(csv cells: [String]) throws {
        guard cells.count == Self.header.count else { throw OutputError("memorisation-map row has \(cells.count) cells, expected \(Self.header.count)") }
        func num(_ i: Int) throws -> Double {
            let s = cells[i]
            if s == "nan" { return .nan }
            if s == "inf" { return .infinity }
            if s == "-inf" { return -.infinity }
            guard let v = Double(s) else { throw OutputError("memorisation-map CSV: '\(s)' is not a number") }
            return v
        }
        guard let n = Int(cells[0]), let d = Int(cells[1]), let samples = Int(cells[12]), let seed = UInt64(cells[13]) else {
            throw OutputError("memorisation-map CSV: bad n, d, samples or seed in \(cells.joined(separator: ","))")
        }
        self.init(n: n, d: d, alpha: try num(2), t: try num(3), y2: try num(4), y2Stderr: try num(5), fe: try num(6),
                  feStderr: try num(7), feRatio: try num(8), tCGaussian: try num(9), tCSpectrum: try num(10),
                  tS: try num(11), samples: samples, seed: seed)
    }
}

/// Measured vs predicted memorisation threshold of one (n, d) (Docs/Theory.md §3.2, §3.4).
public struct MemorizationThreshold: Sendable, Codable, Equatable {
    public var n: Int
    public var d: Int
    public var alpha: Double
    /// t where the planted E[Y2] = ½ (nil if the time grid does not bracket it).
    public var measured: LevelCrossing?
    /// t where f^e/α = 0.1.
    public var measuredEntropy10: LevelCrossing?
    public var tCGaussian: Double?
    public var tCSpectrum: Double
    public var tS: Double
}

/// The memorisation-threshold map: planted E[Y2](t) and f^e(t) over a grid of (n, d) (Docs/Theory.md §3,
/// §6 "sweeps of t_C over (n, d)").
///
/// Cells (n, d) run in the order given (n outer, d inner), times in the order given. Every row
/// is appended to a `ResumableCSV` as soon as it is computed; rows already in the file are
/// skipped, and since each row depends only on (seed, n, d, t) — the data of a gaussian/gmm2
/// cell are points 0..<n of the seed's streams, a real-data cell is a seeded subsample, and the
/// forward samples use common random numbers per sample index — a resumed run writes the same file
/// as an uninterrupted one.
public struct MemorizationMap: Sendable {
    public var spec: DatasetSpec
    public var ns: [Int]
    /// Dimensions (gaussian/gmm2 only); nil keeps the spec's d.
    public var ds: [Int]?
    public var times: [Double]
    public var samples: Int
    public var seed: UInt64
    public var threads: Int

    public init(spec: DatasetSpec, ns: [Int], ds: [Int]? = nil, times: [Double], samples: Int, seed: UInt64,
                threads: Int = Parallel.defaultThreads) throws {
        guard !ns.isEmpty, ns.allSatisfy({ $0 >= 2 }) else { throw ModelError("--n needs values ≥ 2") }
        guard Set(ns).count == ns.count else { throw ModelError("--n lists a value twice") }
        if let ds {
            guard !ds.isEmpty, ds.allSatisfy({ $0 >= 1 }) else { throw ModelError("--d needs values ≥ 1") }
            guard Set(ds).count == ds.count else { throw ModelError("--d lists a value twice") }
            switch spec {
            case .gaussian, .gmm2: break
            default: throw ModelError("--d applies to gaussian/gmm2 specs only (real data has a fixed d)")
            }
        }
        guard !times.isEmpty, times.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw ModelError("times must be finite and > 0") }
        guard Set(times).count == times.count else { throw ModelError("a time is listed twice") }
        guard samples >= 2 else { throw ModelError("need at least 2 forward samples per time") }
        self.spec = spec; self.ns = ns; self.ds = ds; self.times = times; self.samples = samples
        self.seed = seed; self.threads = threads
    }

    /// The cost of one row for progress (ProgressReporter): n·d per forward sample.
    static func rowCost(n: Int, d: Int) -> Double { Double(n) * Double(d) }

    /// The cost of solving one cell's thresholds, in rows: three Brent crossings (E[Y2] = ½, f^e/α =
    /// 0.1, 0.05) of about 125 levels each on the fixed sample set (CPU time measured on gmm2).
    static let solveRows = 375.0

    /// The total cost of the sweep and its solved thresholds for progress: Σ over cells of
    /// (times + `solveRows`) · n·d (d from the spec when not swept).
    public var progressCost: Double {
        cells.reduce(0.0) { $0 + (Double(times.count) + Self.solveRows) * Self.rowCost(n: $1.n, d: $1.d ?? spec.dimensionHint ?? 1) }
    }

    /// The (n, d) cells in run order.
    public var cells: [(n: Int, d: Int?)] {
        ns.flatMap { n in (ds.map { $0.map(Optional.some) } ?? [nil]).map { (n: n, d: $0) } }
    }

    /// The data set of one cell.
    public func dataset(n: Int, d: Int?) throws -> (DatasetSpec, Dataset) {
        switch spec {
        case .gaussian(let d0, _, let sigma):
            let s = DatasetSpec.gaussian(d: d ?? d0, n: n, sigma: sigma)
            return (s, try s.load(seed: seed))
        case .gmm2(let d0, _, let m, let sigma, let dir):
            let s = DatasetSpec.gmm2(d: d ?? d0, n: n, mTilde: m, sigma: sigma, direction: dir)
            return (s, try s.load(seed: seed))
        default:
            let all = try spec.load(seed: seed)
            guard n <= all.n else { throw ModelError("\(spec): cannot subsample n = \(n) from \(all.n) points") }
            return (spec, try all.subsampled(n, seed: seed))
        }
    }

    /// Runs (or resumes) the sweep into `csvPath`. `stopAfter` stops after that many NEW rows (an
    /// injected interruption, for tests); the return value is every row in the file, in file order.
    @discardableResult
    public func run(csvPath: String, stopAfter: Int? = nil, progress: ProgressReporter? = nil) throws -> [MemorizationMapRow] {
        let csv = try ResumableCSV(path: csvPath, header: MemorizationMapRow.header)
        var rows = try csv.existingRows.map { try MemorizationMapRow(csv: $0) }
        if let r = rows.first(where: { $0.samples != samples || $0.seed != seed }) {
            throw ModelError("\(csvPath) holds rows made with --samples \(r.samples) --seed \(r.seed); use the same options to resume, or another --out")
        }
        // A row is identified by (n, d, t) through its exact text.
        var done = Set(csv.existingRows.map { "\($0[0]),\($0[1]),\($0[3])" })
        var written = 0
        // Progress in posterior evaluations (n·d per sample): a row of a large cell costs more.
        for r in rows { progress?.advance(cost: Self.rowCost(n: r.n, d: r.d)) }
        for cell in cells {
            let dKey = cell.d ?? spec.dimensionHint
            let pending = times.filter { t in !done.contains("\(cell.n),\(dKey.map(String.init) ?? "?"),\(CSVValue.number(t).text)") }
            if pending.isEmpty { continue }
            let (cellSpec, data) = try dataset(n: cell.n, d: cell.d)
            let pred = try CollapsePredictions(spec: cellSpec, data: data)
            let measurement = CollapseMeasurement(score: try EmpiricalScore(data), threads: threads)
            for t in times {
                let key = "\(data.n),\(data.d),\(CSVValue.number(t).text)"
                if done.contains(key) { continue }
                if let stopAfter, written >= stopAfter { return rows }
                let s = try measurement.plantedSamples(t: t, samples: samples, seed: seed)
                let y2 = MeanEstimate(s.y2)
                let fe = MeanEstimate(s.logWOrigin.map { -$0 / Double(data.d) })
                let row = MemorizationMapRow(n: data.n, d: data.d, alpha: pred.alpha, t: t, y2: y2.mean, y2Stderr: y2.standardError,
                                             fe: fe.mean, feStderr: fe.standardError, feRatio: fe.mean / pred.alpha,
                                             tCGaussian: pred.tCGaussian ?? .nan, tCSpectrum: pred.tCSpectrum, tS: pred.tS,
                                             samples: samples, seed: seed)
                try csv.append(row.cells)
                rows.append(row)
                done.insert(key)
                written += 1
                progress?.advance(cost: Self.rowCost(n: data.n, d: data.d))
            }
        }
        return rows
    }

    /// Measured vs predicted threshold per (n, d) with the measured times solved, not interpolated:
    /// each cell's data are rebuilt from the spec and seed, and t where E[Y2] = ½ (and f^e/α = 0.1)
    /// is found by Brent on the rows' own samples, bracketed by the cell's times
    /// (`CollapseMeasurement.measuredTimes`). Equal to `diffphys collapse`'s value for the same
    /// data, samples and seed; interpolated values remain where a cell's times show no bracket.
    public func solvedThresholds(_ rows: [MemorizationMapRow], progress: ProgressReporter? = nil) throws -> [MemorizationThreshold] {
        try Self.thresholds(rows).map { h in
            defer { progress?.advance(cost: Self.solveRows * Self.rowCost(n: h.n, d: h.d)) }
            let g = rows.filter { $0.n == h.n && $0.d == h.d }.sorted { $0.t < $1.t }
            let (_, data) = try dataset(n: h.n, d: spec.dimensionHint == nil ? nil : h.d)
            let measurement = CollapseMeasurement(score: try EmpiricalScore(data), threads: threads)
            let fallback = MeasuredCollapseTimes(y2: h.measured, entropy10: h.measuredEntropy10)
            let solved = try measurement.measuredTimes(grid: g.map(\.t), samples: samples, seed: seed, fallback: fallback)
            var out = h
            out.measured = solved.y2
            out.measuredEntropy10 = solved.entropy10
            return out
        }
    }

    /// Measured vs predicted threshold per (n, d), from the rows (any order), interpolated on
    /// each cell's grid.
    public static func thresholds(_ rows: [MemorizationMapRow]) -> [MemorizationThreshold] {
        var order: [String] = []
        var groups: [String: [MemorizationMapRow]] = [:]
        for r in rows {
            let k = "\(r.n),\(r.d)"
            if groups[k] == nil { order.append(k) }
            groups[k, default: []].append(r)
        }
        return order.map { k in
            let g = groups[k]!.sorted { $0.t < $1.t }
            let first = g[0]
            return MemorizationThreshold(
                n: first.n, d: first.d, alpha: first.alpha,
                measured: LevelCrossing.find(times: g.map(\.t), values: g.map(\.y2), errors: g.map(\.y2Stderr), level: 0.5),
                measuredEntropy10: LevelCrossing.find(times: g.map(\.t), values: g.map(\.feRatio),
                                                      errors: g.map { $0.feStderr / $0.alpha }, level: 0.1),
                tCGaussian: first.tCGaussian.isNaN ? nil : first.tCGaussian, tCSpectrum: first.tCSpectrum, tS: first.tS)
        }
    }
}

extension DatasetSpec {
    /// d of a gaussian/gmm2 spec (nil for real data, whose d is known only after loading).
    var dimensionHint: Int? {
        switch self {
        case .gaussian(let d, _, _), .gmm2(let d, _, _, _, _): return d
        default: return nil
        }
    }
}
