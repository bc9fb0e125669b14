import Foundation
import GSLKit

/// Which BLAS runs and how fast: the first lines of `diffphys bench` (README "Performance").
public struct BLASReport: Sendable, Codable, Equatable {
    /// The shared object providing `cblas_dgemm` (e.g. …/openblas-pthread/libopenblas.so.0).
    public var library: String
    /// `openblas_get_config()` and the version number in it.
    public var config: String
    public var version: String?
    /// `openblas_get_corename()`: the kernels in use.
    public var core: String
    /// How the core was chosen (start-up selection, the user's OPENBLAS_CORETYPE, …).
    public var selection: String
    /// OPENBLAS_CORETYPE as this process sees it.
    public var coreType: String?
    /// CPU vendor/family/model and the features the selection reads.
    public var cpu: String
    public var cpuFeatures: [String]
    /// Measured dgemm rate of the bench's floor (2·2·B·n·d flops / floor time) on all threads
    /// and on one, for the first case timed.
    public var dgemmGFLOPS: Double?
    public var dgemmGFLOPSOneThread: Double?
    /// The vector-kernel level of the softmax passes.
    public var vectorKernels: String

    /// The running library, without timings.
    public static func current() -> BLASReport {
        let selection = BLASCore.describe()
        return BLASReport(library: BLASCore.libraryPath ?? "unknown", config: BLASCore.config, version: BLASCore.version,
                          core: selection.core, selection: selection.summary,
                          coreType: ProcessInfo.processInfo.environment[BLASCore.coreTypeVariable],
                          cpu: BLASCore.cpuDescription, cpuFeatures: CPUFeatures.current.names,
                          dgemmGFLOPS: nil, dgemmGFLOPSOneThread: nil, vectorKernels: VectorMath.instructionSet)
    }

    /// Adds the measured rates of a bench case.
    public func with(_ c: BenchCase) -> BLASReport {
        var r = self
        let flops = BenchShape(B: c.B, n: c.n, d: c.d).flops
        r.dgemmGFLOPS = flops / c.floorSeconds / 1e9
        r.dgemmGFLOPSOneThread = flops / c.floorOneThreadSeconds / 1e9
        return r
    }

    /// Text lines for the bench's header.
    public var lines: [String] {
        var out = [
            "BLAS: \(library)",
            "  version: \(version ?? "?")   config: \(config)",
            "  core: \(core) — \(selection)",
            "  CPU: \(cpu)  features: \(cpuFeatures.joined(separator: " "))  softmax kernels: \(vectorKernels)",
        ]
        if let g = dgemmGFLOPS, let g1 = dgemmGFLOPSOneThread {
            out.append(String(format: "  measured dgemm (floor shape): %.1f GFLOP/s on all threads, %.1f on one", g, g1))
        }
        return out
    }
}
