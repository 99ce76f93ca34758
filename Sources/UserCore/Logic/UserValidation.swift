#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The rules a request must meet. Each check returns the violations it finds, so one response can
/// report every bad field at once.
public enum UserValidation {
    public static let usernameLength = 3...100
    /// In Unicode code points, as JSON Schema's `maxLength` counts (so at most 1,020 bytes of UTF-8).
    public static let emailMaxLength = 255
    public static let emailLocalPartMaxLength = 64
    public static let searchLimitRange = 1...100
    public static let defaultSearchLimit = 20

    /// Problems with a username, or `nil` when it is valid: 3 to 100 ASCII letters, digits, `.`, `_`
    /// or `-`, starting with a letter or digit.
    public static func usernameProblem(_ username: String) -> String? {
        let utf8 = username.utf8
        guard usernameLength.contains(utf8.count) else {
            return "must be 3 to 100 characters long"
        }
        guard utf8.allSatisfy(isUsernameByte) else {
            return "may contain only ASCII letters, digits, '.', '_' and '-'"
        }
        guard let first = utf8.first, isAlphanumeric(first) else {
            return "must start with a letter or digit"
        }
        return nil
    }

    /// Problems with an email, or `nil` when it is valid: at most 255 characters, exactly one `@`,
    /// a local part of 1 to 64 characters, a domain with at least one dot that neither starts nor
    /// ends with a dot, and no whitespace or control characters (C0, DEL and C1). Characters are
    /// Unicode code points, as in JSON Schema (`e` + U+0301 is two), and every rule reads code
    /// points: an `@` followed by a combining mark is still an `@`.
    public static func emailProblem(_ email: String) -> String? {
        let scalars = email.unicodeScalars
        guard !scalars.isEmpty else { return "is required" }
        guard scalars.count <= emailMaxLength else { return "must be at most 255 characters long" }
        guard !scalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        else { return "must not contain spaces or control characters" }
        let parts = scalars.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return "must contain exactly one '@'" }
        let local = parts[0]
        let domain = parts[1]
        guard !local.isEmpty else { return "must have a local part before '@'" }
        guard local.count <= emailLocalPartMaxLength else { return "local part must be at most 64 characters long" }
        guard domain.contains("."), domain.first != ".", domain.last != "." else {
            return "domain must contain a dot, and neither start nor end with one"
        }
        return nil
    }

    /// What is wrong with an idempotency key (`metadata.idempotency-key`), or `nil`: it must be 1 to
    /// 128 bytes of printable ASCII without spaces (a UUID is the usual choice).
    public static func idempotencyKeyProblem(_ key: String) -> InvalidField? {
        let bytes = key.utf8
        guard !bytes.isEmpty, bytes.count <= 128, bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return InvalidField(field: "metadata.idempotency-key", description: "must be 1 to 128 printable ASCII characters without spaces")
        }
        return nil
    }

    /// Every problem with a registration's fields (none when it is valid).
    public static func registrationProblems(username: String, email: String) -> [InvalidField] {
        var problems: [InvalidField] = []
        if let problem = usernameProblem(username) {
            problems.append(InvalidField(field: "username", description: problem))
        }
        if let problem = emailProblem(email) {
            problems.append(InvalidField(field: "email", description: problem))
        }
        return problems
    }

    /// Turns a search's fields into a repository query, or throws INVALID_ARGUMENT with every problem.
    /// A search's filters, limit and position; an empty `pageToken` is the first page, like none.
    public static func searchQuery(
        username: String?, email: String?, limit: Int?, pageToken: String?, pageTokens: PageTokens
    ) throws(UserError) -> UserSearchQuery {
        var problems: [InvalidField] = []
        let limit = limit ?? defaultSearchLimit
        if !searchLimitRange.contains(limit) {
            problems.append(InvalidField(field: "limit", description: "must be between 1 and 100"))
        }
        if let username, username.unicodeScalars.count > usernameLength.upperBound {
            problems.append(InvalidField(field: "username", description: "must be at most 100 characters long"))
        }
        if let email, email.unicodeScalars.count > emailMaxLength {
            problems.append(InvalidField(field: "email", description: "must be at most 255 characters long"))
        }
        // An empty email filters nothing, as an empty username prefix.
        let emailFilter = email.flatMap { $0.isEmpty ? nil : $0.asciiLowercased }
        var query = UserSearchQuery(usernamePrefix: username?.asciiLowercased, email: emailFilter, limit: limit)
        if let pageToken, !pageToken.isEmpty {
            query.after = pageTokens.cursor(from: pageToken, for: query)
            if query.after == nil {
                problems.append(
                    InvalidField(
                        field: "page_token", description: "is not a token this service issued for this search (the same filters and limit)"))
            }
        }
        guard problems.isEmpty else { throw .invalidArgument(problems) }
        return query
    }

    private static func isAlphanumeric(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }

    private static func isUsernameByte(_ b: UInt8) -> Bool {
        isAlphanumeric(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }
}
