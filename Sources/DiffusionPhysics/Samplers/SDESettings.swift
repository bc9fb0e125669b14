import Foundation

/// How the backward time grid from T to t_min is spaced (Docs/Theory.md §1.4).
public enum GridKind: String, Sendable, CaseIterable, Codable {
    /// h(t) ≈ min(h_max, c·t): uniform steps above t_x = 0.25, geometric below (`TimeGrid.hybrid`,
    /// Docs/Engine.md "Time grids") — resolves both the speciation window and the 1/Δ_t stiffness
    /// near t_min (the default).
    case hybrid
    /// t_k = T (t_min/T)^{k/K}: resolves the 1/Δ_t stiffness near t_min, but its steps at t ≈ 3
    /// are ≈ 0.1 with 300 steps (an O(h) bias of φ there).
    case geometric
    /// t_k = T − k (T − t_min)/K.
    case uniform
}

/// The backward-SDE settings shared by every experiment that runs generative trajectories
/// (cloning, U-turns, trajectory collapse, speciation) and by the CLI, with one set of defaults:
/// T = 6 (or the experiment's automatic rule), t_min = 10⁻³, 400 steps on the hybrid grid
/// (h_max ≈ 0.018, c ≈ 0.07 at T = 6.5; Docs/Engine.md "Time grids"), exact-OU.
///
/// Docs/Theory.md §1.4 (integrators, grids, never stepping to t = 0) and §1.5 (start time: e^{−2T}Λ ≪ 1).
public struct SDESettings: Sendable, Equatable, Codable {
    public static let defaultHorizon = 6.0
    public static let defaultTMin = 1e-3
    public static let defaultSteps = 400
    public static let defaultGrid = GridKind.hybrid
    public static let defaultScheme = SDEScheme.exactOU

    /// Start time T; nil: automatic — `SpeciationMeasurement` uses max(½ ln Λ + 3, t_max + 1)
    /// (Docs/Theory.md §1.5), everything else `defaultHorizon`.
    public var horizon: Double?
    /// Final time t_min > 0 (the score is singular at t = 0).
    public var tMin: Double
    /// Steps of the grid from T to t_min.
    public var steps: Int
    public var grid: GridKind
    public var scheme: SDEScheme

    public init(horizon: Double? = nil, tMin: Double = defaultTMin, steps: Int = defaultSteps,
                grid: GridKind = defaultGrid, scheme: SDEScheme = defaultScheme) {
        self.horizon = horizon
        self.tMin = tMin
        self.steps = steps
        self.grid = grid
        self.scheme = scheme
    }

    /// T, or `automatic` when no horizon is set.
    public func resolvedHorizon(automatic: Double = defaultHorizon) -> Double { horizon ?? automatic }

    /// Throws a `ModelError` naming the parameter ("t_min", "steps", "T") for values out of range.
    public func validate() throws {
        guard tMin.isFinite, tMin > 0 else {
            throw ModelError("t_min must be a finite time > 0, got \(tMin)", parameter: "t_min")
        }
        guard steps >= 1 else { throw ModelError("steps must be ≥ 1, got \(steps)", parameter: "steps") }
        if let horizon, !(horizon.isFinite && horizon > tMin) {
            throw ModelError("T must be finite and > t_min, got \(horizon)", parameter: "T")
        }
    }

    /// The grid from T (`horizon` if given, else the resolved default) down to t_min.
    public func timeGrid(horizon T: Double? = nil) throws -> TimeGrid {
        try validate()
        let start = T ?? resolvedHorizon()
        guard start.isFinite, start > tMin else {
            throw ModelError("T must be finite and > t_min = \(tMin), got \(start)", parameter: "T")
        }
        switch grid {
        case .geometric: return try TimeGrid.geometric(from: start, to: tMin, steps: steps)
        case .uniform: return try TimeGrid.uniform(from: start, to: tMin, steps: steps)
        case .hybrid: return try TimeGrid.hybrid(from: start, to: tMin, steps: steps)
        }
    }
}

/// An experiment that runs the backward SDE of a model with one `SDESettings` (cloning, U-turn).
public protocol BackwardSDEExperiment: Sendable {
    associatedtype Model: ScoreModel
    init(model: Model, settings: SDESettings, threads: Int)
}

extension BackwardSDEExperiment {
    /// The same with the settings spelled out (defaults from `SDESettings`).
    public init(model: Model, horizon: Double, tMin: Double = SDESettings.defaultTMin, steps: Int = SDESettings.defaultSteps,
                scheme: SDEScheme = SDESettings.defaultScheme, threads: Int = Parallel.defaultThreads) {
        self.init(model: model, settings: SDESettings(horizon: horizon, tMin: tMin, steps: steps, scheme: scheme), threads: threads)
    }
}
