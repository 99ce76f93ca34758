/// A sorted collection kept as a list of sorted chunks of at most ``maxChunk`` elements each.
///
/// The in-memory search index: inserting or removing moves at most one chunk's elements (and the
/// chunk list's references when a chunk splits or empties), not the whole index, so a write to a
/// store of a million users does not hold the write lock for a memmove of megabytes.
struct SortedChunks<Element: Comparable> {
    /// The chunks, each sorted and non-empty; every element of a chunk precedes those of the next.
    private var chunks: [[Element]] = []
    private(set) var count = 0

    /// A chunk that grows past this splits in two.
    static var maxChunk: Int { 512 }

    init() {}

    /// Takes elements that are already sorted.
    init(sorted elements: [Element]) {
        let size = Self.maxChunk / 2
        chunks.reserveCapacity((elements.count + size - 1) / size)
        var start = 0
        while start < elements.count {
            let end = min(start + size, elements.count)
            chunks.append(Array(elements[start..<end]))
            start = end
        }
        count = elements.count
    }

    /// A place in the index: a chunk and an offset in it, or ``endIndex``.
    struct Position: Comparable {
        var chunk: Int
        var offset: Int

        static func < (lhs: Position, rhs: Position) -> Bool {
            (lhs.chunk, lhs.offset) < (rhs.chunk, rhs.offset)
        }
    }

    var startIndex: Position { Position(chunk: 0, offset: 0) }
    var endIndex: Position { Position(chunk: chunks.count, offset: 0) }

    /// The position of the first element not less than `element` (``endIndex`` if there is none).
    func lowerBound(_ element: Element) -> Position {
        var low = 0
        var high = chunks.count
        while low < high {
            let mid = (low + high) / 2
            if chunks[mid][chunks[mid].count - 1] < element { low = mid + 1 } else { high = mid }
        }
        guard low < chunks.count else { return endIndex }
        return Position(chunk: low, offset: Self.lowerBound(element, in: chunks[low]))
    }

    private static func lowerBound(_ element: Element, in chunk: [Element]) -> Int {
        var low = 0
        var high = chunk.count
        while low < high {
            let mid = (low + high) / 2
            if chunk[mid] < element { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The element at `position`, or `nil` at ``endIndex``.
    func element(at position: Position) -> Element? {
        position.chunk < chunks.count ? chunks[position.chunk][position.offset] : nil
    }

    /// The position after `position`.
    func position(after position: Position) -> Position {
        position.offset + 1 < chunks[position.chunk].count
            ? Position(chunk: position.chunk, offset: position.offset + 1) : Position(chunk: position.chunk + 1, offset: 0)
    }

    /// Inserts `element` in order (beside an equal one, if any).
    mutating func insert(_ element: Element) {
        count += 1
        guard !chunks.isEmpty else {
            chunks = [[element]]
            return
        }
        var position = lowerBound(element)
        if position.chunk == chunks.count {
            position = Position(chunk: chunks.count - 1, offset: chunks[chunks.count - 1].count)
        }
        chunks[position.chunk].insert(element, at: position.offset)
        if chunks[position.chunk].count > Self.maxChunk {
            let half = Self.maxChunk / 2
            let upper = Array(chunks[position.chunk][half...])
            chunks[position.chunk].removeSubrange(half...)
            chunks.insert(upper, at: position.chunk + 1)
        }
    }

    /// Removes one element equal to `element`; whether there was one.
    @discardableResult
    mutating func remove(_ element: Element) -> Bool {
        let position = lowerBound(element)
        guard position.chunk < chunks.count, chunks[position.chunk][position.offset] == element else { return false }
        chunks[position.chunk].remove(at: position.offset)
        if chunks[position.chunk].isEmpty { chunks.remove(at: position.chunk) }
        count -= 1
        return true
    }

    /// Calls `body` with each element from `position` on, in order, while it returns `true`.
    func forEach(from position: Position, _ body: (Element) -> Bool) {
        var chunk = position.chunk
        var offset = position.offset
        while chunk < chunks.count {
            let elements = chunks[chunk]
            while offset < elements.count {
                guard body(elements[offset]) else { return }
                offset += 1
            }
            chunk += 1
            offset = 0
        }
    }
}
