import ArgumentParser
import DiffusionPhysics
import Foundation

struct TheoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "theory",
        abstract: "Analytic predictions: speciation φ(t), t_S conventions, collapse time t_C.",
        subcommands: [Phi.self, SpeciationTime.self, CollapseTime.self])

    struct Phi: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "φ(t): probability that two clones made at t end in the same class (two-class GMM, Docs/Theory.md §2.2).",
            discussion: """
            φ = ½ + ½ E_z tanh²(h + √h z), h = d m̃²/(e^{2t} − 1 + σ²). With --tau: the large-d curve \
            φ_∞(τ), t = ½ ln d + τ. Example: diffphys theory phi --d 1024 --t 3.5
            """)
        @Option(parsing: .unconditional, help: "Dimension d (default: none; required with --t).") var d: Double?
        @Option(parsing: .unconditional, help: "m̃: the class means are ±m with |m|² = d m̃².") var mtilde: Double = 1
        @Option(parsing: .unconditional, help: "Within-class (cluster) standard deviation σ.") var sigma: Double = 1
        @Option(parsing: .unconditional, help: "Forward time t (default: none; required with --d).") var t: Double?
        @Option(parsing: .unconditional, help: "Universal large-d curve at τ = t − ½ ln d (default: none; give --d and --t instead).") var tau: Double?
        @OptionGroup var format: JSONOptions
        var json: Bool { format.json }

        func validate() throws {
            if let tau {
                guard tau.isFinite else { throw ValidationError("--tau must be a finite number") }
                guard t == nil, d == nil else { throw ValidationError("--tau gives the large-d curve: do not combine it with --t or --d") }
            } else {
                guard let d, d > 0, d.isFinite, let t, t >= 0, t.isFinite else { throw ValidationError("give --d > 0 and --t ≥ 0, or --tau") }
            }
            guard mtilde > 0, mtilde.isFinite, sigma >= 0, sigma.isFinite else { throw ValidationError("--mtilde must be finite and > 0, --sigma finite and ≥ 0") }
        }

        func run() throws {
            if let tau {
                let v = SpeciationTheory.phiInfinity(tau: tau, mTilde: mtilde)
                if json {
                    try printJSON(command: "theory phi", data: nil, parameters: ["tau": .number(tau), "mtilde": .number(mtilde)],
                                  results: ["tau": tau, "phiInfinity": v])
                } else { print("φ_∞(τ = \(tau)) = \(String(format: "%.10f", v))") }
            } else if let d, let t {
                let h = SpeciationTheory.h(t: t, d: d, mTilde: mtilde, sigma: sigma)
                let v = SpeciationTheory.phi(t: t, d: d, mTilde: mtilde, sigma: sigma)
                if json {
                    try printJSON(command: "theory phi", data: nil,
                                  parameters: ["t": .number(t), "d": .number(d), "mtilde": .number(mtilde), "sigma": .number(sigma)],
                                  results: ["t": t, "d": d, "h": h, "phi": v])
                }
                else { print("φ(t = \(t); d = \(d), m̃ = \(mtilde), σ = \(sigma)) = \(String(format: "%.10f", v))   (h = \(String(format: "%.6g", h)))") }
            }
        }
    }

    struct SpeciationTime: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "speciation-time",
            abstract: "t_S from the top covariance eigenvalue Λ in the three labelled conventions (Docs/Theory.md §2.1).")
        @Option(parsing: .unconditional, help: "Top eigenvalue Λ of the data covariance (required).") var lambda: Double
        @OptionGroup var format: JSONOptions
        var json: Bool { format.json }
        func validate() throws { guard lambda > 0, lambda.isFinite else { throw ValidationError("--lambda must be > 0") } }
        func run() throws {
            let ts = SpeciationTheory.tS(lambda: lambda)
            if json {
                try printJSON(command: "theory speciation-time", data: nil, parameters: ["lambda": .number(lambda)],
                              results: ["tS": SpeciationTimeOutput(ts)])
            } else {
                print("Λ = \(lambda): t_S = ½ln(1+Λ) = \(String(format: "%.6f", ts.curvature)) [primary]; paper ½lnΛ = \(String(format: "%.6f", ts.paper)), drift ½ln(2Λ) = \(String(format: "%.6f", ts.drift))")
            }
        }
    }

    struct CollapseTime: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "collapse-time",
            abstract: "Collapse time of n Gaussian points of standard deviation σ in d dimensions (paper eq. 10, Docs/Theory.md §3.2).",
            discussion: "t_C = ½ ln(1 + σ²/(n^{2/d} − 1)), α = ln n / d. Example: diffphys theory collapse-time --n 20000 --d 256 --sigma 1")
        @Option(parsing: .unconditional, help: "Training points n (required).") var n: Double
        @Option(parsing: .unconditional, help: "Dimension d (required).") var d: Double
        @Option(name: .customLong("sigma"), parsing: .unconditional, help: "Per-coordinate (cluster) standard deviation σ of the data (default: 1).") var sigmaOption: Double?
        /// `--sigma2`: the former variance option, kept as a hidden alias (σ² = its value).
        @Option(name: .customLong("sigma2"), parsing: .unconditional, help: .private) var legacyVariance: Double?
        var sigma2: Double { sigmaOption.map { $0 * $0 } ?? legacyVariance ?? 1 }
        @OptionGroup var format: JSONOptions
        var json: Bool { format.json }
        func validate() throws {
            guard n >= 2, n.isFinite else { throw ValidationError("--n must be ≥ 2") }
            guard d > 0, d.isFinite else { throw ValidationError("--d must be > 0") }
            if sigmaOption != nil, legacyVariance != nil { throw ValidationError("give --sigma (standard deviation) or the former --sigma2 (variance), not both") }
            guard sigma2 > 0, sigma2.isFinite else { throw ValidationError("--sigma must be > 0") }
        }
        func run() throws {
            let alpha = CollapseTheory.alpha(n: n, d: d)
            let tc = CollapseTheory.tCGaussian(n: n, d: d, sigma2: sigma2)
            if json {
                struct Results: Encodable { var n, d, sigma, alpha: Double; var tC: CollapseTimeOutput }
                try printJSON(command: "theory collapse-time", data: nil,
                              parameters: ["n": .number(n), "d": .number(d), "sigma": .number(sigma2.squareRoot())],
                              results: Results(n: n, d: d, sigma: sigma2.squareRoot(), alpha: alpha,
                                               tC: CollapseTimeOutput(measured: [:], predicted: ["gaussian": .exact(tc)])))
            }
            else { print("n = \(n), d = \(d), σ = \(sigma2.squareRoot()): α = ln n/d = \(String(format: "%.6f", alpha)), t_C = \(String(format: "%.6f", tc))") }
        }
    }
}

