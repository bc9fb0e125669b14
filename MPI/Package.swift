// swift-tools-version:6.0
import PackageDescription

// Opt-in MPI layer (README "MPI"): a separate package so the root package never needs Open MPI.
//   CMPI           Open MPI's C interface (Debian libopenmpi-dev), through pkg-config "ompi-c"
//   DiffusionMPI   MPIHandle (the one file with pointers), the sharded exact score, the
//                  distributed memorisation map and reproduce — all reuse the root package's libraries
//   diffphys-mpi   the command line, run under mpirun or srun
//
// Build: swift build -c release --package-path MPI      Test: bash MPI/test.sh

let package = Package(
    name: "DiffusionPhysicsMPI",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "diffphys-mpi", targets: ["diffphys-mpi"]),
        .library(name: "DiffusionMPI", targets: ["DiffusionMPI"]),
    ],
    dependencies: [
        .package(name: "DiffusionPhysics", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .target(name: "DiffusionMPI", dependencies: [
            "CMPI", .product(name: "DiffusionPhysics", package: "DiffusionPhysics"),
            .product(name: "DiffusionStudies", package: "DiffusionPhysics"),
        ]),
        .executableTarget(name: "diffphys-mpi", dependencies: [
            "DiffusionMPI", .product(name: "DiffusionPhysics", package: "DiffusionPhysics"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
    ]
)
