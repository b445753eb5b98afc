// OutputTail.swift: keeps the last `limit` bytes of a stream and counts all of it,
// so a child writing gigabytes costs at most `limit` bytes of memory. A ring
// buffer; nothing here fails.

/// The tail of one output stream and the stream's total length.
struct OutputTail {
    /// Bytes kept at most.
    let limit: Int
    /// Grows up to `limit` bytes, then is overwritten in place starting at `start`.
    private var storage: [UInt8] = []
    /// Index of the oldest byte in `storage`; 0 until `storage` is full.
    private var start = 0
    /// Every byte appended, kept or not.
    private(set) var totalBytes = 0

    init(limit: Int) {
        precondition(limit >= 0, "output limit must not be negative")
        self.limit = limit
    }

    /// Appends a chunk of the stream, dropping the oldest bytes beyond `limit`.
    mutating func append(_ chunk: ArraySlice<UInt8>) {
        totalBytes += chunk.count
        guard limit > 0, !chunk.isEmpty else { return }
        if chunk.count >= limit {
            storage = Array(chunk.suffix(limit))
            start = 0
            return
        }
        var remaining = chunk
        if storage.count < limit {
            let head = remaining.prefix(limit - storage.count)
            storage.append(contentsOf: head)
            remaining = remaining.dropFirst(head.count)
        }
        while !remaining.isEmpty {
            let run = min(remaining.count, limit - start)
            storage.withUnsafeMutableBufferPointer { destination in
                remaining.prefix(run).withUnsafeBufferPointer { source in
                    let target = UnsafeMutableBufferPointer(rebasing: destination[start..<(start + run)])
                    _ = target.update(fromContentsOf: source)
                }
            }
            start = (start + run) % limit
            remaining = remaining.dropFirst(run)
        }
    }

    /// The kept bytes, oldest first.
    var bytes: [UInt8] {
        Array(storage[start...]) + Array(storage[..<start])
    }
}
