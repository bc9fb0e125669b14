import Foundation
import GSLKit

/// PFGM++ as a `NoiseModel`, native in the diffusion-equivalent σ (Docs/PoissonFlow.md §3.3): the states are
/// the data-space x (scale 1), posterior weights w_i = softmax(ln k(|x − y_i|², σ)), mean m_D = Σ w_i y_i.
/// A `.time(t)` level is the same noise as σ = √(e^{2t} − 1) with states x·eᵗ (Docs/Theory.md §0, VE form).
extension PoissonFlowModel: NoiseModel {
    public var componentCount: Int { count }
    public var componentClasses: [Int]? { posterior.classIndex }
    public var nativeNoise: NoiseKind { .sigma }

    public func evaluate(_ x: Matrix<Double>, rows: Int, at level: NoiseLevel, workspace: PosteriorWorkspace,
                         outputs: PosteriorOutputs) throws {
        let (y, native) = nativeStates(x, rows: rows, at: level)
        try evaluate(y, rows: rows, sigma: native.value, workspace: workspace, outputs: outputs)
    }

    /// A training point y_μ with μ ~ Categorical(w): the exact posterior of the empirical law.
    public func posteriorDraw(row: Int, x: Matrix<Double>, at level: NoiseLevel, workspace: PosteriorWorkspace,
                              rng: RandomStream, into a: inout [Double]) -> Int {
        let mu = rng.categorical(workspace.weights(row: row))
        a = points.row(mu)
        return mu
    }
}
