import Testing

@testable import UserCore

/// The chunked search index against a plain sorted array, under random inserts, removes and walks.
@Suite("SortedChunks")
struct SortedChunksTests {
    /// A deterministic generator, so that a failure names a seed that reproduces it.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func elements(_ index: SortedChunks<Int>, from position: SortedChunks<Int>.Position) -> [Int] {
        var all: [Int] = []
        index.forEach(from: position) {
            all.append($0)
            return true
        }
        return all
    }

    @Test("random inserts and removes keep the same order as a sorted array; lower bounds agree", arguments: [1, 2, 3, 4])
    func matchesSortedArray(seed: UInt64) {
        var random = SplitMix(state: seed)
        var index = SortedChunks<Int>(sorted: (0..<700).map { $0 * 4 })
        var reference = (0..<700).map { $0 * 4 }
        for step in 0..<6_000 {
            let value = Int.random(in: 0..<4_000, using: &random)
            // Insert more than remove at first (chunks split), then remove more (chunks empty).
            if Int.random(in: 0..<10, using: &random) < (step < 3_000 ? 7 : 3) {
                index.insert(value)
                reference.insert(value, at: reference.firstIndex { $0 >= value } ?? reference.count)
            } else {
                let removed = index.remove(value)
                let at = reference.firstIndex(of: value)
                #expect(removed == (at != nil), "seed \(seed), step \(step)")
                if let at { reference.remove(at: at) }
            }
        }
        #expect(index.count == reference.count)
        #expect(Self.elements(index, from: index.startIndex) == reference, "seed \(seed)")
        for probe in stride(from: -1, through: 4_001, by: 7) {
            let expected = Array(reference.drop { $0 < probe })
            #expect(Self.elements(index, from: index.lowerBound(probe)) == expected, "seed \(seed), lower bound of \(probe)")
            #expect(index.element(at: index.lowerBound(probe)) == expected.first)
        }
    }

    @Test("position(after:) walks every element once, across chunk boundaries")
    func positionsWalkAll() {
        var index = SortedChunks<Int>()
        for value in (0..<2_000).reversed() { index.insert(value) }
        var position = index.startIndex
        var walked: [Int] = []
        while let element = index.element(at: position) {
            walked.append(element)
            position = index.position(after: position)
        }
        #expect(walked == Array(0..<2_000))
        #expect(position == index.endIndex)
    }

    @Test("an emptied index is empty, and takes inserts again")
    func emptiesAndRefills() {
        var index = SortedChunks<Int>(sorted: [1, 2, 3])
        for value in [2, 1, 3] {
            let removed = index.remove(value)
            #expect(removed)
        }
        let removedAgain = index.remove(1)
        #expect(!removedAgain)
        #expect(index.count == 0 && index.lowerBound(0) == index.endIndex)
        index.insert(5)
        #expect(Self.elements(index, from: index.startIndex) == [5])
    }
}
