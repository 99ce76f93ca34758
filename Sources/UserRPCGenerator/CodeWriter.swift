/// Lines of Swift with their indentation; `swift format` gives the final layout.
struct CodeWriter {
    private(set) var text = ""
    private var depth = 0

    /// One line at the current depth (an empty line stays empty).
    mutating func line(_ line: String = "") {
        text += line.isEmpty ? "\n" : String(repeating: "    ", count: depth) + line + "\n"
    }

    /// `/// text` lines at the current depth: each line of `text`, wrapped at word boundaries to
    /// ``docWidth`` columns (a list item's continuation lines indented under its text).
    mutating func doc(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            guard !line.isEmpty else {
                self.line("///")
                continue
            }
            let indent = String(line.prefix { $0 == " " }) + (line.drop { $0 == " " }.hasPrefix("- ") ? "  " : "")
            let width = Self.docWidth - depth * 4 - 4
            var current = ""
            for word in line.split(separator: " ") {
                if !current.isEmpty, current.count + 1 + word.count > width {
                    self.line("/// " + current)
                    current = indent + word
                } else {
                    current = current.isEmpty ? String(line.prefix { $0 == " " }) + word : current + " " + word
                }
            }
            self.line("/// " + current)
        }
    }

    /// The column at which doc comments wrap.
    static let docWidth = 110

    /// `opening {`, the body one level deeper, then `}`.
    mutating func block(_ opening: String, _ body: (inout CodeWriter) -> Void) {
        line(opening + " {")
        depth += 1
        body(&self)
        depth -= 1
        line("}")
    }

    /// The body one level deeper, without braces (a call's arguments, a function's body written
    /// between lines of the caller's own).
    mutating func indent(_ body: (inout CodeWriter) -> Void) {
        depth += 1
        body(&self)
        depth -= 1
    }

    /// `opening {}` when `lines` is empty, otherwise a block of them.
    mutating func block(_ opening: String, lines: [String]) {
        guard !lines.isEmpty else { return line(opening + " {}") }
        block(opening) { code in
            for line in lines { code.line(line) }
        }
    }

    /// A generated file's first lines: the header comment, the imports (sorted), and Foundation
    /// (FoundationEssentials where it exists) when the code uses `UUID` or `Date`.
    mutating func fileHeader(_ header: String, imports: [String], foundation: Bool) {
        line(header)
        line()
        for module in imports.sorted() { line("import \(module)") }
        if foundation {
            line()
            line("#if canImport(FoundationEssentials)")
            line("    import FoundationEssentials")
            line("#else")
            line("    import Foundation")
            line("#endif")
        }
        line()
    }

    /// Text as it is, without indentation (a raw string's contents).
    mutating func verbatim(_ text: String) {
        self.text += text
    }
}
