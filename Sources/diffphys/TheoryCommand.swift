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
        @Option(parsing: .unconditional, help: "Dimension d (required with --t).") var d: Double?
        @Option(parsing: .unconditional, help: "m̃: the class means are ±m with |m|² = d m̃².") var mtilde: Double = 1
        @Option(parsing: .unconditional, help: "Within-class standard deviation σ.") var sigma: Double = 1
        @Option(parsing: .unconditional, help: "Forward time t (required with --d).") var t: Double?
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
                if json { print(try JSONOutput.encode(["tau": tau, "phiInfinity": v])) } else { print("φ_∞(τ = \(tau)) = \(String(format: "%.10f", v))") }
            } else if let d, let t {
                let h = SpeciationTheory.h(t: t, d: d, mTilde: mtilde, sigma: sigma)
                let v = SpeciationTheory.phi(t: t, d: d, mTilde: mtilde, sigma: sigma)
                if json { print(try JSONOutput.encode(["t": t, "d": d, "h": h, "phi": v])) }
                else { print("φ(t = \(t); d = \(d), m̃ = \(mtilde), σ = \(sigma)) = \(String(format: "%.10f", v))   (h = \(String(format: "%.6g", h)))") }
            }
        }
    }

    struct SpeciationTime: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "speciation-time",
            abstract: "t_S from the top covariance eigenvalue Λ in the three labelled conventions (Docs/Theory.md §2.1).")
        @Option(parsing: .unconditional, help: "Top eigenvalue Λ of the data covariance.") var lambda: Double
        @OptionGroup var format: JSONOptions
        var json: Bool { format.json }
        func validate() throws { guard lambda > 0, lambda.isFinite else { throw ValidationError("--lambda must be > 0") } }
        func run() throws {
            let ts = SpeciationTheory.tS(lambda: lambda)
            if json { print(try JSONOutput.encode(ts)) } else {
                print("Λ = \(lambda): t_S paper ½lnΛ = \(String(format: "%.6f", ts.paper)), curvature ½ln(1+Λ) = \(String(format: "%.6f", ts.curvature)), drift ½ln(2Λ) = \(String(format: "%.6f", ts.drift))")
            }
        }
    }

    struct CollapseTime: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "collapse-time",
            abstract: "Collapse time of n Gaussian points of variance σ² in d dimensions (paper eq. 10, Docs/Theory.md §3.2).",
            discussion: "t_C = ½ ln(1 + σ²/(n^{2/d} − 1)), α = ln n / d. Example: diffphys theory collapse-time --n 20000 --d 256")
        @Option(parsing: .unconditional, help: "Training points n.") var n: Double
        @Option(parsing: .unconditional, help: "Dimension d.") var d: Double
        @Option(parsing: .unconditional, help: "Data variance σ² per coordinate.") var sigma2: Double = 1
        @OptionGroup var format: JSONOptions
        var json: Bool { format.json }
        func validate() throws {
            guard n >= 2, n.isFinite else { throw ValidationError("--n must be ≥ 2") }
            guard d > 0, d.isFinite else { throw ValidationError("--d must be > 0") }
            guard sigma2 > 0, sigma2.isFinite else { throw ValidationError("--sigma2 must be > 0") }
        }
        func run() throws {
            let alpha = CollapseTheory.alpha(n: n, d: d)
            let tc = CollapseTheory.tCGaussian(n: n, d: d, sigma2: sigma2)
            if json { print(try JSONOutput.encode(["n": n, "d": d, "sigma2": sigma2, "alpha": alpha, "tC": tc])) }
            else { print("n = \(n), d = \(d), σ² = \(sigma2): α = ln n/d = \(String(format: "%.6f", alpha)), t_C = \(String(format: "%.6f", tc))") }
        }
    }
}

