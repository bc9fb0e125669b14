import ArgumentParser
import DiffusionBench
import DiffusionPhysics
import Foundation
import GSLKit

extension ScoreKind: ExpressibleByArgument {}

/// `--score exact|ls|els|els-circ|bbels`, `--patch P`, `--patch-schedule FILE`, `--image-shape H×W[×C]`:
/// which exact score a command uses (Docs/LocalScores.md §1).
struct LocalScoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Score: exact (global empirical), or a local machine ls, els, els-circ, bbels (Docs/LocalScores.md §1) (default: exact).",
                               valueName: "kind"))
    var score: ScoreKind = .exact

    @Option(help: ArgumentHelp("Patch size P of a local score, odd ≥ 1 (default: 3).", valueName: "P"))
    var patch: Int?

    @Option(help: ArgumentHelp("Patch sizes as a function of t: a CSV with columns t, patch (e.g. Data/patch-schedules/…); replaces --patch (default: none).",
                               valueName: "file"))
    var patchSchedule: String?

    @Option(help: ArgumentHelp("Image shape H×W or H×W×C of the data (default: from the data: Fashion-MNIST 28x28, digits 8x8, n×H×W[×C] .npy).",
                               valueName: "HxW[xC]"))
    var imageShape: String?

    static let defaultPatch = 3

    func validate() throws {
        if let patch, patch < 1 || patch % 2 == 0 { throw ValidationError("--patch must be odd and ≥ 1 (got \(patch))") }
        if patch != nil, patchSchedule != nil { throw ValidationError("give --patch or --patch-schedule, not both") }
        if score == .exact, patch != nil || patchSchedule != nil {
            throw ValidationError("--patch and --patch-schedule need a local --score (ls, els, els-circ, bbels)")
        }
        if let imageShape { _ = try ImageShape(parsing: imageShape) }
    }

    var machine: LocalMachine? { score.machine }

    var rule: PatchRule {
        get throws {
            if let patchSchedule { return .schedule(try PatchSchedule.load(path: patchSchedule)) }
            return .fixed(patch ?? Self.defaultPatch)
        }
    }

    /// The local machine on `data` (nil for `--score exact`).
    func model(_ data: Dataset) throws -> LocalScore? {
        guard let machine else { return nil }
        let shape = try imageShape.map { try ImageShape(parsing: $0) }
        // Memory before allocating: the source masses (n × HW) and one im2col block per group.
        if let s = shape ?? data.imageShape {
            let p = Double(try rule.allPatches.max() ?? 1)
            try MemoryBudget.check([MemoryBudget.Item(option: "--data", value: data.name, values: Double(data.n) * Double(s.pixels) * 2),
                                    MemoryBudget.Item(option: "--patch", value: Int(p), values: 2 * Double(s.pixels) * p * p * Double(s.channels))])
        }
        return try LocalScore(machine: machine, dataset: data, shape: shape, patch: try rule)
    }

    var label: String {
        guard machine != nil else { return "exact" }
        if let patchSchedule { return "\(score.rawValue), patch schedule \(patchSchedule)" }
        return "\(score.rawValue), P = \(patch ?? Self.defaultPatch)"
    }
}

extension ScoreCommand {
    struct LocalOutput: Encodable {
        var data: String
        var machine: String
        var patch: Int
        var t: Double
        var imageShape: [Int]
        var x: [Double]
        /// Per coordinate, row-major (H, W, C).
        var posteriorMean: [Double]
        var score: [Double]
        /// Per pixel, row-major (H, W).
        var y2: [Double]
        var entropy: [Double]
        var dictionarySize: [Int]
        var conventions = "local score (Docs/LocalScores.md §1): F_i = (e^{-t} m_i - x_i)/Delta_t, m_i = sum_phi w_phi^(i) phi(0); arrays row-major (H, W, C); y2, entropy per pixel (H, W)"
    }

    /// `diffphys score --score ls|els|els-circ|bbels`: per-pixel m̂, F, Y2 and entropy.
    func runLocal(_ model: LocalScore, data: Dataset) throws {
        let point = try parseNumbers(x, option: "--x")
        let post = try model.posterior(at: point, t: t, sources: false)
        let s = model.shape
        let out = LocalOutput(data: data.name, machine: model.machine.rawValue, patch: post.patch, t: t,
                              imageShape: [s.height, s.width, s.channels], x: point, posteriorMean: post.posteriorMean,
                              score: post.score, y2: post.participationRatio, entropy: post.entropy,
                              dictionarySize: post.dictionarySizes)
        if json {
            try printJSON(command: "score", data: DataDescription(spec: data.name, n: data.n, d: data.d),
                          parameters: ["score": .text(model.machine.rawValue), "patch": .integer(post.patch), "t": .number(t)], results: out)
        } else {
            let hw = Double(s.pixels)
            print("data: \(data.name)   score: \(model.machine.rawValue), P = \(post.patch)   image \(s)   t = \(t)")
            print("score F(x,t) = \(post.score.prefix(8).map { String(format: "%.10g", $0) }.joined(separator: ", "))\(post.score.count > 8 ? ", …" : "")")
            print("mean over pixels: Y2_i = \(String(format: "%.6g", post.participationRatio.reduce(0, +) / hw))   "
                  + "S_i = \(String(format: "%.6g", post.entropy.reduce(0, +) / hw)) nats   |D_i| = \(post.dictionarySizes.min()!)…\(post.dictionarySizes.max()!)")
        }
    }
}

extension SampleCommand {
    struct LocalSampleRecord: Encodable {
        var sample: [Double]
        var nearestTrainingPoint: Int
        /// d₁/d₂ to the training set; memorised iff < 1/3 (Docs/Theory.md §3.4 M4).
        var gapRatio: Double
        /// ELS machines: d₁/d₂ over all circular translates of the training images, its nearest image and
        /// best shift (row, column) (Docs/LocalScores.md §7).
        var shiftAwareGapRatio: Double? = nil
        var shiftAwareNearest: Int? = nil
        var shift: [Int]? = nil
    }

    struct LocalSampleOutput: Encodable {
        var data: String
        var machine: String
        var patch: String
        var sampler: String
        var seed: UInt64
        var T: Double
        var tMin: Double
        /// f_mem: share of samples with d₁/d₂ < 1/3, bootstrap standard error.
        var memorisedFraction: Measured
        /// Mosaic diagnostics at t_min: distinct source images per sample, copy fraction.
        var distinctSources: Measured
        var copyFraction: Measured
        /// ELS machines: f_mem with the shift-aware gap ratio (bootstrap SE); absent for ls and bbels.
        var shiftAwareMemorisedFraction: Measured?
        /// LS: mean over samples of max_i |x₀(i) − a_src(i)(i)|, the local-consistency residual.
        var consistencyResidual: Measured?
        var samples: [LocalSampleRecord]
    }

    /// `diffphys sample --score ls|…`: the backward SDE or probability-flow ODE with the local machine
    /// as the score model (Docs/LocalScores.md §7); the final step `draw` returns m̂ (no joint posterior).
    func runLocal(_ model: LocalScore, data: Dataset) throws {
        guard count >= 2 else { throw ValidationError("--samples must be ≥ 2 with a local --score (memorised fraction)") }
        let progress = ProgressReporter("sample", total: count, enabled: !json && !quiet)
        let result = try generate(model, progress: progress)
        try file.write(result.samples)
        // Shift-aware gap ratios for the translation-equivariant machines only: LS dictionaries are
        // position-locked and bbELS corners see their own position only (Docs/LocalScores.md §7).
        let equivariant = model.machine == .els || model.machine == .elsCirc
        let mem = try LocalMemorization.measure(model: model, samples: result.samples, lastStates: result.lastStates,
                                                tLast: sde.tMin, seed: dataOptions.seed, shiftAware: equivariant)
        let records = (0..<count).map { i in
            LocalSampleRecord(sample: result.samples.row(i), nearestTrainingPoint: mem.nearest[i], gapRatio: mem.gapRatios[i],
                              shiftAwareGapRatio: mem.shiftAware?[i].gapRatio, shiftAwareNearest: mem.shiftAware?[i].nearest,
                              shift: mem.shiftAware?[i].shift)
        }
        let f = Measured(mem.fraction, stderr: mem.fractionStderr)
        let fShift = mem.shiftAwareFraction.map { Measured($0.mean, stderr: $0.standardError) }
        if json {
            try printJSON(command: "sample", data: DataDescription(spec: data.name, n: data.n, d: data.d),
                          parameters: ["score": .text(model.machine.rawValue), "patch": .text(model.rule.description), "samples": .integer(count),
                                       "sampler": .text(sampler.rawValue), "seed": .seed(dataOptions.seed)],
                          results: LocalSampleOutput(
                data: data.name, machine: model.machine.rawValue, patch: model.rule.description, sampler: sampler.rawValue,
                seed: dataOptions.seed, T: sde.resolvedHorizon, tMin: sde.tMin, memorisedFraction: f,
                distinctSources: mem.distinctSources.measured, copyFraction: mem.copyFraction.measured,
                shiftAwareMemorisedFraction: fShift, consistencyResidual: mem.consistencyResidual?.measured, samples: records))
        } else {
            print("data: \(data.name)   score: \(model.machine.rawValue), \(model.rule.description)   sampler: \(sampler.rawValue)   T = \(sde.resolvedHorizon) → t_min = \(sde.tMin)   seed \(dataOptions.seed)")
            for (i, r) in records.enumerated() {
                print("sample \(i): nearest training image \(r.nearestTrainingPoint)   d1/d2 = \(String(format: "%.3f", r.gapRatio))"
                      + (r.shiftAwareGapRatio.map { String(format: "   shift-aware: image %d shifted by (%d, %d), d1/d2 = %.3f",
                                                            r.shiftAwareNearest!, r.shift![0], r.shift![1], $0) } ?? ""))
            }
            print(String(format: "memorised (d1/d2 < 1/3): %.3f ± %.3f   distinct sources %.2f ± %.2f   copy fraction %.3f ± %.3f",
                         mem.fraction, mem.fractionStderr, mem.distinctSources.mean, mem.distinctSources.standardError,
                         mem.copyFraction.mean, mem.copyFraction.standardError))
            if let r = mem.consistencyResidual {
                print(String(format: "local-consistency residual max_i |x0(i) − source patch centre| (LS): %.3g ± %.2g", r.mean, r.standardError))
            }
            if let fShift {
                print(String(format: "memorised up to a circular shift (shift-aware d1/d2 < 1/3): %.3f ± %.3f", fShift.value, fShift.stderr ?? .nan))
            }
            if let out { print("wrote \(count) samples to \(out)") }
        }
    }
}

extension BenchCommand {
    /// `diffphys bench --local`: the local machines beside their floors and the numpy reference, interleaved.
    func runLocal() throws {
        let r = try LocalScoreBenchmark.run(repetitions: repetitions, python: python == "none" ? nil : python,
                                            blasThreads: threadOptions.count)
        if json {
            print(try JSONOutput.encode(r))
            return
        }
        print("local machines, one sample-step (m̂, Y2, entropy at one image), Fashion-MNIST 28x28, t = 0.3, medians of \(repetitions), "
              + "interleaved per repetition: ours, floor = the same exps (+ the same BLAS products for ELS/bbELS; LS also the exps in cache), numpy (bench/local_scores.py)")
        for c in r.cases {
            let name = c.machine.padding(toLength: 6, withPad: " ", startingAt: 0)
            var line = "  \(name)" + String(format: " n=%5d P=%2d  T=%.2e  %9.4f s [%.4f, %.4f]  ours/floor %.2f", c.n, c.patch,
                                                  c.triples, c.seconds.median, c.seconds.min, c.seconds.max, c.oursOverFloor)
            if let q = c.oursOverCacheFloor { line += String(format: "  ours/exps-in-cache %.2f", q) }
            if let q = c.oursOverNumpy, let np = c.numpySeconds {
                line += String(format: "  ours/numpy %.3f (numpy %.4f s)", q, np.median)
                if let d = c.numpyMaxDifference { line += String(format: " |Δ| %.1e", d) }
            } else {
                line += "  numpy: not run (--python none, or no numpy)"
            }
            print(line)
        }
    }
}
