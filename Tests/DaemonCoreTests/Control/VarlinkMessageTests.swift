// VarlinkMessageTests.swift: Varlink call/reply shapes and NUL framing.
import XCTest

@testable import DaemonCore

final class VarlinkMessageTests: XCTestCase {
    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testCallEncodingAndDecoding() throws {
        let call = VarlinkCall(method: "io.flowd.Control.ListRuns", parameters: ["limit": 5], more: true)
        XCTAssertEqual(call.interface, "io.flowd.Control")
        XCTAssertEqual(call.methodName, "ListRuns")
        let bytes = call.encoded()
        XCTAssertEqual(bytes.last, 0)
        XCTAssertEqual(text(bytes.dropLast()), #"{"method":"io.flowd.Control.ListRuns","more":true,"parameters":{"limit":5}}"#)
        XCTAssertEqual(try VarlinkCall.decode(JSONValue.parse(bytes.dropLast())), call)

        let minimal = try VarlinkCall.decode(JSONValue.parse(#"{"method":"a.B","oneway":true}"#))
        XCTAssertEqual(minimal, VarlinkCall(method: "a.B", oneway: true))
    }

    func testMalformedCallsAreRefused() {
        let cases: [(String, String)] = [
            ("[1]", "message is not a JSON object"),
            (#"{"parameters":{}}"#, #"call has no "method" string"#),
            (#"{"method":"NoDot"}"#, #"method "NoDot" is not of the form interface.Method"#),
            (#"{"method":"iface."}"#, #"method "iface." is not of the form interface.Method"#),
            (#"{"method":"a.B","parameters":[]}"#, #""parameters" is not an object"#),
            (#"{"method":"a.B","more":"yes"}"#, #""more" is not a boolean"#),
        ]
        for (message, expected) in cases {
            XCTAssertThrowsError(try VarlinkCall.decode(JSONValue.parse(message)), message) { error in
                XCTAssertEqual((error as? VarlinkProtocolError)?.message, expected)
            }
        }
    }

    func testReplyEncodingAndDecoding() throws {
        let reply = VarlinkReply(parameters: ["n": 1], continues: true)
        XCTAssertEqual(text(reply.encoded().dropLast()), #"{"continues":true,"parameters":{"n":1}}"#)
        let error = VarlinkReply(parameters: ["method": "x.Y"], error: "org.varlink.service.MethodNotFound")
        XCTAssertEqual(
            text(error.encoded().dropLast()),
            #"{"error":"org.varlink.service.MethodNotFound","parameters":{"method":"x.Y"}}"#)
        XCTAssertEqual(try VarlinkReply.decode(JSONValue.parse(error.encoded().dropLast())), error)
        XCTAssertEqual(try VarlinkReply.decode(JSONValue.parse("{}")), VarlinkReply())
        XCTAssertThrowsError(try VarlinkReply.decode(JSONValue.parse(#"{"error":3}"#)))
    }

    func testFramesSplitAcrossReads() throws {
        var decoder = VarlinkFrameDecoder(maxMessageBytes: 100)
        decoder.append(Array(#"{"method":"#.utf8))
        XCTAssertNil(try decoder.nextMessage())
        decoder.append(Array(#""a.B"}"#.utf8) + [0])
        XCTAssertEqual(try decoder.nextMessage().map(text), #"{"method":"a.B"}"#)
        XCTAssertNil(try decoder.nextMessage())
        XCTAssertEqual(decoder.bufferedByteCount, 0)
    }

    func testTwoMessagesInOneRead() throws {
        var decoder = VarlinkFrameDecoder(maxMessageBytes: 100)
        decoder.append(Array("{}".utf8) + [0] + Array("[1]".utf8) + [0] + Array("{".utf8))
        XCTAssertEqual(try decoder.nextMessage().map(text), "{}")
        XCTAssertEqual(try decoder.nextMessage().map(text), "[1]")
        XCTAssertNil(try decoder.nextMessage())
        XCTAssertEqual(decoder.bufferedByteCount, 1)
    }

    func testOversizedMessageIsRefusedBeforeItsTerminator() throws {
        var decoder = VarlinkFrameDecoder(maxMessageBytes: 10)
        decoder.append([UInt8](repeating: 0x20, count: 10))
        XCTAssertNil(try decoder.nextMessage(), "exactly the limit is still fine")
        decoder.append([0x20])
        XCTAssertThrowsError(try decoder.nextMessage()) { error in
            XCTAssertEqual((error as? VarlinkProtocolError)?.message, "message longer than 10 bytes")
        }
        decoder.append([0])
        XCTAssertThrowsError(try decoder.nextMessage(), "a failed stream stays failed")
    }

    func testOversizedCompleteMessageIsRefused() throws {
        var decoder = VarlinkFrameDecoder(maxMessageBytes: 4)
        decoder.append(Array("1234".utf8) + [0] + Array("12345".utf8) + [0])
        XCTAssertEqual(try decoder.nextMessage().map(text), "1234")
        XCTAssertThrowsError(try decoder.nextMessage())
    }

    func testManySmallMessagesKeepBufferSmall() throws {
        var decoder = VarlinkFrameDecoder(maxMessageBytes: 16)
        for number in 0..<1000 {
            decoder.append(Array("\(number)".utf8) + [0])
            XCTAssertEqual(try decoder.nextMessage().map(text), "\(number)")
        }
        XCTAssertEqual(decoder.bufferedByteCount, 0)
    }
}
