// swift-tools-version:6.0
import PackageDescription

// Layers, each importing only the ones above it in this list:
//   CGSL, COpenBLAS, CZlib   C system libraries (Debian: libgsl-dev, libopenblas-dev, zlib1g-dev)
//   CVectorKernels           the softmax's and local scores' vector loops in C, built per x86-64 level, chosen at run time
//   GSLKit                   thin, safe Swift wrappers: errors instead of aborts, owned resources;
//                            the only Swift code that touches raw pointers
//   DiffusionPhysics         datasets, forward process, scores and kernels, samplers, measurements, theory
//   DiffusionStudies         the lecture studies (Analyses/), gnuplot figures, reports
//   DiffusionBench           `diffphys bench`: timings beside a BLAS floor
//   diffphys                 the command line
//
// No unsafe flags: the package can be used as a dependency. Speed-critical vector code is in
// CVectorKernels, which compiles one copy per instruction-set level from plain C.

let package = Package(
    name: "DiffusionPhysics",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "DiffusionPhysics", targets: ["DiffusionPhysics"]),
        .library(name: "DiffusionStudies", targets: ["DiffusionStudies"]),   // for MPI/ (diffphys-mpi reproduce)
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
        .target(name: "CVectorKernels", exclude: ["VectorKernelsBody.inc", "VectorPrimitives.inc", "VectorLevels.inc", "LocalScoreKernelsBody.inc"]),
        .target(name: "GSLKit", dependencies: ["COpenBLAS", "CGSL", "CZlib", "CVectorKernels"]),
        .target(name: "DiffusionPhysics", dependencies: ["GSLKit"]),
        .target(name: "DiffusionStudies", dependencies: ["DiffusionPhysics", "GSLKit"]),
        .target(name: "DiffusionBench", dependencies: ["DiffusionPhysics", "GSLKit"]),
        .executableTarget(
            name: "diffphys",
            dependencies: [
                "DiffusionPhysics", "DiffusionStudies", "DiffusionBench", "GSLKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "GSLKitTests", dependencies: ["GSLKit"]),
        .testTarget(name: "DiffusionPhysicsTests", dependencies: ["DiffusionPhysics", "GSLKit"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PackageTests", dependencies: ["DiffusionPhysics"]),
        .testTarget(name: "DiffphysTests", dependencies: ["DiffusionPhysics", "DiffusionStudies", "diffphys"]),
    ]
)
