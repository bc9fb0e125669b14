import ArgumentParser
import DiffusionPhysics
import Foundation

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Evaluate the exact score F(x, t) = ∇ ln P_t(x), posterior weights, ln P_t and Y2 at one point.",
        discussion: """
        For a finite dataset: the empirical score of P_t^e = (1/n) Σ N(a_μ e^{−t}, Δ_t I) (Docs/Theory.md §1.1). \
        For gaussian/gmm2 specs without n: the population score (weights omitted).
        Example: diffphys score --data data.csv --t 0.5 --x 0.3,-0.2 --json
        """)

    @OptionGroup var dataOptions: DataOptions
    @Option(parsing: .unconditional, help: "Forward time t > 0 (required).") var t: Double
    @Option(parsing: .unconditional, help: "The point x as comma-separated coordinates, length d (required).") var x: String
    @OptionGroup var format: JSONOptions
    @OptionGroup var local: LocalScoreOptions
    var json: Bool { format.json }

    func validate() throws {
        guard t.isFinite, t > 0 else { throw ValidationError("--t must be a finite time > 0 (got \(t))") }
        try SizeCheck.check(dataOptions, [])
    }

    struct Output: Encodable {
        var data: String
        enum CodingKeys: String, CodingKey { case t, x, score, posteriorMean, weights, logDensity, y2 }
        var t: Double
        var x: [Double]
        var score: [Double]
        var posteriorMean: [Double]
        var weights: [Double]?
        var logDensity: Double
        var y2: Double?
        var conventions = "score = +grad ln P_t(x); x_t = a e^{-t} + sqrt(Delta_t) xi, Delta_t = 1 - e^{-2t}"
    }

    func run() throws {
        let spec = try dataOptions.spec()
        if local.machine != nil {
            let data = try spec.load(seed: dataOptions.seed)
            return try runLocal(try local.model(data)!, data: data)
        }
        let point = try parseNumbers(x, option: "--x")
        let choice = try ModelChoice(spec: spec, seed: dataOptions.seed)
        let e = try choice.model.evaluate(at: point, t: t)
        let empirical: Bool
        if case .empirical = choice { empirical = true } else { empirical = false }
        let out = Output(data: spec.description, t: t, x: point, score: e.score, posteriorMean: e.posteriorMean,
                         weights: empirical ? e.weights : nil, logDensity: e.logDensity,
                         y2: empirical ? e.participationRatio : nil)
        if json {
            let n: Int? = { if case .empirical(_, let data) = choice { return data.n } else { return nil } }()
            try printJSON(command: "score", data: DataDescription(spec: spec.description, n: n, d: point.count),
                          parameters: ["t": .number(t), "seed": .seed(dataOptions.seed)],
                          notes: ["score": out.conventions], results: out)
        } else {
            warnNonFinite(["score": e.score, "ln P_t": [e.logDensity], "Y2": [e.participationRatio]])
            print("data: \(spec)   t = \(t)   (\(out.conventions))")
            print("score F(x,t) = \(e.score.map { String(format: "%.10g", $0) }.joined(separator: ", "))")
            print("ln P_t(x)    = \(String(format: "%.12g", e.logDensity))")
            if empirical {
                print("Y2 = Σw²     = \(String(format: "%.10g", e.participationRatio))   w_max = \(String(format: "%.6g", e.weights.max() ?? 0))")
            }
        }
    }
}
