/// Why a document was rejected by ``JSONParser``, and the byte offset where it was noticed.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        case unexpectedEnd = "unexpected end of input"
        case unexpectedByte = "unexpected character"
        case invalidUTF8 = "invalid UTF-8"
        case invalidEscape = "invalid escape sequence"
        case controlCharacterInString = "unescaped control character in string"
        case invalidNumber = "invalid number"
        case numberTooLong = "number literal too long"
        case duplicateKey = "duplicate object key"
        case tooDeep = "nesting too deep"
        case trailingContent = "trailing content after the document"
    }

    public var reason: Reason
    /// Byte offset into the input.
    public var offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "\(reason.rawValue) at byte \(offset)" }
}
