import Foundation
import DiffusionPhysics
import GSLKit

/// Study 6, "Memorisation vs novelty" ([BBdBM] SI Fig. F6, Docs/Theory.md §5 F6): generated Fashion-MNIST
/// images beside their nearest training images and L2 distances. Small n, run to t_min: every
/// sample is a copy of a training image (regime III). Large n, stopped at a time above t_C and
/// denoised (posterior mean m̂): new images, far from every training image.
public enum MemorizationNoveltyStudy: StudyKind {
    public static let measurement = "memorization-novelty"

    public static func run(_ p: StudyParameters, context: StudyContext) throws -> StudyOutcome {
        var outcome = StudyOutcome()
        guard FashionMNIST.isAvailable() else { throw StudyError("memorization-novelty needs Fashion-MNIST (Debian package dataset-fashion-mnist)") }
        let classes = try p.numbers("classes").map { String(Int($0)) }.joined(separator: ",")
        let count = try p.integer("count"), horizon = try p.number("T"), steps = try p.integer("steps")
        let neighbours = 4, side = 28
        struct Panel { var label: String; var data: Dataset; var samples: Matrix<Double>; var fraction: MemorizationFraction; var tStop: Double; var tC: Double }
        var panels: [Panel] = []
        for (label, perKey, stopKey) in [("small n", "smallPerClass", "smallStop"), ("large n", "largePerClass", "largeStopRatio")] {
            let spec = try DatasetSpec.parse("fashion-mnist:classes=\(classes),per-class=\(try p.integer(perKey))")
            let data = try spec.load(seed: context.seed)
            let score = try EmpiricalScore(data)
            let tC = try CollapseTheory.tCSpectrum(eigenvalues: try DataSpectrum(points: data.points).eigenvalues, n: Double(data.n))
            // Small n: run to t_min (deep in regime III). Large n: stop at a multiple of the t_C bound (regime II).
            let tStop = label == "small n" ? try p.number(stopKey) : try p.number(stopKey) * tC
            let grid = try TimeGrid.geometric(from: horizon, to: tStop, steps: steps)
            let run = try BackwardSDE(model: score, finalStep: .posteriorMean, threads: context.threads)
                .run(grid: grid, start: .prior(count: try p.integer("samples")), seed: context.seed)
            let fraction = MemorizationFraction.measure(run.samples, points: data.points, label: "posterior mean at t = \(String(format: "%.3g", tStop))", seed: context.seed)
            panels.append(Panel(label: label, data: data, samples: run.samples, fraction: fraction, tStop: tStop, tC: tC))
        }
        // Image grid: per row a generated image and its nearest training images; distances as labels.
        var tiles: [(row: Int, col: Int, image: [Double])] = []
        var labels: [String] = []
        var rowIndex = 0
        var table = CSVTable(header: ["panel", "sample", "rank", "trainingIndex", "distance"])
        let cell = side + 4
        for panel in panels {
            for s in 0..<min(count, panel.samples.rows) {
                let x = panel.samples.row(s)
                let dist = (0..<panel.data.n).map { mu -> (Double, Int) in
                    var d2 = 0.0
                    for j in 0..<x.count { let v = x[j] - panel.data.points[mu, j]; d2 += v * v }
                    return (d2.squareRoot(), mu)
                }.sorted { $0.0 < $1.0 }.prefix(neighbours)
                let images = [x] + dist.map { panel.data.points.row($0.1) }
                for (col, image) in images.enumerated() {
                    tiles.append((rowIndex, col, image))
                    let text = col == 0 ? "\(panel.label): generated" : String(format: "d = %.2f", Array(dist)[col - 1].0)
                    labels.append("set label '\(text)' at \(Double(col * cell) - 0.5), \(Double(-(rowIndex * cell)) + 2.5) font ',8' front textcolor rgb 'yellow' noenhanced")
                }
                for (rank, (d, mu)) in dist.enumerated() { table.append([.text(panel.label), .integer(s), .integer(rank + 1), .integer(mu), .number(d)]) }
                rowIndex += 1
            }
        }
        // One regular canvas in scan order (what gnuplot's `with image` needs), background = darkest pixel.
        let columns = neighbours + 1, width = columns * cell, height = rowIndex * cell
        let background = tiles.flatMap(\.image).min() ?? 0
        var canvas = [Double](repeating: background, count: width * height)
        for tile in tiles {
            for r in 0..<side { for c in 0..<side {
                canvas[(tile.row * cell + r) * width + tile.col * cell + c] = tile.image[r * side + c]
            } }
        }
        var lines: [String] = []
        lines.reserveCapacity(height * (width + 1))
        for y in 0..<height {
            for x in 0..<width { lines.append("\(x) \(-y) \(canvas[y * width + x])") }
            lines.append("")
        }
        try writeText(lines.joined(separator: "\n") + "\n", to: context.path("grid.dat"))
        try table.write(to: context.path("neighbours.csv"))
        outcome.dataFiles = ["neighbours.csv", "grid.dat"]
        let small = panels[0], large = panels[1]
        outcome.checks.append(StudyCheck("small n = \(small.data.n): memorised fraction (gap ratio < 1/3)", kind: .empirical, prediction: 1,
                                         measurement: small.fraction.fraction.mean, standardError: small.fraction.fraction.standardError,
                                         tolerance: try p.tolerance("memorised")))
        outcome.checks.append(StudyCheck("large n = \(large.data.n), stopped at \(String(format: "%.2f", large.tStop)) > t_C: memorised fraction", kind: .empirical, prediction: 0,
                                         measurement: large.fraction.fraction.mean, standardError: large.fraction.fraction.standardError,
                                         tolerance: try p.tolerance("novel")))
        let script = """
        set title 'Memorisation (small n, t → 0) vs novelty (large n, stopped above t_C): generated | 4 nearest training images' noenhanced
        unset xtics; unset ytics; unset colorbox; unset key; set border 0
        set palette gray; set size ratio -1
        \(labels.joined(separator: "\n"))
        plot '\(context.path("grid.dat"))' using 1:2:3 with image
        """
        outcome.figure = try context.figure("memorization-novelty", script: script, width: 900, height: max(500, 150 * rowIndex))
        for panel in panels {
            outcome.notes.append("\(panel.label): n = \(panel.data.n), Gaussian-spectrum t_C = \(String(format: "%.3f", panel.tC)); \(panel.fraction.samples): f_mem = \(String(format: "%.3f ± %.3f", panel.fraction.fraction.mean, panel.fraction.fraction.standardError)), mean nearest distance \(String(format: "%.3f", panel.fraction.nearestDistance.mean)), mean gap ratio \(String(format: "%.3f", panel.fraction.gapRatio.mean)).")
        }
        return outcome
    }
}
