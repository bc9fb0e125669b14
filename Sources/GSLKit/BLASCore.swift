import COpenBLAS
import CVectorKernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Instruction-set features of the CPU, as far as the OS lets a process use them.
public struct CPUFeatures: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let sse3 = CPUFeatures(rawValue: UInt32(CPU_FEATURE_SSE3))
    public static let avx = CPUFeatures(rawValue: UInt32(CPU_FEATURE_AVX))
    public static let avx2 = CPUFeatures(rawValue: UInt32(CPU_FEATURE_AVX2))
    public static let fma = CPUFeatures(rawValue: UInt32(CPU_FEATURE_FMA))
    public static let avx512f = CPUFeatures(rawValue: UInt32(CPU_FEATURE_AVX512F))
    public static let avx512dq = CPUFeatures(rawValue: UInt32(CPU_FEATURE_AVX512DQ))
    public static let avx512bw = CPUFeatures(rawValue: UInt32(CPU_FEATURE_AVX512BW))
    public static let avx512vl = CPUFeatures(rawValue: UInt32(CPU_FEATURE_AVX512VL))
    public static let avx512cd = CPUFeatures(rawValue: UInt32(CPU_FEATURE_AVX512CD))

    /// The AVX-512 subsets OpenBLAS's SkylakeX kernels use (Knights Landing has F and CD only).
    public static let skylakeX: CPUFeatures = [.avx512f, .avx512cd, .avx512dq, .avx512bw, .avx512vl, .avx2, .fma]
    /// What the Haswell kernels need.
    public static let haswell: CPUFeatures = [.avx2, .fma]

    /// Names as Linux spells them in /proc/cpuinfo (`pni` is SSE3).
    static let names: [(String, CPUFeatures)] = [
        ("pni", .sse3), ("avx", .avx), ("avx2", .avx2), ("fma", .fma), ("avx512f", .avx512f),
        ("avx512dq", .avx512dq), ("avx512bw", .avx512bw), ("avx512vl", .avx512vl), ("avx512cd", .avx512cd),
    ]

    /// This CPU's features from cpuid and XCR0 (empty off x86-64).
    public static var current: CPUFeatures { CPUFeatures(rawValue: UInt32(cpu_feature_bits())) }

    /// Parses a `flags` line of /proc/cpuinfo (or any whitespace-separated list of its flag names).
    public init(cpuinfoFlags: String) {
        let words = Set(cpuinfoFlags.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
        var set: CPUFeatures = []
        for (name, feature) in Self.names where words.contains(name) { set.insert(feature) }
        self = set
    }

    /// The feature names present, /proc/cpuinfo spelling ("sse3" for pni).
    public var names: [String] {
        Self.names.filter { contains($0.1) }.map { $0.0 == "pni" ? "sse3" : $0.0 }
    }
}

/// Which OpenBLAS kernels run, and whether to re-execute the process with better ones.
///
/// Debian's OpenBLAS is built with DYNAMIC_ARCH: it picks its kernels from the CPU model when it
/// loads, and on a model it does not know (e.g. 0.3.21 on Sapphire Rapids) it falls back to the
/// generic Prescott (SSE3) kernels — 2.5–3× slower dgemm on an AVX-512 CPU. `OPENBLAS_CORETYPE`
/// overrides the choice, but only when the library loads, so the CLI re-executes itself once
/// with it set (`decide` is the pure rule; `selectAtStartup` carries it out).
public enum BLASCore {
    /// Kernel generations, ordered.
    public enum Tier: Int, Comparable, Sendable {
        case sse = 0, avx = 1, avx2 = 2, avx512 = 3
        public static func < (a: Tier, b: Tier) -> Bool { a.rawValue < b.rawValue }
    }

    /// The generation of an OpenBLAS x86-64 core name (case-insensitive); nil for names this
    /// table does not know (other architectures, future cores): those are never replaced.
    public static func tier(ofCore name: String) -> Tier? {
        switch name.lowercased() {
        case "katmai", "coppermine", "northwood", "prescott", "banias", "core2", "penryn", "dunnington",
             "nehalem", "atom", "athlon", "opteron", "opteron_sse3", "barcelona", "bobcat", "unknown":
            return .sse
        case "sandybridge", "bulldozer", "piledriver", "steamroller":
            return .avx
        case "haswell", "excavator", "zen":
            return .avx2
        case "skylakex", "cooperlake", "sapphirerapids":
            return .avx512
        default:
            return nil
        }
    }

    /// The best core these features run safely, with its generation: SkylakeX (AVX-512 F, CD,
    /// DQ, BW, VL), Haswell (AVX2 + FMA), or nil.
    public static func bestCore(for features: CPUFeatures) -> (name: String, tier: Tier)? {
        if features.isSuperset(of: .skylakeX) { return ("SkylakeX", .avx512) }
        if features.isSuperset(of: .haswell) { return ("Haswell", .avx2) }
        return nil
    }

    /// The environment variable that marks the selection's state across the re-execution:
    /// unset (fresh start), `auto` (whatever `OPENBLAS_CORETYPE` holds is not the user's choice),
    /// `selected:CORE` (re-executed with CORE), `fallback:CORE` (CORE failed the self-check, back
    /// to the default), `off` (the user disabled the selection).
    public static let markerVariable = "DIFFPHYS_BLAS_CORE"
    /// `OPENBLAS_CORETYPE`'s value before the re-execution (for the fall-back), when it had one.
    public static let originalVariable = "DIFFPHYS_BLAS_ORIGINAL_CORETYPE"
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"

    public enum KeepReason: String, Sendable {
        /// The user set `OPENBLAS_CORETYPE`.
        case userChoice = "OPENBLAS_CORETYPE set by the user"
        /// `DIFFPHYS_BLAS_CORE=off`.
        case disabled = "selection disabled (DIFFPHYS_BLAS_CORE=off)"
        /// This process is the re-executed one (never re-execute twice).
        case alreadyReexecuted = "already re-executed"
        /// The running core is as good as the CPU allows.
        case alreadyBest = "the library's own choice is the best for this CPU"
        /// The core name is not an x86-64 core this rule knows.
        case unknownCore = "core not in the x86-64 table"
        /// The CPU has neither AVX2 + FMA nor AVX-512.
        case noBetterKernels = "no better kernels for this CPU"
    }

    public enum Decision: Equatable, Sendable {
        case keep(KeepReason)
        case reexecute(core: String)
    }

    /// The rule: re-execute with the best core for `features` when the running core is of an
    /// older generation, unless the user chose the core or this process is already re-executed.
    /// - Parameters:
    ///   - currentCore: `openblas_get_corename()`.
    ///   - features: the CPU's usable features.
    ///   - coreTypeVariable: the value of `OPENBLAS_CORETYPE` (nil or empty: unset).
    ///   - marker: the value of `DIFFPHYS_BLAS_CORE` (see `markerVariable`).
    public static func decide(currentCore: String, features: CPUFeatures, coreTypeVariable: String?,
                              marker: String?) -> Decision {
        let marker = marker?.trimmingCharacters(in: .whitespaces).lowercased()
        if marker == "off" { return .keep(.disabled) }
        if let marker, marker.hasPrefix("selected") || marker.hasPrefix("fallback") { return .keep(.alreadyReexecuted) }
        let userSet = !(coreTypeVariable ?? "").isEmpty && marker != "auto"
        if userSet { return .keep(.userChoice) }
        guard let current = tier(ofCore: currentCore) else { return .keep(.unknownCore) }
        guard let best = bestCore(for: features) else { return .keep(.noBetterKernels) }
        return best.tier > current ? .reexecute(core: best.name) : .keep(.alreadyBest)
    }

    // MARK: - The running library

    /// `openblas_get_corename()`: the kernels in use ("Prescott", "Haswell", "SkylakeX", …).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64".
    public static var config: String { String(cString: openblas_get_config()) }

    /// The version number in `config` ("0.3.21"), or nil.
    public static var version: String? {
        let words = config.split(separator: " ")
        guard let i = words.firstIndex(where: { $0.lowercased() == "openblas" }), i + 1 < words.count else { return nil }
        return String(words[i + 1])
    }

    /// The shared object that provides `cblas_dgemm` in this process (the BLAS actually linked).
    public static var libraryPath: String? {
        guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "cblas_dgemm") else { return nil }
        let address = UInt(bitPattern: symbol)
        // The mapping of /proc/self/maps that holds the symbol's address.
        // (/proc files report size 0: read to the end rather than by size.)
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/maps") else { return nil }
        defer { try? handle.close() }
        let maps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6 else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let lo = UInt(range[0], radix: 16), let hi = UInt(range[1], radix: 16),
                  lo <= address, address < hi else { continue }
            let path = fields[5].trimmingCharacters(in: .whitespaces)
            return (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map {
                $0.hasPrefix("/") ? $0 : (path as NSString).deletingLastPathComponent + "/" + $0
            } ?? path
        }
        return nil
    }

    /// CPU vendor, family and model, e.g. "GenuineIntel family 6 model 207".
    public static var cpuDescription: String {
        var buffer = [CChar](repeating: 0, count: 16)
        cpu_vendor(&buffer)
        let vendor = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return vendor.isEmpty ? "unknown CPU" : "\(vendor) family \(cpu_family()) model \(cpu_model())"
    }

    // MARK: - Self-check

    /// Checks dgemm and sgemm of the running kernels against a plain triple loop on odd shapes,
    /// all four transpose combinations, α and β ≠ 0/1. Passes when every element is within
    /// 8·k·ε·Σ_l |α a_il b_lj| + |β c_ij| of the reference (a forward error bound with room).
    /// Returns the largest error relative to that bound (≤ 1 passes).
    public static func selfCheck() -> (passed: Bool, worst: Double) {
        let m = 37, n = 29, k = 67
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) * 2 - 1
        }
        var worst = 0.0
        func check<S: BLASScalar>(_: S.Type, eps: Double) {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let a = (0..<(m * k)).map { _ in S(next()) }, b = (0..<(k * n)).map { _ in S(next()) }
                let c0 = (0..<(m * n)).map { _ in S(next()) }
                let alpha: S = 1.25, beta: S = -0.5
                let lda = ta ? m : k, ldb = tb ? k : n
                var c = c0
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha,
                                 a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                                 beta: beta, c: pc.baseAddress!, ldc: n)
                        }
                    }
                }
                for i in 0..<m {
                    for j in 0..<n {
                        var sum = 0.0, mag = 0.0
                        for l in 0..<k {
                            let x = Double(ta ? a[l * m + i] : a[i * k + l]), y = Double(tb ? b[j * k + l] : b[l * n + j])
                            sum += x * y
                            mag += abs(x * y)
                        }
                        let ref = Double(alpha) * sum + Double(beta) * Double(c0[i * n + j])
                        let bound = 8 * Double(k) * eps * (Double(alpha) * mag + abs(Double(beta) * Double(c0[i * n + j]))) + 1e-300
                        let err = abs(Double(c[i * n + j]) - ref)
                        worst = max(worst, err.isNaN ? .infinity : err / bound)
                    }
                }
            }
        }
        check(Double.self, eps: Double.ulpOfOne)
        check(Float.self, eps: Double(Float.ulpOfOne))
        return (worst <= 1, worst)
    }

    // MARK: - Start-up

    /// What `selectAtStartup` found or did.
    public struct Selection: Sendable, Equatable {
        /// The running core.
        public var core: String
        /// One line: how the core was chosen.
        public var summary: String
        /// Whether this process runs a core chosen by the selection (and verified).
        public var selected: Bool
    }

    /// Describes how the running core was chosen, from the environment alone (valid in any
    /// process started through `selectAtStartup`).
    public static func describe(environment: [String: String] = ProcessInfo.processInfo.environment) -> Selection {
        let core = coreName
        let marker = environment[markerVariable] ?? ""
        if marker.lowercased().hasPrefix("selected:") {
            let chosen = String(marker.dropFirst("selected:".count))
            let was = environment[originalVariable].map { " (was OPENBLAS_CORETYPE=\($0))" } ?? ""
            return Selection(core: core, summary: "re-executed with OPENBLAS_CORETYPE=\(chosen)\(was); dgemm/sgemm self-check passed", selected: true)
        }
        if marker.lowercased().hasPrefix("fallback:") {
            let failed = String(marker.dropFirst("fallback:".count))
            return Selection(core: core, summary: "\(failed) failed the dgemm self-check; running the library's default core", selected: false)
        }
        switch decide(currentCore: core, features: .current, coreTypeVariable: environment[coreTypeVariable], marker: marker.isEmpty ? nil : marker) {
        case .keep(let reason): return Selection(core: core, summary: "kept: \(reason.rawValue)", selected: false)
        case .reexecute(let better): return Selection(core: core, summary: "not re-executed (\(better) available; selection runs only at CLI start-up)", selected: false)
        }
    }

    /// Runs the selection at process start, before any other work: re-executes the process with
    /// `OPENBLAS_CORETYPE` set when `decide` says so; in the re-executed process runs the
    /// self-check and, if it fails, re-executes once more with the original setting (the
    /// fall-back) after a warning. Returns only when this process keeps its core.
    /// `warn` receives one-line warnings (the caller prints them to stderr).
    public static func selectAtStartup(environment: [String: String] = ProcessInfo.processInfo.environment,
                                       warn: (String) -> Void) {
        #if os(Linux)
        let marker = environment[markerVariable]
        if let marker, marker.lowercased().hasPrefix("selected:") {
            // DIFFPHYS_BLAS_SELF_CHECK=fail simulates a failing core (the fall-back's CLI test).
            let check = environment["DIFFPHYS_BLAS_SELF_CHECK"] == "fail" ? (passed: false, worst: Double.infinity) : selfCheck()
            if check.passed { return }
            let core = String(marker.dropFirst("selected:".count))
            warn("BLAS core \(core) failed the dgemm self-check (error \(check.worst)× the bound); falling back to the library's default kernels")
            var env = environment
            env[coreTypeVariable] = environment[originalVariable]
            env[originalVariable] = nil
            env[markerVariable] = "fallback:\(core)"
            let problem = reexecute(environment: env)
            warn("BLAS fall-back re-execution failed (\(problem)); continuing with \(core)")
            return
        }
        let decision = decide(currentCore: coreName, features: .current, coreTypeVariable: environment[coreTypeVariable], marker: marker)
        guard case .reexecute(let core) = decision else { return }
        var env = environment
        if let original = environment[coreTypeVariable], !original.isEmpty { env[originalVariable] = original }
        env[coreTypeVariable] = core
        env[markerVariable] = "selected:\(core)"
        let problem = reexecute(environment: env)
        warn("could not re-execute with OPENBLAS_CORETYPE=\(core) (\(problem)); running the \(coreName) kernels")
        #endif
    }

    /// Replaces the process image with /proc/self/exe, the same arguments and `environment`.
    /// Returns only on failure, with the error text.
    static func reexecute(environment: [String: String]) -> String {
        fflush(nil)   // all C streams (nothing is written before start-up, but be safe)
        let arguments = CommandLine.arguments
        let envStrings = environment.map { "\($0.key)=\($0.value)" }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = envStrings.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        execve("/proc/self/exe", &argv, &envp)
        return String(cString: strerror(errno))
    }
}
