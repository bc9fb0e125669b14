import Foundation
import GSLKit

/// The exact population score of a Gaussian mixture P0 = Σ_c π_c N(m_c, s_c² I) at time t
/// (THEORY §2.2 for the two-class case):
///
///     P_t = Σ_c π_c N(m_c e^{−t}, Γ_c I),   Γ_c = Δ_t + s_c² e^{−2t},
///     r_c ∝ π_c N(x; m_c e^{−t}, Γ_c I)     (posterior over components, log-sum-exp),
///     F = Σ_c r_c (m_c e^{−t} − x)/Γ_c,      m̂ = Σ_c r_c [m_c + (s_c² e^{−t}/Γ_c)(x − m_c e^{−t})].
///
/// Components are the classes. A posterior draw picks c ~ r and a ~ N(E[a|x,c], s_c²Δ_t/Γ_c I).
public struct GaussianMixtureScore: ScoreModel {
    public let model: GaussianMixtureModel
    private let logWeights: [Double]

    public init(_ model: GaussianMixtureModel) {
        self.model = model
        logWeights = model.weights.map { log($0) }
    }

    public var dimension: Int { model.d }
    public var componentCount: Int { model.k }
    public var classCount: Int { model.k }
    public var componentClasses: [Int]? { Array(0..<model.k) }

    public func evaluate(_ x: Matrix<Double>, rows: Int, t: Double, workspace ws: PosteriorWorkspace,
                         outputs: PosteriorOutputs) throws {
        try validateTime(t)
        precondition(x.columns == model.d && rows <= ws.capacity && ws.components == model.k,
                     "GaussianMixtureScore: batch shape mismatch")
        let d = model.d, k = model.k
        let delta = ForwardProcess.delta(t), decay = exp(-t)
        let gammas = model.variances.map { delta + $0 * decay * decay }
        for i in 0..<rows {
            var lmax = -Double.infinity
            for c in 0..<k {
                var d2 = 0.0
                for j in 0..<d {
                    let diff = x[i, j] - model.means[c, j] * decay
                    d2 += diff * diff
                }
                let l = logWeights[c] - d2 / (2 * gammas[c]) - 0.5 * Double(d) * log(2 * Double.pi * gammas[c])
                ws.weights[i, c] = l
                lmax = max(lmax, l)
            }
            var sum = 0.0
            for c in 0..<k { let e = exp(ws.weights[i, c] - lmax); ws.weights[i, c] = e; sum += e }
            var y2 = 0.0, wmax = 0.0, best = 0
            for c in 0..<k {
                let w = ws.weights[i, c] / sum
                ws.weights[i, c] = w
                y2 += w * w
                if w > wmax { wmax = w; best = c }
                if outputs.contains(.classProbabilities) { ws.classProbabilities[i, c] = w }
            }
            ws.logSumExp[i] = lmax + log(sum)
            ws.logDensity[i] = ws.logSumExp[i]
            ws.participationRatio[i] = y2
            ws.maxWeight[i] = wmax
            ws.argmax[i] = best
            if outputs.contains(.mean) {
                for j in 0..<d { ws.mean[i, j] = 0 }
                for c in 0..<k {
                    let w = ws.weights[i, c], shrink = model.variances[c] * decay / gammas[c]
                    for j in 0..<d {
                        let mc = model.means[c, j]
                        ws.mean[i, j] += w * (mc + shrink * (x[i, j] - mc * decay))
                    }
                }
            }
        }
    }

    public func posteriorDraw(row: Int, x: Matrix<Double>, t: Double, workspace ws: PosteriorWorkspace,
                              rng: RandomStream, into a: inout [Double]) -> Int {
        let c = rng.categorical(ws.weights(row: row))
        let delta = ForwardProcess.delta(t), decay = exp(-t)
        let s2 = model.variances[c], gamma = delta + s2 * decay * decay
        let shrink = s2 * decay / gamma, sd = (s2 * delta / gamma).squareRoot()
        let d = model.d
        if a.count != d { a = Array(repeating: 0, count: d) }
        for j in 0..<d {
            let mc = model.means[c, j]
            a[j] = mc + shrink * (x[row, j] - mc * decay) + sd * rng.gaussian()
        }
        return c
    }
}
