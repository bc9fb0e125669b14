import Foundation
import GSLKit

/// The GenPhys Yukawa model as a `NoiseModel`, native in σ = z, the extra coordinate
/// (Docs/PoissonFlow.md §6): weights w_i ∝ (m s_i)^{−(ν+1)} K_{ν+1}(m s_i), s_i² = |x − y_i|² + z², the
/// mean Σ w_i y_i, and `logDensity` = ln q_z(x) = ln(2 e^{mz} E_z), the density on the plane z.
///
/// It conforms for evaluation only in spirit: its flow dx/dz = (x − m)/z is not conservative
/// (∂_z q + div(q v) = g q), so transporting states alone does not carry q_{z_max} to q_{z_min};
/// particles need the log-weight d(ln W)/dz = g, which `YukawaFlowModel.transport` integrates and
/// the trajectory runner does not. Generate with `transport`, not with the runner's flows.
extension YukawaFlowModel: NoiseModel {
    public var componentCount: Int { count }
    public var classCount: Int { 0 }
    public var componentClasses: [Int]? { nil }
    public var nativeNoise: NoiseKind { .sigma }

    public func evaluate(_ x: Matrix<Double>, rows: Int, at level: NoiseLevel, workspace: PosteriorWorkspace,
                         outputs: PosteriorOutputs) throws {
        let (y, native) = nativeStates(x, rows: rows, at: level)
        let z = native.value
        try native.validate(name: "z")
        posterior.evaluate(y, rows: rows, scale: 1, sigma2: z * z, workspace: workspace, outputs: outputs)
        // ln q_z = ln 2 + m z + ln z + ln C + LSE,  C = (2π)^{−(N+1)/2} m^{N+1} / n.
        let logC = logPrefactor + Double(dimension + 1) * log(mass) - log(Double(count))
        let shift = log(2 * z) + mass * z + logC
        for i in 0..<rows { workspace.logDensity[i] = workspace.logSumExp[i] + shift }
    }

    /// A training point y_μ with μ ~ Categorical(w) (the posterior given (x, z)).
    public func posteriorDraw(row: Int, x: Matrix<Double>, at level: NoiseLevel, workspace: PosteriorWorkspace,
                              rng: RandomStream, into a: inout [Double]) -> Int {
        let mu = rng.categorical(workspace.weights(row: row))
        a = posterior.points.row(mu)
        return mu
    }
}
