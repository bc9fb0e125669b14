import XCTest
@testable import GSLKit

/// The start-up choice of OpenBLAS kernels (`BLASCore.decide`) as a table of cases, the feature
/// parsing it reads, and the self-check that guards a chosen core.
final class BLASCoreTests: XCTestCase {
    static let sapphireRapidsFlags = "fpu sse sse2 pni ssse3 fma sse4_1 sse4_2 avx avx2 avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx512_fp16"
    static let zen3Flags = "fpu sse sse2 pni ssse3 fma sse4_1 sse4_2 avx avx2"
    static let knightsLandingFlags = "fpu sse sse2 pni ssse3 fma avx avx2 avx512f avx512cd avx512er avx512pf"
    static let sandyBridgeFlags = "fpu sse sse2 pni ssse3 sse4_1 sse4_2 avx"

    func testFeatureParsing() {
        let spr = CPUFeatures(cpuinfoFlags: Self.sapphireRapidsFlags)
        XCTAssertTrue(spr.isSuperset(of: .skylakeX))
        XCTAssertTrue(spr.contains(.sse3))
        XCTAssertEqual(CPUFeatures(cpuinfoFlags: Self.zen3Flags), [.sse3, .fma, .avx, .avx2])
        // avx512_fp16 / avx512ifma are other flags: no false matches on prefixes.
        XCTAssertFalse(CPUFeatures(cpuinfoFlags: "avx512_fp16 avx512ifma").contains(.avx512f))
        XCTAssertEqual(CPUFeatures([.sse3, .avx512f]).names, ["sse3", "avx512f"])
    }

    func testDecisionTable() {
        let spr = CPUFeatures(cpuinfoFlags: Self.sapphireRapidsFlags)
        let zen3 = CPUFeatures(cpuinfoFlags: Self.zen3Flags)
        let knl = CPUFeatures(cpuinfoFlags: Self.knightsLandingFlags)
        let snb = CPUFeatures(cpuinfoFlags: Self.sandyBridgeFlags)
        typealias Case = (core: String, features: CPUFeatures, coreType: String?, marker: String?, expected: BLASCore.Decision, line: UInt)
        let cases: [Case] = [
            // The issue's machine: AVX-512 Xeon, OpenBLAS 0.3.21 falls back to Prescott.
            ("Prescott", spr, nil, nil, .reexecute(core: "SkylakeX"), #line),
            ("Nehalem", spr, nil, nil, .reexecute(core: "SkylakeX"), #line),
            ("Sandybridge", spr, nil, nil, .reexecute(core: "SkylakeX"), #line),
            ("Haswell", spr, nil, nil, .reexecute(core: "SkylakeX"), #line),
            ("prescott", spr, "", nil, .reexecute(core: "SkylakeX"), #line),     // empty variable = unset
            // AVX2 + FMA only → Haswell.
            ("Prescott", zen3, nil, nil, .reexecute(core: "Haswell"), #line),
            ("Core2", zen3, nil, nil, .reexecute(core: "Haswell"), #line),
            ("Zen", zen3, nil, nil, .keep(.alreadyBest), #line),
            ("Haswell", zen3, nil, nil, .keep(.alreadyBest), #line),
            // Knights Landing lacks AVX-512 DQ/BW/VL: Haswell kernels, not SkylakeX.
            ("Prescott", knl, nil, nil, .reexecute(core: "Haswell"), #line),
            // Recognised cores stay.
            ("SkylakeX", spr, nil, nil, .keep(.alreadyBest), #line),
            ("Cooperlake", spr, nil, nil, .keep(.alreadyBest), #line),
            ("SapphireRapids", spr, nil, nil, .keep(.alreadyBest), #line),
            // No better kernels: AVX only, SSE only, or nothing known (other architectures).
            ("Sandybridge", snb, nil, nil, .keep(.noBetterKernels), #line),
            ("Prescott", [.sse3], nil, nil, .keep(.noBetterKernels), #line),
            ("Prescott", [], nil, nil, .keep(.noBetterKernels), #line),
            ("NEOVERSEN1", [], nil, nil, .keep(.unknownCore), #line),
            ("armv8", spr, nil, nil, .keep(.unknownCore), #line),
            // The user's OPENBLAS_CORETYPE wins, even a slow one.
            ("Prescott", spr, "Prescott", nil, .keep(.userChoice), #line),
            ("Haswell", spr, "Haswell", nil, .keep(.userChoice), #line),
            // The marker: auto = the variable is not the user's; selected/fallback = no second re-exec.
            ("Prescott", spr, "Prescott", "auto", .reexecute(core: "SkylakeX"), #line),
            ("Prescott", spr, nil, "auto", .reexecute(core: "SkylakeX"), #line),
            ("Prescott", spr, "SkylakeX", "selected:SkylakeX", .keep(.alreadyReexecuted), #line),
            ("Prescott", spr, nil, "fallback:SkylakeX", .keep(.alreadyReexecuted), #line),
            ("Prescott", spr, nil, "off", .keep(.disabled), #line),
            ("Prescott", spr, "Haswell", "OFF", .keep(.disabled), #line),
        ]
        for c in cases {
            XCTAssertEqual(BLASCore.decide(currentCore: c.core, features: c.features, coreTypeVariable: c.coreType, marker: c.marker),
                           c.expected, "core \(c.core) coreType \(c.coreType ?? "nil") marker \(c.marker ?? "nil")", line: c.line)
        }
    }

    func testTiersAndBestCore() {
        XCTAssertEqual(BLASCore.tier(ofCore: "PRESCOTT"), .sse)
        XCTAssertEqual(BLASCore.tier(ofCore: "Zen"), .avx2)
        XCTAssertNil(BLASCore.tier(ofCore: "POWER9"))
        XCTAssertEqual(BLASCore.bestCore(for: .skylakeX)?.name, "SkylakeX")
        XCTAssertEqual(BLASCore.bestCore(for: .haswell)?.name, "Haswell")
        XCTAssertNil(BLASCore.bestCore(for: [.avx, .fma]))
    }

    /// The running kernels pass the self-check (whatever core this machine runs).
    func testSelfCheckPasses() {
        let check = BLASCore.selfCheck()
        XCTAssertTrue(check.passed, "worst error \(check.worst)× the bound on core \(BLASCore.coreName)")
        XCTAssertLessThan(check.worst, 1e-2)
    }

    func testLibraryDescription() {
        XCTAssertFalse(BLASCore.coreName.isEmpty)
        XCTAssertTrue(BLASCore.config.hasPrefix("OpenBLAS"), BLASCore.config)
        XCTAssertNotNil(BLASCore.version)
        let path = try? XCTUnwrap(BLASCore.libraryPath)
        XCTAssertTrue(path?.contains("blas") ?? false, path ?? "nil")
        XCTAssertFalse(path?.contains("gslcblas") ?? true, path ?? "nil")
    }
}
