import XCTest
@testable import DaemonCore

final class ControlInterfaceTests: XCTestCase {
    /// Varlink types, methods and errors share one namespace per interface: a clash
    /// makes clients (the Python varlink package) resolve the wrong member.
    func testTypeMethodAndErrorNamesAreUnique() {
        var names: [String] = []
        for line in ControlInterface.description.split(separator: "\n") {
            let words = line.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
            guard words.count == 2, ["type", "method", "error"].contains(words[0]) else { continue }
            names.append(String(words[1].prefix { $0.isLetter || $0.isNumber }))
        }
        XCTAssertGreaterThan(names.count, 20)
        XCTAssertEqual(names.count, Set(names).count, "duplicate names: \(names.sorted())")
    }

    /// Every method the service handles is declared, and every declared method is handled.
    func testDeclaredMethodsMatchTheHandledOnes() {
        let declared = ControlInterface.description.split(separator: "\n").compactMap { line -> String? in
            let text = line.trimmingCharacters(in: .whitespaces)
            guard text.hasPrefix("method ") else { return nil }
            return String(text.dropFirst(7).prefix { $0 != "(" })
        }
        XCTAssertEqual(Set(declared), Set(ControlService.methods.keys))
    }
}
