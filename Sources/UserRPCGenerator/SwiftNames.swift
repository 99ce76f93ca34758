import Foundation

/// Names as Swift spells them, from names as the schemas spell them.
enum SwiftNames {
    /// `page_token` → `pageToken`, `RegisterUser` → `registerUser`, `NOT_SERVING` → `notServing`.
    static func lowerCamel(_ name: String) -> String {
        let words = name.split(separator: "_")
        guard let first = words.first else { return name }
        let head: String
        if first.allSatisfy({ $0.isUppercase || $0.isNumber }) {
            head = first.lowercased()
        } else {
            head = first.prefix(1).lowercased() + first.dropFirst()
        }
        return head + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined()
    }

    /// `status` → `Status`, `page_token` → `PageToken`.
    static func upperCamel(_ name: String) -> String {
        let lower = lowerCamel(name)
        return lower.prefix(1).uppercased() + lower.dropFirst()
    }

    /// Text for a `///` comment: backquotes kept, one line.
    static func docText(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }
}
