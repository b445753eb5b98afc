// YAMLTreeBuilder.swift: turns libyaml's event stream into one YAMLNode tree.
//
// The builder keeps an explicit stack of open collections (no recursion, so nesting
// cannot overflow the thread's stack), expands aliases into copies of their anchored
// node, applies `<<` merge keys, and checks every scalar against the core schema and
// its tag. It fails with a positioned YAMLError on: a second document, an undefined
// alias, a duplicate or non-scalar mapping key, a bad merge value, an unsupported tag,
// nesting past maxDepth, or more than maxNodes nodes counting alias copies. The node
// count is checked before an alias is copied, so a billion-laughs input fails after a
// handful of events and with almost no memory (copies share storage until mutated).

/// Builds the single document of one input. Use once.
struct YAMLTreeBuilder {
    private let reader: YAMLEventReader
    private let limits: YAMLLimits
    /// Anchored nodes by anchor name, with what a copy of each costs.
    private var anchors: [String: AnchoredNode] = [:]
    /// Open collections, outermost first.
    private var stack: [OpenCollection] = []
    /// Nodes produced so far, alias copies included.
    private var nodeCount = 0
    private var root: YAMLNode?

    private struct AnchoredNode {
        var node: YAMLNode
        /// Nodes in the subtree; what copying it adds to the node count.
        var size: Int
        /// Nesting levels in the subtree: 0 for a scalar, 1 for a flat collection.
        var height: Int
    }

    /// A sequence or mapping whose end event has not come yet.
    private struct OpenCollection {
        var location: SourceLocation
        var tag: String?
        var anchor: String?
        var nodeCountAtStart: Int
        var childHeight = 0
        /// Nil for a sequence.
        var mapping: YAMLMappingBuilder?
        var items: [YAMLNode] = []
    }

    init(reader: YAMLEventReader, limits: YAMLLimits) {
        self.reader = reader
        self.limits = limits
    }

    /// The document's root node, or nil when the stream holds no document.
    mutating func buildDocument() throws(YAMLError) -> YAMLNode? {
        var sawDocument = false
        while true {
            let event = try reader.next()
            let location = event.location
            switch event.kind {
            case .streamStart, .documentEnd:
                continue
            case .streamEnd:
                return root
            case .documentStart:
                if sawDocument {
                    throw YAMLError(
                        location: location, message: "a second document starts here; a file must hold exactly one")
                }
                sawDocument = true
            case .scalar(let text, let style, let anchor, let tag):
                try countNodes(1, at: location)
                do {
                    _ = try YAMLCoreSchema.resolve(text, style: style, tag: tag)
                } catch {
                    throw YAMLError(location: location, message: error.message)
                }
                let node = YAMLNode(content: .scalar(text, style), location: location, tag: tag)
                if let anchor { anchors[anchor] = AnchoredNode(node: node, size: 1, height: 0) }
                try deliver(node, height: 0, at: location)
            case .alias(let anchor):
                guard let anchored = anchors[anchor] else {
                    throw YAMLError(location: location, message: "undefined alias \"\(anchor)\"")
                }
                try checkDepth(stack.count + anchored.height, at: location)
                try countNodes(anchored.size, at: location)
                try deliver(anchored.node, height: anchored.height, at: location)
            case .sequenceStart(let anchor, let tag):
                try open(mapping: false, anchor: anchor, tag: tag, at: location)
            case .mappingStart(let anchor, let tag):
                try open(mapping: true, anchor: anchor, tag: tag, at: location)
            case .sequenceEnd, .mappingEnd:
                try closeCollection()
            }
        }
    }

    private mutating func open(mapping: Bool, anchor: String?, tag: String?, at location: SourceLocation) throws(YAMLError) {
        try checkDepth(stack.count + 1, at: location)
        try countNodes(1, at: location)
        let expectedTag = mapping ? YAMLCoreSchema.mappingTag : YAMLCoreSchema.sequenceTag
        if let tag, tag != expectedTag, tag != YAMLCoreSchema.nonSpecificTag {
            let kind = mapping ? "a mapping" : "a sequence"
            throw YAMLError(
                location: location, message: "unsupported tag \(YAMLCoreSchema.shortName(ofTag: tag)) on \(kind)")
        }
        stack.append(OpenCollection(
            location: location, tag: tag, anchor: anchor, nodeCountAtStart: nodeCount - 1,
            mapping: mapping ? YAMLMappingBuilder() : nil))
    }

    private mutating func closeCollection() throws(YAMLError) {
        let collection = stack.removeLast()
        let content: YAMLNode.Content
        if let mapping = collection.mapping {
            content = .mapping(mapping.finish())
        } else {
            content = .sequence(collection.items)
        }
        let node = YAMLNode(content: content, location: collection.location, tag: collection.tag)
        let height = collection.childHeight + 1
        if let anchor = collection.anchor {
            anchors[anchor] = AnchoredNode(node: node, size: nodeCount - collection.nodeCountAtStart, height: height)
        }
        try deliver(node, height: height, at: collection.location)
    }

    /// Hands a finished node to the innermost open collection, or makes it the root.
    /// `location` is where the node appeared, which for an alias copy is the alias.
    private mutating func deliver(_ node: YAMLNode, height: Int, at location: SourceLocation) throws(YAMLError) {
        guard !stack.isEmpty else {
            root = node
            return
        }
        let innermost = stack.count - 1
        stack[innermost].childHeight = max(stack[innermost].childHeight, height)
        if stack[innermost].mapping != nil {
            try stack[innermost].mapping!.add(node, at: location)
        } else {
            stack[innermost].items.append(node)
        }
    }

    private func checkDepth(_ depth: Int, at location: SourceLocation) throws(YAMLError) {
        guard depth <= limits.maxDepth else {
            throw YAMLError(location: location, message: "nesting is deeper than the limit of \(limits.maxDepth) levels")
        }
    }

    private mutating func countNodes(_ added: Int, at location: SourceLocation) throws(YAMLError) {
        nodeCount += added
        guard nodeCount <= limits.maxNodes else {
            throw YAMLError(
                location: location,
                message: "the document expands to more than \(limits.maxNodes) nodes (aliases included)")
        }
    }
}

/// The pairs of one mapping as they arrive: checks keys, and applies `<<` merge keys
/// when the mapping ends (explicit keys win; among merged mappings, the earlier wins).
struct YAMLMappingBuilder {
    private enum Entry {
        case pair(YAMLPair)
        case merge([[YAMLPair]])
    }

    private var entries: [Entry] = []
    /// Line of each key seen so far, by key text, for the duplicate-key message.
    private var keyLines: [String: Int] = [:]
    /// Texts of the keys written in this mapping (not merged in).
    private var explicitKeys: Set<String> = []
    private var pendingKey: (node: YAMLNode, text: String, isMerge: Bool)?

    /// Adds the next key or value, alternately.
    mutating func add(_ node: YAMLNode, at location: SourceLocation) throws(YAMLError) {
        guard let key = pendingKey else {
            try addKey(node, at: location)
            return
        }
        pendingKey = nil
        if key.isMerge {
            entries.append(.merge(try Self.mergeSources(node, at: location)))
        } else {
            entries.append(.pair(YAMLPair(key: key.node, value: node)))
            explicitKeys.insert(key.text)
        }
    }

    private mutating func addKey(_ node: YAMLNode, at location: SourceLocation) throws(YAMLError) {
        guard case .scalar(let text, let style) = node.content else {
            throw YAMLError(location: location, message: "a mapping key must be a scalar, found \(node.kindName)")
        }
        if let firstLine = keyLines[text] {
            throw YAMLError(location: location, message: "duplicate key \"\(text)\" (first at line \(firstLine))")
        }
        keyLines[text] = location.line
        let isMerge = node.tag == YAMLCoreSchema.mergeTag || (node.tag == nil && style == .plain && text == "<<")
        pendingKey = (node, text, isMerge)
    }

    /// The mappings a `<<` value names: one mapping, or a sequence of mappings.
    private static func mergeSources(_ value: YAMLNode, at location: SourceLocation) throws(YAMLError) -> [[YAMLPair]] {
        if let pairs = value.pairs { return [pairs] }
        if let items = value.items {
            var sources: [[YAMLPair]] = []
            for item in items {
                guard let pairs = item.pairs else {
                    throw YAMLError(
                        location: location,
                        message: "a merge key takes a mapping or a sequence of mappings, found a sequence holding \(item.kindName)")
                }
                sources.append(pairs)
            }
            return sources
        }
        throw YAMLError(
            location: location, message: "a merge key takes a mapping or a sequence of mappings, found \(value.kindName)")
    }

    /// The mapping's pairs in source order, merged pairs in place of their `<<` key.
    func finish() -> [YAMLPair] {
        precondition(pendingKey == nil, "libyaml ended a mapping between a key and its value")
        var pairs: [YAMLPair] = []
        var mergedKeys: Set<String> = []
        for entry in entries {
            switch entry {
            case .pair(let pair):
                pairs.append(pair)
            case .merge(let sources):
                for pair in sources.joined() {
                    let text = pair.key.scalarText ?? ""
                    guard !explicitKeys.contains(text), mergedKeys.insert(text).inserted else { continue }
                    pairs.append(pair)
                }
            }
        }
        return pairs
    }
}
