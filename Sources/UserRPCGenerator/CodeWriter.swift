/// Lines of Swift with their indentation; `swift format` gives the final layout.
struct CodeWriter {
    private(set) var text = ""
    private var depth = 0

    /// One line at the current depth (an empty line stays empty).
    mutating func line(_ line: String = "") {
        text += line.isEmpty ? "\n" : String(repeating: "    ", count: depth) + line + "\n"
    }

    /// `/// text` lines at the current depth, one per paragraph line.
    mutating func doc(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            self.line(line.isEmpty ? "///" : "/// " + line)
        }
    }

    /// `opening {`, the body one level deeper, then `}`.
    mutating func block(_ opening: String, _ body: (inout CodeWriter) -> Void) {
        line(opening + " {")
        depth += 1
        body(&self)
        depth -= 1
        line("}")
    }

    /// Text as it is, without indentation (a raw string's contents).
    mutating func verbatim(_ text: String) {
        self.text += text
    }
}
