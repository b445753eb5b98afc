// TemplateCache.swift: templates parsed once, evaluated at every attempt.
//
// The loader parses every template of a definition to check it, but keeps only the
// text; parsing again per attempt (lexer, parser, one allocation per node) cost more
// than evaluating. The engine keeps the parsed form by text on first use: the parse
// depends on nothing but the text, so one entry serves every workflow and every
// reload. Bounded: at `capacity` entries the cache starts over (templates of a few
// hundred definitions fit many times over). Texts that fail to parse are not kept;
// their error is reported at each attempt, as before. Confined to the engine loop.

struct TemplateCache {
    static let capacity = 8192

    private var parsed: [String: Template] = [:]

    /// The parsed template for `text`, parsed now if it is not cached yet.
    mutating func template(_ text: String) throws(ExpressionError) -> Template {
        if let template = parsed[text] { return template }
        let template = try Template.parse(text)
        if parsed.count >= Self.capacity { parsed.removeAll(keepingCapacity: true) }
        parsed[text] = template
        return template
    }
}

extension Engine {
    /// `Template.parse(text)`, cached (see TemplateCache).
    func template(_ text: String) throws(ExpressionError) -> Template {
        try templateCache.template(text)
    }
}
