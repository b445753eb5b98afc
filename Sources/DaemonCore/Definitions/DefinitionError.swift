// DefinitionError.swift: an error in a workflow or configuration file, with its place.
//
// Every problem found while loading a file is one DefinitionError; loaders collect all
// of them so a sysadmin sees every mistake of a file at once.

/// A problem in a definition or configuration file: "file:line:column: message".
public struct DefinitionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}

/// All problems of one file.
public struct DefinitionErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [DefinitionError]
    public init(_ errors: [DefinitionError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
