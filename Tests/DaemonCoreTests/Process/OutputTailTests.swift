// OutputTailTests.swift: the bounded tail keeps exactly the last `limit` bytes of a
// stream, whatever the chunk sizes, and counts every byte.

import XCTest

@testable import DaemonCore

final class OutputTailTests: XCTestCase {
    func testKeepsTheLastBytesAcrossRandomChunks() {
        var generator = SystemRandomNumberGenerator()
        for limit in [0, 1, 7, 100, 4096] {
            var tail = OutputTail(limit: limit)
            var everything: [UInt8] = []
            for _ in 0..<300 {
                let size = Int.random(in: 0...(limit * 2 + 3), using: &generator)
                let chunk = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
                everything += chunk
                tail.append(chunk[...])
                XCTAssertEqual(tail.bytes, Array(everything.suffix(limit)), "limit \(limit)")
            }
            XCTAssertEqual(tail.totalBytes, everything.count)
        }
    }
}
