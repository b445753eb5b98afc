// swift-tools-version:6.0
//
// flowd: a workflow daemon for one Linux host.
// Targets: the daemon (flowd), the admin CLI (flowadm), the library both build on
// (DaemonCore), and one system-library target per C library from Debian.
import PackageDescription

let package = Package(
    name: "flowd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "flowd", targets: ["flowd"]),
        .executable(name: "flowadm", targets: ["flowadm"]),
    ],
    targets: [
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "CFlowdShim"),
        // libcurl is not linked: the shim loads it with dlopen on the first http step.
        .target(name: "CCurlShim", linkerSettings: [.linkedLibrary("dl")]),
        .target(
            name: "DaemonCore",
            dependencies: ["CYAML", "CSystemd", "CSQLite", "CFlowdShim", "CCurlShim"]
        ),
        .executableTarget(name: "flowd", dependencies: ["DaemonCore"]),
        .executableTarget(name: "flowadm", dependencies: ["DaemonCore"]),
        .testTarget(name: "DaemonCoreTests", dependencies: ["DaemonCore"], exclude: ["Definitions/Fixtures", "HTTP/Support"]),
        .testTarget(name: "EndToEndTests", dependencies: ["DaemonCore"], exclude: ["Support"]),
    ]
)
