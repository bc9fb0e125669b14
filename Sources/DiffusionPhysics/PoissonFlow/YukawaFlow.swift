import Foundation
import GSLKit

/// GenPhys Yukawa (screened Poisson) generative model, exact-empirical (Docs/PoissonFlow.md §6), in d = N + 1
/// dimensions with one extra coordinate z ≥ 0 and screening mass m > 0:
///
///     (∇² − m²) G = −δ,  G(s) = (2π)^{−d/2} m^{d−2} (ms)^{−ν} K_ν(ms),  ν = (N − 1)/2
///     −G'(s)/s = (2π)^{−d/2} m^d (ms)^{−(ν+1)} K_{ν+1}(ms)      (the weight kernel, `Kernel.yukawa`)
///     dx/dz = E_x/E_z = (x − Σ w_i y_i)/z,    q_z = 2 e^{mz} E_z,    g = m − m² φ/E_z
///
/// The flow is not conservative: ∂_z q + div(q v) = g q. Particles carry log-weights d(ln W)/dz = g.
/// m → 0 gives PFGM (D = 1) with r = z.
public struct YukawaFlowModel: Sendable {
    public let mass: Double
    public let posterior: EmpiricalPosterior

    public init(points: Matrix<Double>, mass: Double) throws {
        guard mass > 0, mass.isFinite else { throw ModelError("the Yukawa mass must be finite and > 0, got \(mass)") }
        self.mass = mass
        posterior = try EmpiricalPosterior(points: points, kernel: .yukawa(mass: mass))
    }

    public var dimension: Int { posterior.d }
    public var count: Int { posterior.n }
    var nu: Double { 0.5 * Double(dimension - 1) }
    var logPrefactor: Double { -0.5 * Double(dimension + 1) * log(2 * Double.pi) }

    /// ln G(s) in d = N + 1 dimensions.
    public static func logGreen(_ s: Double, mass m: Double, N: Int) throws -> Double {
        let d = Double(N + 1), nu = 0.5 * Double(N - 1)
        return -0.5 * d * log(2 * Double.pi) + (d - 2) * log(m) - nu * log(m * s) + (try Special.lnBesselK(nu: nu, x: m * s))
    }

    /// Weights, velocity dx/dz, potential φ, fields, density q_z and growth rate g at (x, z).
    public func evaluate(at x: [Double], z: Double) throws -> YukawaPoint {
        guard x.count == dimension, x.allSatisfy({ $0.isFinite }) else { throw ModelError("point must have N = \(dimension) finite coordinates") }
        guard z > 0, z.isFinite else { throw ModelError("z must be finite and > 0, got \(z)") }
        let ws = PosteriorWorkspace(capacity: 1, dimension: dimension, components: count, classes: 0)
        let xm = Matrix(rows: 1, columns: dimension, storage: x)
        posterior.evaluate(xm, rows: 1, scale: 1, sigma2: z * z, workspace: ws, outputs: .mean)
        let m = ws.mean.row(0)
        let logC = logPrefactor + Double(dimension + 1) * log(mass) - log(Double(count))
        let scale = exp(logC + ws.logSumExp[0])
        let ex = zip(x, m).map { scale * ($0 - $1) }, ez = scale * z
        let d2 = posterior.squaredDistances(xm, rows: 1, scale: 1).storage
        let lg = try d2.map { try Self.logGreen(($0 + z * z).squareRoot(), mass: mass, N: dimension) }
        let lmax = lg.max()!
        let phi = exp(lmax + log(lg.reduce(0) { $0 + exp($1 - lmax) })) / Double(count)
        return YukawaPoint(z: z, weights: ws.weights.row(0), velocity: zip(x, m).map { ($0 - $1) / z }, potential: phi,
                           ex: ex, ez: ez, density: 2 * exp(mass * z) * ez, growthRate: mass - mass * mass * phi / ez)
    }

    /// ∂_z q + div(q v) − g q by central differences (step h·z): zero for the exact model.
    public func continuityResidual(at x: [Double], z: Double, relativeStep h: Double = 1e-5) throws -> (lhs: Double, gq: Double) {
        let dz = h * z
        var lhs = (try evaluate(at: x, z: z + dz).density - evaluate(at: x, z: z - dz).density) / (2 * dz)
        for j in 0..<dimension {
            var xp = x, xm = x
            xp[j] += dz; xm[j] -= dz
            let a = try evaluate(at: xp, z: z), b = try evaluate(at: xm, z: z)
            lhs += (a.density * a.velocity[j] - b.density * b.velocity[j]) / (2 * dz)
        }
        let e = try evaluate(at: x, z: z)
        return (lhs, e.growthRate * e.density)
    }

    /// Density of the kernel radius R = |x − y| on the plane z: S_{N−1} R^{N−1} q_z(R) (integrates to 1).
    public func radialDensity(_ R: Double, z: Double) throws -> Double {
        let N = Double(dimension), s = (R * R + z * z).squareRoot()
        let sphere = 2 * pow(Double.pi, 0.5 * N) / exp(try Special.lnGamma(0.5 * N))
        let logKernel = logPrefactor + Double(dimension + 1) * log(mass) - (nu + 1) * log(mass * s)
            + (try Special.lnBesselK(nu: nu + 1, x: mass * s))
        return sphere * pow(R, N - 1) * 2 * exp(mass * z) * z * exp(logKernel)
    }

    /// `count` draws from the exact prior q_z (uniform training point + radius by numerical inverse CDF,
    /// uniform direction), stream (seed, i) of `domain`.
    public func samplePrior(z: Double, count: Int, seed: UInt64, domain: StreamDomain = .trajectory) throws -> Matrix<Double> {
        let N = dimension
        // Tabulated CDF on a log grid (GSL quadrature between nodes), inverted by linear interpolation.
        let lo = 1e-8 * z, hi = z * 1e4 + 200 / mass
        let nodes = 3000
        let grid = [0.0] + (0..<nodes).map { lo * pow(hi / lo, Double($0) / Double(nodes - 1)) }
        var cdf = [0.0]
        for k in 1..<grid.count {
            let piece = try Quadrature.qags({ (try? self.radialDensity($0, z: z)) ?? 0 }, from: grid[k - 1], to: grid[k],
                                            absoluteTolerance: 1e-14, relativeTolerance: 1e-10)
            cdf.append(cdf[k - 1] + piece)
        }
        let total = cdf.last!
        var x = Matrix<Double>(rows: count, columns: N)
        for i in 0..<count {
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: domain)
            let origin = rng.uniformInt(self.count)
            let u = rng.uniform() * total
            var a = 0, b = cdf.count - 1
            while b - a > 1 { let c = (a + b) / 2; if cdf[c] < u { a = c } else { b = c } }
            let f = cdf[b] > cdf[a] ? (u - cdf[a]) / (cdf[b] - cdf[a]) : 0
            let R = grid[a] + f * (grid[b] - grid[a])
            var g = [Double](repeating: 0, count: N)
            rng.fillGaussian(&g, 0..<N)
            let norm = g.map { $0 * $0 }.reduce(0, +).squareRoot()
            for j in 0..<N { x[i, j] = posterior.points[origin, j] + R * g[j] / norm }
        }
        return x
    }

    /// Integrates one particle from z_max down to z_min (gsl_odeiv2 in ln z) carrying its log-weight
    /// d(ln W)/dz = g; returns x(z_min), ln W (starting from 0), and the argmax training point at z_min.
    public func transport(_ x0: [Double], zMax: Double, zMin: Double, relativeTolerance: Double = 1e-9) throws
        -> (x: [Double], logWeight: Double, component: Int) {
        guard zMax > zMin, zMin > 0 else { throw ModelError("need z_max > z_min > 0") }
        let N = dimension
        let driver = try ODEDriver(dimension: N + 1, absoluteTolerance: relativeTolerance, relativeTolerance: relativeTolerance,
                                   initialStep: 1e-2) { s, y, dy in
            let z = exp(s)
            let e = try self.evaluate(at: Array(y[0..<N]), z: z)
            for j in 0..<N { dy[j] = z * e.velocity[j] }
            dy[N] = z * e.growthRate
        }
        var y = x0 + [0]
        try driver.evolve(&y, from: log(zMax), to: log(zMin))
        let e = try evaluate(at: Array(y[0..<N]), z: zMin)
        let best = e.weights.indices.max { e.weights[$0] < e.weights[$1] }!
        return (Array(y[0..<N]), y[N], best)
    }
}

/// Everything at one point (x, z) of the Yukawa model.
public struct YukawaPoint: Sendable, Codable {
    public var z: Double
    public var weights: [Double]
    /// dx/dz = E_x/E_z.
    public var velocity: [Double]
    /// φ = (1/n) Σ G(s_i).
    public var potential: Double
    public var ex: [Double]
    public var ez: Double
    /// q_z(x) = 2 e^{mz} E_z (normalised on each plane).
    public var density: Double
    /// g = m − m² φ/E_z (birth/death rate).
    public var growthRate: Double
}
