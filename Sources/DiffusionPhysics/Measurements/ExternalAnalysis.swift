import Foundation
import GSLKit

// Measurements on a user's own generated data (issue 14, Docs/YourData.md): samples, trajectories
// and clones exported as arrays from any sampler — a trained network, or the exact score — set
// beside the exact-empirical-score values for the same training set. Every estimator here is an
// existing one (NearestNeighbours, MemorizationFraction, TrajectoryCollapse.collapseTime,
// MeanEstimate, LevelCrossing, Histogram) applied to arrays instead of the toolkit's own runs.

// MARK: - Time conventions

/// The clock a user's times are written in, mapped to this toolkit's forward OU time t
/// (Docs/Theory.md §0 "Equivalent clocks", exact).
public enum TimeConvention: String, Sendable, Codable, CaseIterable {
    /// This toolkit's forward time t of the VP (OU) process dx = −x dt + √2 dW: identity.
    case vp
    /// VE / EDM noise level σ: t = ½ ln(1 + σ²); states are y = x e^{t} = a + σ z.
    case ve
    /// DDPM ᾱ: t = −½ ln ᾱ; states are x_t = √ᾱ a + √(1 − ᾱ) ε (the same variable as x).
    case ddpmAlphaBar = "ddpm-alphabar"
    /// DDPM step index k (0-based) of a linear β schedule: ᾱ_k = Π_{s≤k} (1 − β_s), t = −½ ln ᾱ_k.
    case ddpmSteps = "ddpm-steps"
}

/// A linear DDPM β schedule: β_s = β_start + (β_end − β_start) s/(L − 1), s = 0…L − 1
/// (default: the authors' L = 1000, 10⁻⁴ → 2·10⁻², Docs/Theory.md §0).
public struct DDPMSchedule: Sendable, Codable, Equatable {
    public var betaStart: Double
    public var betaEnd: Double
    public var steps: Int

    public init(betaStart: Double = 1e-4, betaEnd: Double = 2e-2, steps: Int = 1000) {
        self.betaStart = betaStart
        self.betaEnd = betaEnd
        self.steps = steps
    }

    /// Throws unless 0 < β_start ≤ β_end < 1 and L ≥ 2.
    public func validate() throws {
        guard steps >= 2 else { throw ModelError("a DDPM schedule needs at least 2 steps, got \(steps)") }
        guard betaStart > 0, betaEnd >= betaStart, betaEnd < 1 else {
            throw ModelError("a DDPM β schedule needs 0 < β_start ≤ β_end < 1, got \(betaStart) … \(betaEnd)")
        }
    }

    /// β_s.
    public func beta(_ s: Int) -> Double { betaStart + (betaEnd - betaStart) * Double(s) / Double(steps - 1) }

    /// ln ᾱ_k = Σ_{s≤k} ln(1 − β_s) (log1p, summed: exact to rounding).
    public func logAlphaBar(step k: Int) -> Double {
        var s = 0.0
        for j in 0...k { s += log1p(-beta(j)) }
        return s
    }
}

/// Maps a user's times to forward OU times t and their states to the x variable (Docs/Theory.md §0).
public struct TimeMap: Sendable, Codable, Equatable {
    public var convention: TimeConvention
    /// The β schedule (used by `ddpm-steps` only).
    public var schedule: DDPMSchedule

    public init(_ convention: TimeConvention = .vp, schedule: DDPMSchedule = DDPMSchedule()) {
        self.convention = convention
        self.schedule = schedule
    }

    /// The forward time t of the user's time `u`; throws (one line, naming the value) outside
    /// the convention's domain: t, σ ≥ 0; 0 < ᾱ ≤ 1; k an integer in 0..<L.
    public func time(_ u: Double) throws -> Double {
        guard u.isFinite else { throw ModelError("time value \(u) is not finite", parameter: "times") }
        switch convention {
        case .vp:
            guard u >= 0 else { throw ModelError("VP time \(u) < 0", parameter: "times") }
            return u
        case .ve:
            guard u >= 0 else { throw ModelError("VE σ = \(u) < 0", parameter: "times") }
            return 0.5 * log1p(u * u)
        case .ddpmAlphaBar:
            guard u > 0, u <= 1 else { throw ModelError("DDPM ᾱ = \(u) outside (0, 1]", parameter: "times") }
            return -0.5 * log(u)
        case .ddpmSteps:
            try schedule.validate()
            guard u == u.rounded(), u >= 0, u < Double(schedule.steps) else {
                throw ModelError("DDPM step \(u) is not an integer in 0..<\(schedule.steps)", parameter: "times")
            }
            return -0.5 * schedule.logAlphaBar(step: Int(u))
        }
    }

    /// Maps every time.
    public func times(_ values: [Double]) throws -> [Double] { try values.map(time) }

    /// s with x = s · state at forward time t: e^{−t} for VE states y = x e^{t}, else 1.
    public func stateScale(t: Double) -> Double { convention == .ve ? exp(-t) : 1 }

    /// The map as printed with every result.
    public var formula: String {
        switch convention {
        case .vp: return "vp: t = u (this toolkit's forward OU time; states x_t = a e^{-t} + sqrt(1 - e^{-2t}) xi)"
        case .ve: return "ve: u = sigma_VE, t = (1/2) ln(1 + sigma^2); states y = a + sigma z, x = y e^{-t}"
        case .ddpmAlphaBar: return "ddpm-alphabar: u = alphabar, t = -(1/2) ln alphabar; states x_t = sqrt(alphabar) a + sqrt(1 - alphabar) eps = x"
        case .ddpmSteps:
            return "ddpm-steps: u = step k (0-based), linear beta \(schedule.betaStart) -> \(schedule.betaEnd) over L = \(schedule.steps), t = -(1/2) sum_{s<=k} ln(1 - beta_s); states x"
        }
    }
}

// MARK: - Arrays from files

/// Reading and checking the arrays `diffphys analyze` takes (NPY; trailing axes flattened, so
/// B × C × H × W images are B × d). Every error is one line naming the file and the shapes.
public enum ExternalArrays {
    /// B × d samples (axes after the first flattened; their product must be d).
    public static func samples(path: String, dimension d: Int) throws -> Matrix<Double> {
        let a = try NPYLoader.readArray(path: path)
        guard a.shape.count >= 2 else {
            throw DataError("\(path): samples must be B × d (or B × C × H × W), got shape \(a.shapeText)")
        }
        try checkDimension(a, from: 1, d: d, path: path, layout: "B × d")
        return a.flattenedMatrix
    }

    /// A list of times: a 1-D (or K × 1) `.npy`, or a text/CSV file of numbers, or an inline
    /// comma list "0.1,0.5,1".
    public static func times(_ argument: String) throws -> [Double] {
        let looksLikeFile = FileManager.default.fileExists(atPath: argument)
        if !looksLikeFile {
            let parts = argument.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let values = parts.compactMap(Double.init)
            if !parts.isEmpty, values.count == parts.count {
                guard values.allSatisfy(\.isFinite) else { throw DataError("times '\(argument)': non-finite value") }
                return values
            }
            throw DataError("\(argument): no such times file (and not a comma list of numbers)")
        }
        let lower = argument.lowercased()
        if lower.hasSuffix(".npy") || lower.hasSuffix(".npy.gz") {
            let a = try NPYLoader.readArray(path: argument)
            guard a.shape.count == 1 || (a.shape.count == 2 && (a.shape[0] == 1 || a.shape[1] == 1)) else {
                throw DataError("\(argument): times must be a vector of K numbers, got shape \(a.shapeText)")
            }
            return a.values
        }
        let table = try CSVLoader.load(path: argument, label: .none, header: nil)
        guard table.n == 1 || table.d == 1 else {
            throw DataError("\(argument): times must be one row or one column of numbers, got \(table.n) × \(table.d)")
        }
        return table.points.storage
    }

    /// Trajectories B × K × d with their K times (the times' count must match axis 1).
    public static func trajectories(path: String, timeCount: Int, dimension d: Int) throws -> NPYArray {
        let a = try NPYLoader.readArray(path: path)
        guard a.shape.count >= 3 else {
            throw DataError("\(path): trajectories must be B × K × d (batch, time, features), got shape \(a.shapeText)")
        }
        guard a.shape[1] == timeCount else {
            throw DataError("\(path): shape \(a.shapeText) has K = \(a.shape[1]) time slices but \(timeCount) times were given")
        }
        try checkDimension(a, from: 2, d: d, path: path, layout: "B × K × d")
        return NPYArray(shape: [a.shape[0], a.shape[1], d], values: a.values)
    }

    /// Clone endpoints K × P × 2 × d (branch time, pair, clone, features) with their K branch times.
    public static func clones(path: String, timeCount: Int, dimension d: Int) throws -> NPYArray {
        let a = try NPYLoader.readArray(path: path)
        guard a.shape.count >= 4, a.shape[2] == 2 else {
            throw DataError("\(path): clones must be K × P × 2 × d (branch time, pair, the two clones, features), got shape \(a.shapeText)")
        }
        guard a.shape[0] == timeCount else {
            throw DataError("\(path): shape \(a.shapeText) has K = \(a.shape[0]) branch times but \(timeCount) times were given")
        }
        try checkDimension(a, from: 3, d: d, path: path, layout: "K × P × 2 × d")
        return NPYArray(shape: [a.shape[0], a.shape[1], 2, d], values: a.values)
    }

    /// Labels K × P × 2 for clone endpoints (e.g. a classifier's predictions).
    public static func cloneLabels(path: String, shape: [Int]) throws -> [Int] {
        let a = try NPYLoader.readArray(path: path)
        guard a.shape == shape else {
            throw DataError("\(path): endpoint labels must have shape \(NPYLoader.shapeText(shape)), got \(a.shapeText)")
        }
        return try a.values.enumerated().map { i, v in
            guard v == v.rounded() else { throw DataError("\(path): label \(v) at index \(i) is not an integer") }
            return Int(v)
        }
    }

    static func checkDimension(_ a: NPYArray, from axis: Int, d: Int, path: String, layout: String) throws {
        let got = a.shape.dropFirst(axis).reduce(1, *)
        guard got == d else {
            throw DataError("\(path): shape \(a.shapeText) gives d = \(got) per point (\(layout)) but the training set has d = \(d)")
        }
        guard a.shape.allSatisfy({ $0 >= 1 }) else { throw DataError("\(path): empty array, shape \(a.shapeText)") }
    }
}

// MARK: - Samples

/// f_mem and nearest training points of generated samples (Docs/Theory.md §3.4 M4).
public struct SampleAnalysis: Sendable, Codable, Equatable {
    /// Gap-ratio memorised fraction d₁/d₂ < 1/3 with binomial SE and bootstrap interval.
    public var memorization: MemorizationFraction
    /// Nearest and second-nearest training point of each sample.
    public var neighbours: [NeighbourReport]
    /// Number of samples whose nearest training point has each class (class names if text labels).
    public var nearestClassCounts: [String: Int]?

    /// `samples` (B × d, data space) against the training set. Samples from a time t > 0 in the x
    /// variable should be passed as y = x e^{t} (what `scale` does).
    public static func run(samples: Matrix<Double>, data: Dataset, scale: Double = 1, seed: UInt64) -> SampleAnalysis {
        var y = samples
        if scale != 1 { for j in y.storage.indices { y.storage[j] *= scale } }
        let label = scale == 1 ? "samples" : "samples × e^{t}"
        let memo = MemorizationFraction.measure(y, points: data.points, label: label, seed: seed)
        let reports = NearestNeighbours.find(samples: y, points: data.points)
        var counts: [String: Int]? = nil
        if let labels = data.labels {
            var c: [String: Int] = [:]
            for r in reports { c[data.className(labels[r.nearest]), default: 0] += 1 }
            counts = c
        }
        return SampleAnalysis(memorization: memo, neighbours: reports, nearestClassCounts: counts)
    }
}

// MARK: - Trajectories

/// Per-trajectory collapse of exported trajectories (Docs/Theory.md §3.4 M2, "nearest scaled training
/// point" definition): μ*(t_k) = argmin_μ |x(t_k) − a_μ e^{−t_k}| = argmin_μ |x(t_k) e^{t_k} − a_μ|.
public struct TrajectoryAnalysis: Sendable, Codable, Equatable {
    /// Forward times, decreasing (generation order t₀ = T > … > t_K).
    public var times: [Double]
    /// μ*(t_k) per trajectory (nearest scaled training point).
    public var nearestPath: [[Int]]
    /// μ_end per trajectory: nearest training point of the endpoint (if given), else μ*(t_K).
    public var ends: [Int]
    /// hat t_C per trajectory (`TrajectoryCollapse.collapseTime`).
    public var collapseTimes: [Double]
    public var mean: MeanEstimate
    public var median: Double
    public var histogram: Histogram
    /// C(t_k) = P(μ*(t_k) = μ_end); P(hat t_C ≥ t_k) ≤ C(t_k) exactly.
    public var commitment: [MeanEstimate]
    /// Where C(t) = ½ (linear interpolation, delta-method SE).
    public var commitmentHalf: LevelCrossing?
    /// Class commitment P(class(μ*(t_k)) = class(μ_end)) and the per-trajectory time of the last
    /// class change (labelled training sets only).
    public var classCommitment: [MeanEstimate]?
    public var classCommitmentTimes: MeanEstimate?
    /// f_mem of the endpoints (if given) or of x(t_K) e^{t_K}.
    public var memorization: MemorizationFraction

    /// `states` B × K × d in the x variable at `times` (forward times, any monotone order),
    /// optional `endpoints` B × d in data space.
    public static func run(states: NPYArray, times: [Double], data: Dataset, endpoints: Matrix<Double>? = nil,
                           seed: UInt64, histogramBins: Int = 12) throws -> TrajectoryAnalysis {
        let B = states.shape[0], K = states.shape[1], d = states.shape[2]
        guard K == times.count, d == data.d else { throw ModelError("trajectory shape \(states.shape) does not match \(times.count) times and d = \(data.d)") }
        guard B >= 2 else { throw ModelError("need at least 2 trajectories, got \(B)", parameter: "trajectories") }
        guard K >= 2 else { throw ModelError("need at least 2 times per trajectory, got \(K)", parameter: "times") }
        guard times.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw ModelError("forward times must be finite and ≥ 0", parameter: "times") }
        let increasing = zip(times, times.dropFirst()).allSatisfy { $0 < $1 }
        let decreasing = zip(times, times.dropFirst()).allSatisfy { $0 > $1 }
        guard increasing || decreasing else { throw ModelError("trajectory times must be strictly monotone", parameter: "times") }
        let order = decreasing ? Array(0..<K) : Array((0..<K).reversed())
        let grid = order.map { times[$0] }
        if let endpoints, endpoints.rows != B {
            throw ModelError("\(endpoints.rows) endpoints for \(B) trajectories")
        }
        // μ*(t_k): nearest training point of y = x e^{t} at each time slice.
        var path = [[Int]](repeating: [Int](repeating: 0, count: K), count: B)
        var slice = Matrix<Double>(rows: B, columns: d)
        for (k, source) in order.enumerated() {
            let scale = exp(grid[k])
            for b in 0..<B {
                let base = (b * K + source) * d
                for j in 0..<d { slice.storage[b * d + j] = states.values[base + j] * scale }
            }
            let reports = NearestNeighbours.find(samples: slice, points: data.points)
            for b in 0..<B { path[b][k] = reports[b].nearest }
        }
        let lastY = slice
        let ends: [Int]
        let memo: MemorizationFraction
        if let endpoints {
            ends = NearestNeighbours.find(samples: endpoints, points: data.points).map(\.nearest)
            memo = MemorizationFraction.measure(endpoints, points: data.points, label: "endpoints", seed: seed)
        } else {
            ends = path.map { $0[K - 1] }
            memo = MemorizationFraction.measure(lastY, points: data.points, label: "x(t_min) e^{t_min}", seed: seed)
        }
        let hat = (0..<B).map { TrajectoryCollapse.collapseTime(path: path[$0], end: ends[$0], times: grid) }
        let commitment = (0..<K).map { k in
            MeanEstimate.proportion(successes: (0..<B).filter { path[$0][k] == ends[$0] }.count, trials: B)
        }
        let sorted = hat.sorted()
        let median = B % 2 == 1 ? sorted[B / 2] : 0.5 * (sorted[B / 2 - 1] + sorted[B / 2])
        let top = max(sorted.last ?? 1, grid[K - 1], 1e-12) * (1 + 1e-9)
        var classCommitment: [MeanEstimate]? = nil, classTimes: MeanEstimate? = nil
        if let labels = data.labels {
            let classPath = path.map { $0.map { labels[$0] } }
            let classEnd = ends.map { labels[$0] }
            classCommitment = (0..<K).map { k in
                MeanEstimate.proportion(successes: (0..<B).filter { classPath[$0][k] == classEnd[$0] }.count, trials: B)
            }
            classTimes = MeanEstimate((0..<B).map { TrajectoryCollapse.collapseTime(path: classPath[$0], end: classEnd[$0], times: grid) })
        }
        return TrajectoryAnalysis(
            times: grid, nearestPath: path, ends: ends, collapseTimes: hat, mean: MeanEstimate(hat), median: median,
            histogram: Histogram(hat, bins: histogramBins, lower: 0, upper: top), commitment: commitment,
            commitmentHalf: LevelCrossing.find(times: grid, values: commitment.map(\.mean), errors: commitment.map(\.standardError), level: 0.5),
            classCommitment: classCommitment, classCommitmentTimes: classTimes, memorization: memo)
    }
}

// MARK: - Clones

/// φ(t) and φ_C(t) from exported clone endpoints (Docs/Theory.md §2.2 cloning protocol, §3.4 M1): the
/// class of an endpoint is the label of its nearest training point (or a label supplied for it),
/// its component the nearest training point itself.
public struct CloneAnalysis: Sendable, Codable, Equatable {
    public struct Point: Sendable, Codable, Equatable {
        public var t: Double
        /// φ(t): same class (nil without labels).
        public var sameClass: MeanEstimate?
        /// φ_C(t): same nearest training point.
        public var sameComponent: MeanEstimate
    }

    /// Increasing branch times.
    public var points: [Point]
    public var threshold: Double
    /// φ = threshold (the model's t_S, measured) and φ_C = ½ (the model's t_C).
    public var phiCrossing: LevelCrossing?
    public var phiCCrossing: LevelCrossing?
    /// Whether classes came from supplied endpoint labels rather than the nearest training point.
    public var suppliedLabels: Bool

    /// `clones` K × P × 2 × d endpoints (data space) at branch `times` (forward), optional
    /// `endpointLabels` (K·P·2, C order).
    public static func run(clones: NPYArray, times: [Double], data: Dataset, endpointLabels: [Int]? = nil,
                           threshold: Double = 0.775) throws -> CloneAnalysis {
        let K = clones.shape[0], P = clones.shape[1], d = clones.shape[3]
        guard K == times.count, clones.shape[2] == 2, d == data.d else {
            throw ModelError("clone shape \(clones.shape) does not match \(times.count) times and d = \(data.d)")
        }
        guard times.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw ModelError("branch times must be finite and > 0", parameter: "times") }
        guard Set(times).count == K else { throw ModelError("branch times must be distinct", parameter: "times") }
        let all = Matrix(rows: K * P * 2, columns: d, storage: clones.values)
        let nearest = NearestNeighbours.find(samples: all, points: data.points).map(\.nearest)
        let classes: [Int]? = endpointLabels ?? data.labels.map { l in nearest.map { l[$0] } }
        var points: [Point] = []
        for k in 0..<K {
            var sameC = 0, sameK = 0
            for p in 0..<P {
                let a = (k * P + p) * 2, b = a + 1
                if nearest[a] == nearest[b] { sameC += 1 }
                if let classes, classes[a] == classes[b] { sameK += 1 }
            }
            points.append(Point(t: times[k], sameClass: classes == nil ? nil : .proportion(successes: sameK, trials: P),
                                sameComponent: .proportion(successes: sameC, trials: P)))
        }
        points.sort { $0.t < $1.t }
        let ts = points.map(\.t)
        let phi = points.compactMap(\.sameClass)
        return CloneAnalysis(
            points: points, threshold: threshold,
            phiCrossing: phi.count == K ? LevelCrossing.find(times: ts, values: phi.map(\.mean), errors: phi.map(\.standardError), level: threshold) : nil,
            phiCCrossing: LevelCrossing.find(times: ts, values: points.map(\.sameComponent.mean), errors: points.map(\.sameComponent.standardError), level: 0.5),
            suppliedLabels: endpointLabels != nil)
    }
}

// MARK: - Exact-score reference

/// The exact-empirical-score values and the spectral predictions for a training set, to set a
/// model's t_S and t_C beside ("how far is your trained model from the exact score").
public struct ExactScoreReference: Sendable, Codable, Equatable {
    public var n: Int
    public var d: Int
    /// Λ and the t_S conventions (Docs/Theory.md §2.1).
    public var lambda: Double
    public var tS: SpeciationTimes
    /// Gaussian-spectrum t_C (Docs/Theory.md §3.2) and eq. 10 for gaussian/gmm2 specs.
    public var tCSpectrum: Double
    public var tCGaussian: Double?
    /// Exact empirical score: φ = threshold by Rao–Blackwellised forward samples (labelled data).
    public var tCross: LevelCrossing?
    /// Exact empirical score: planted E[Y2] = ½ (= φ_C = ½ exactly).
    public var tCY2: LevelCrossing?
    /// Forward samples per time behind the measured values (0: predictions only).
    public var samples: Int

    /// Written in the shared schema shapes (Docs/Schema.md): `tS` as every command writes it,
    /// `tC` with the primary measured E[Y2] = ½ time and the predictions, `tCross` as `{value, stderr}`.
    enum CodingKeys: String, CodingKey { case n, d, lambda, tS, tC, tCross, samples }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(n, forKey: .n)
        try c.encode(d, forKey: .d)
        try c.encode(lambda, forKey: .lambda)
        try c.encode(SpeciationTimeOutput(tS), forKey: .tS)
        var predicted: [String: Measured] = ["spectrum": .exact(tCSpectrum)]
        if let g = tCGaussian { predicted["gaussian"] = .exact(g) }
        try c.encode(CollapseTimeOutput(measured: tCY2.map { ["y2": $0.measured] } ?? [:], predicted: predicted), forKey: .tC)
        try c.encode(tCross?.measured, forKey: .tCross)
        try c.encode(samples, forKey: .samples)
    }

    /// Predictions always; measurements with `samples` forward samples per time (0 skips them).
    public static func compute(spec: DatasetSpec, data: Dataset, samples: Int, threshold: Double = 0.775,
                               seed: UInt64, threads: Int = Parallel.defaultThreads) throws -> ExactScoreReference {
        let pred = try CollapsePredictions(spec: spec, data: data)
        var tCross: LevelCrossing? = nil, tCY2: LevelCrossing? = nil
        if samples >= 2 {
            if let labels = data.labels, Set(labels).count >= 2 {
                let m = try SpeciationMeasurement(subject: .dataset(data, law: spec.population), threads: threads)
                let p = try m.predict(threshold: threshold)
                let r = try m.run(times: SpeciationMeasurement.autoTimes(p, count: 11, low: 0.3, high: 1.7), count: samples,
                                  estimators: [.rb], threshold: threshold, seed: seed)
                tCross = r.crossings[.rb]
            }
            let centre = pred.tCGaussian ?? pred.tCSpectrum
            let lo = max(1e-3, centre / 20), hi = max(3 * centre, 3)
            let grid = (0..<16).map { lo * pow(hi / lo, Double($0) / 15) }
            // Solved on the samples, the grid only brackets it: the value `diffphys collapse` reports.
            tCY2 = try ForwardSampling(score: try EmpiricalScore(data), threads: threads)
                .solveCrossing(level: 0.5, grid: grid, samples: samples, seed: seed) { $0.y2 }
        }
        return ExactScoreReference(n: data.n, d: data.d, lambda: pred.lambda, tS: SpeciationTheory.tS(lambda: pred.lambda),
                                   tCSpectrum: pred.tCSpectrum, tCGaussian: pred.tCGaussian, tCross: tCross, tCY2: tCY2,
                                   samples: samples)
    }
}

extension ExactScoreReference {
    /// The schema form drops the raw fields; a reference is written, not read back.
    public init(from decoder: Decoder) throws {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "ExactScoreReference is written, not read"))
    }
}
