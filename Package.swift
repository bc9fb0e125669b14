// swift-tools-version:6.0
import PackageDescription

// Layers, each importing only the ones above it in this list:
//   CGSL, COpenBLAS, CZlib   C system libraries (Debian: libgsl-dev, libopenblas-dev, zlib1g-dev)
//   GSLKit                   thin, safe Swift wrappers: errors instead of aborts, owned resources
//   DiffusionPhysics         datasets, forward process, scores and kernels, samplers, measurements, theory
//   DiffusionStudies         the lecture studies (Analyses/), gnuplot figures, reports
//   DiffusionBench           `diffphys bench`: timings beside a BLAS floor
//   diffphys                 the command line
let optimise: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]

let package = Package(
    name: "DiffusionPhysics",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "DiffusionPhysics", targets: ["DiffusionPhysics"]),
        .executable(name: "diffphys", targets: ["diffphys"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS first: it must win the cblas_* symbols over GSL's reference gslcblas.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CGSL", path: "Sources/CGSL", pkgConfig: "gsl",
                       providers: [.apt(["libgsl-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "GSLKit", dependencies: ["COpenBLAS", "CGSL", "CZlib"], swiftSettings: optimise),
        .target(name: "DiffusionPhysics", dependencies: ["GSLKit"], swiftSettings: optimise),
        .target(name: "DiffusionStudies", dependencies: ["DiffusionPhysics", "GSLKit"], swiftSettings: optimise),
        .target(name: "DiffusionBench", dependencies: ["DiffusionPhysics", "GSLKit"], swiftSettings: optimise),
        .executableTarget(
            name: "diffphys",
            dependencies: [
                "DiffusionPhysics", "DiffusionStudies", "DiffusionBench", "GSLKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimise),
        .testTarget(name: "GSLKitTests", dependencies: ["GSLKit"], swiftSettings: optimise),
        .testTarget(name: "DiffusionPhysicsTests", dependencies: ["DiffusionPhysics", "GSLKit"],
                    resources: [.copy("Fixtures")], swiftSettings: optimise),
        .testTarget(name: "DiffphysTests", dependencies: ["DiffusionPhysics", "DiffusionStudies", "diffphys"], swiftSettings: optimise),
    ]
)
