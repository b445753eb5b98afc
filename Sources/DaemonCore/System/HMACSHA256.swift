// HMACSHA256.swift: RFC 2104 HMAC over SHA256.swift, for webhook signatures.
//
// Used by connector actions with `sign:` (X-Flowd-Signature: sha256=<hex>). Cannot fail.

/// Computes HMAC-SHA256 message authentication codes.
public enum HMACSHA256 {
    private static let blockSize = 64

    /// The 32-byte MAC of `message` under `key`.
    public static func authenticationCode(key: some Collection<UInt8>, message: some Collection<UInt8>) -> [UInt8] {
        var block = Array(key)
        if block.count > blockSize { block = SHA256.digest(block) }
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        let inner = SHA256.digest(block.map { $0 ^ 0x36 } + Array(message))
        return SHA256.digest(block.map { $0 ^ 0x5c } + inner)
    }

    /// The MAC as lowercase hexadecimal.
    public static func hexAuthenticationCode(key: some Collection<UInt8>, message: some Collection<UInt8>) -> String {
        authenticationCode(key: key, message: message).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
