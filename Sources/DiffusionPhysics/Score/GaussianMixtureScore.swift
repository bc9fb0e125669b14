import Foundation
import GSLKit

/// The exact population score of a Gaussian mixture P0 = Σ_c π_c N(m_c, s_c² I) at time t
/// (Docs/Theory.md §2.2 for the two-class case):
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
        let shrinks = (0..<k).map { model.variances[$0] * decay / gammas[$0] }
        let logNorms = (0..<k).map { logWeights[$0] - 0.5 * Double(d) * log(2 * Double.pi * gammas[$0]) }
        let wantsMean = outputs.contains(.mean), wantsClasses = outputs.contains(.classProbabilities)
        var logits = [Double](repeating: 0, count: k)
        var meanRow = [Double](repeating: 0, count: d)
        for i in 0..<rows {
            let xi = i * d
            var lmax = -Double.infinity
            for c in 0..<k {
                let mc = c * d
                var d2 = 0.0
                for j in 0..<d { let diff = x.storage[xi + j] - model.means.storage[mc + j] * decay; d2 += diff * diff }
                logits[c] = logNorms[c] - d2 / (2 * gammas[c])
                lmax = max(lmax, logits[c])
            }
            var sum = 0.0
            for c in 0..<k { logits[c] = exp(logits[c] - lmax); sum += logits[c] }
            var y2 = 0.0, wmax = 0.0, best = 0
            for c in 0..<k {
                let w = logits[c] / sum
                logits[c] = w
                ws.weights.storage[i * k + c] = w
                y2 += w * w
                if w > wmax { wmax = w; best = c }
            }
            ws.logSumExp[i] = lmax + log(sum)
            ws.logDensity[i] = ws.logSumExp[i]
            ws.participationRatio[i] = y2
            ws.maxWeight[i] = wmax
            ws.argmax[i] = best
            if wantsMean {
                // m̂ = Σ_c r_c [m_c + (s_c² e^{−t}/Γ_c)(x − m_c e^{−t})].
                for j in 0..<d { meanRow[j] = 0 }
                for c in 0..<k {
                    let w = logits[c], shrink = shrinks[c], mc = c * d
                    let a = w * (1 - shrink * decay), bx = w * shrink
                    for j in 0..<d { meanRow[j] += a * model.means.storage[mc + j] + bx * x.storage[xi + j] }
                }
                for j in 0..<d { ws.mean.storage[xi + j] = meanRow[j] }
            }
        }
        if wantsClasses {
            for i in 0..<rows { for c in 0..<k { ws.classProbabilities[i, c] = ws.weights[i, c] } }
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
