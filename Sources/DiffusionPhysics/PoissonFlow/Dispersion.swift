import Foundation

/// A linear, constant-coefficient, isotropic PDE Σ_terms c · ∂_t^a (∇²)^b φ = 0 (complex c allowed), and the
/// GenPhys smoothness test on its dispersion relation (Docs/PoissonFlow.md §6, arXiv 2304.02637 Eq. 16).
///
/// Plane waves φ ∝ exp(i(k·x − ωt)) turn ∂_t into −iω and ∇² into −k²; with λ = −iω the relation is the
/// polynomial Σ c (−k²)^b λ^a = 0 in λ, and Im ω = Re λ. The PDE passes (condition C2, "s-generative") when
/// one branch has Im ω(k) < Im ω(0) for all k ≠ 0. Branches are matched by sorting roots by Im ω at each k.
/// Condition C1 (a density-flow form with p ≥ 0) is not checked here.
public struct LinearPDE: Sendable, Equatable, CustomStringConvertible {
    public struct Term: Sendable, Equatable {
        public var timeDerivatives: Int
        public var laplacianPower: Int
        public var real: Double
        public var imaginary: Double
        public init(_ real: Double, imaginary: Double = 0, dt: Int, laplacian: Int) {
            self.real = real; self.imaginary = imaginary; timeDerivatives = dt; laplacianPower = laplacian
        }
    }
    public var name: String
    public var terms: [Term]
    public init(name: String, terms: [Term]) { self.name = name; self.terms = terms }
    public var description: String { name }

    // The table of Docs/PoissonFlow.md §6.
    public static let heat = LinearPDE(name: "heat ∂_t φ = ∇²φ", terms: [.init(1, dt: 1, laplacian: 0), .init(-1, dt: 0, laplacian: 1)])
    public static let poisson = LinearPDE(name: "Poisson ∂_t²φ + ∇²φ = 0", terms: [.init(1, dt: 2, laplacian: 0), .init(1, dt: 0, laplacian: 1)])
    public static func yukawa(mass m: Double) -> LinearPDE {
        LinearPDE(name: "Yukawa ∂_t²φ + ∇²φ − m²φ = 0 (m = \(m))",
                  terms: [.init(1, dt: 2, laplacian: 0), .init(1, dt: 0, laplacian: 1), .init(-m * m, dt: 0, laplacian: 0)])
    }
    public static func wave(speed c: Double = 1) -> LinearPDE {
        LinearPDE(name: "wave ∂_t²φ = c²∇²φ", terms: [.init(1, dt: 2, laplacian: 0), .init(-c * c, dt: 0, laplacian: 1)])
    }
    public static let schrodinger = LinearPDE(name: "Schrödinger i∂_tψ = −∇²ψ",
                                              terms: [.init(0, imaginary: 1, dt: 1, laplacian: 0), .init(1, dt: 0, laplacian: 1)])
    public static func dampedWave(damping g: Double = 1, speed c: Double = 1) -> LinearPDE {
        LinearPDE(name: "damped wave ∂_t²φ + γ∂_tφ = c²∇²φ",
                  terms: [.init(1, dt: 2, laplacian: 0), .init(g, dt: 1, laplacian: 0), .init(-c * c, dt: 0, laplacian: 1)])
    }
}

/// The verdict of the dispersion test.
public struct DispersionVerdict: Sendable, Codable, Equatable {
    public var pde: String
    /// True when some branch satisfies Im ω(k) < Im ω(0) on every tested k > 0.
    public var generative: Bool
    /// Index (by increasing Im ω) of the first passing branch.
    public var branch: Int?
    /// Im ω of each branch at k = 0.
    public var imOmegaAtZero: [Double]
}

public enum Dispersion {
    /// Roots λ of Σ_a p_a λ^a (complex coefficients as (re, im)), by Durand–Kerner with Newton polishing.
    static func roots(_ p: [(Double, Double)]) -> [(Double, Double)] {
        var c = p
        while let last = c.last, last.0 == 0, last.1 == 0 { c.removeLast() }
        let n = c.count - 1
        if n < 1 { return [] }
        func mul(_ a: (Double, Double), _ b: (Double, Double)) -> (Double, Double) { (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0) }
        func div(_ a: (Double, Double), _ b: (Double, Double)) -> (Double, Double) {
            let d = b.0 * b.0 + b.1 * b.1
            return ((a.0 * b.0 + a.1 * b.1) / d, (a.1 * b.0 - a.0 * b.1) / d)
        }
        let lead = c[n]
        let monic = c.map { div($0, lead) }
        func eval(_ z: (Double, Double)) -> (Double, Double) {
            var v = (1.0, 0.0)
            for a in stride(from: n - 1, through: 0, by: -1) { v = mul(v, z); v = (v.0 + monic[a].0, v.1 + monic[a].1) }
            return v
        }
        if n == 1 { return [(-monic[0].0, -monic[0].1)] }
        if n == 2 {
            // λ = (−b ± √(b² − 4c))/2 for the monic quadratic.
            let b = monic[1], cc = monic[0]
            let disc = (b.0 * b.0 - b.1 * b.1 - 4 * cc.0, 2 * b.0 * b.1 - 4 * cc.1)
            let mod = (disc.0 * disc.0 + disc.1 * disc.1).squareRoot()
            var sq = ((0.5 * (mod + disc.0)).squareRoot(), 0.0)
            sq.1 = (0.5 * (mod - disc.0)).squareRoot() * (disc.1 < 0 ? -1 : 1)
            return [(0.5 * (-b.0 + sq.0), 0.5 * (-b.1 + sq.1)), (0.5 * (-b.0 - sq.0), 0.5 * (-b.1 - sq.1))]
        }
        var z = (0..<n).map { k -> (Double, Double) in
            let a = 0.4 + 0.9 * Double(k)
            return (cos(a) * (1 + Double(k) * 0.1), sin(a) * (1 + Double(k) * 0.1))
        }
        for _ in 0..<500 {
            for i in 0..<n {
                var den = (1.0, 0.0)
                for j in 0..<n where j != i { den = mul(den, (z[i].0 - z[j].0, z[i].1 - z[j].1)) }
                let step = div(eval(z[i]), den)
                z[i] = (z[i].0 - step.0, z[i].1 - step.1)
            }
        }
        return z
    }

    /// Im ω of every branch at wavenumber k, sorted increasingly.
    public static func imaginaryParts(_ pde: LinearPDE, k: Double) -> [Double] {
        let degree = pde.terms.map(\.timeDerivatives).max() ?? 0
        var p = [(Double, Double)](repeating: (0, 0), count: degree + 1)
        for t in pde.terms {
            let f = pow(-k * k, Double(t.laplacianPower))
            p[t.timeDerivatives].0 += t.real * f
            p[t.timeDerivatives].1 += t.imaginary * f
        }
        return roots(p).map { $0.0 }.sorted()   // Im ω = Re λ
    }

    /// The GenPhys test on k ∈ (0, kMax] (log grid): generative if one branch has Im ω(k) < Im ω(0) − tolerance·max(1, |Im ω(0)|)
    /// relative to k² near 0 (strict decrease), on every grid point.
    public static func classify(_ pde: LinearPDE, kMax: Double = 100, points: Int = 400) -> DispersionVerdict {
        let zero = imaginaryParts(pde, k: 0)
        let ks = (0..<points).map { 1e-3 * pow(kMax / 1e-3, Double($0) / Double(points - 1)) }
        let table = ks.map { imaginaryParts(pde, k: $0) }
        var passing: Int? = nil
        for b in zero.indices where table.allSatisfy({ b < $0.count }) {
            // Strict: the decrease must exceed rounding (1e-12 relative) at every k.
            if zip(ks, table).allSatisfy({ _, row in row[b] < zero[b] - 1e-12 * max(1, abs(zero[b])) }) { passing = b; break }
        }
        return DispersionVerdict(pde: pde.name, generative: passing != nil, branch: passing, imOmegaAtZero: zero)
    }
}
