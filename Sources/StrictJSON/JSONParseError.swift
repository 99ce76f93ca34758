/// Why a document was rejected by ``JSONParser``, and the byte offset where it was noticed.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong; the raw value is its description for people.
    public enum Reason: String, Sendable, Hashable {
        /// The input ended inside a value.
        case unexpectedEnd = "unexpected end of input"
        /// A byte that the grammar does not allow here.
        case unexpectedByte = "unexpected character"
        /// A string whose bytes are not valid UTF-8.
        case invalidUTF8 = "invalid UTF-8"
        /// A backslash escape that JSON does not define, a malformed `\u` escape, or a lone surrogate.
        case invalidEscape = "invalid escape sequence"
        /// A control character (below U+0020) written unescaped inside a string.
        case controlCharacterInString = "unescaped control character in string"
        /// A number literal that breaks the JSON number grammar.
        case invalidNumber = "invalid number"
        /// A number literal longer than ``JSONParser/Limits/maxNumberLength``.
        case numberTooLong = "number literal too long"
        /// An object that has the same key twice.
        case duplicateKey = "duplicate object key"
        /// Arrays and objects nested deeper than ``JSONParser/Limits/maxDepth``.
        case tooDeep = "nesting too deep"
        /// Something other than whitespace after the document's one value.
        case trailingContent = "trailing content after the document"
    }

    /// What was wrong.
    public var reason: Reason
    /// Byte offset into the input.
    public var offset: Int

    /// An error for `reason`, noticed at byte `offset`.
    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    /// The reason and the offset, for example `duplicate object key at byte 17`.
    public var description: String { "\(reason.rawValue) at byte \(offset)" }
}
