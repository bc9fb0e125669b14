import DiffusionPhysics
import Foundation

/// `diffphys bench --load`: loading all 60 000 Fashion-MNIST training images (gunzip, decode,
/// x/255, scalar centring) against the same work in numpy, in the same run.
public struct LoadBenchmark: Sendable, Codable {
    /// The spec loaded: every class, all 6000 rows each.
    public static let spec = "fashion-mnist:classes=0,1,2,3,4,5,6,7,8,9,per-class=6000"

    public var spec: String
    public var n: Int
    public var d: Int
    /// Bytes of the n × d float64 data matrix.
    public var matrixBytes: Int
    public var seconds: Timing
    /// The process's peak resident set (VmHWM) after the loads, and before the first (bytes);
    /// meaningful when the load is the first large allocation of the process.
    public var peakRSSBytes: Int?
    public var startRSSBytes: Int?
    /// The numpy reference (`bench/load_numpy.py` in its own process), when Python with numpy runs.
    public var numpy: NumpyLoad?

    public struct NumpyLoad: Sendable, Codable {
        public var seconds: Timing
        public var peakRSSBytes: Int
        public var version: String
    }

    public var peakOverMatrix: Double? { peakRSSBytes.map { Double($0) / Double(matrixBytes) } }
    public var oursOverNumpy: Double? { numpy.map { seconds.median / $0.seconds.median } }

    /// Loads `spec` `repetitions` times (the previous matrix freed before the next), then runs
    /// the numpy reference with `python` (nil: skip) for the same number of repetitions.
    public static func run(repetitions: Int, python: String?, spec text: String = spec) throws -> LoadBenchmark {
        let spec = try DatasetSpec.parse(text)
        let start = residentHighWaterMark()
        var times: [Double] = []
        var shape = (0, 0)
        for _ in 0..<repetitions {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let data = try spec.load(seed: 1)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            shape = (data.n, data.d)
        }
        let peak = residentHighWaterMark()
        var out = LoadBenchmark(spec: text, n: shape.0, d: shape.1, matrixBytes: shape.0 * shape.1 * 8,
                                seconds: Timing(times), peakRSSBytes: peak, startRSSBytes: start, numpy: nil)
        if let python { out.numpy = numpyReference(python: python, repetitions: repetitions) }
        return out
    }

    /// VmHWM of this process in bytes (Linux), nil elsewhere.
    public static func residentHighWaterMark() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kb = Int(fields[1]) { return kb * 1024 }
        }
        return nil
    }

    /// `bench/load_numpy.py` of this package (found above the current directory or the
    /// executable, as `Data/` is), nil if absent.
    public static func numpyScript() -> String? {
        guard let data = try? DataDirectory.locate(containing: "digits/digits.csv.gz") else { return nil }
        let script = URL(fileURLWithPath: data).deletingLastPathComponent().appendingPathComponent("bench/load_numpy.py").path
        return FileManager.default.fileExists(atPath: script) ? script : nil
    }

    /// Runs the numpy reference in its own process; nil if Python, numpy or the script is missing.
    static func numpyReference(python: String, repetitions: Int) -> NumpyLoad? {
        guard let script = numpyScript() else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script, "--repeat", String(repetitions)]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let json = try? JSONSerialization.jsonObject(with: output) as? [String: Any],
              let seconds = json["seconds"] as? [Double], let peak = json["peakRSSBytes"] as? Int else { return nil }
        return NumpyLoad(seconds: Timing(seconds), peakRSSBytes: peak, version: json["numpy"] as? String ?? "?")
    }
}
