import Foundation
import Testing
@testable import KataribeGeneration
import KataribeTestSupport

@Suite("Sorting reproduces torch's CPU order for tied scores")
struct TorchSortTieTests {
    struct Case: Decodable { let values: [Int?]; let torch_order: [Int] }
    struct File: Decodable { let cases: [Case] }

    @Test("PairSort<TorchAscending> gives torch.sort's index order on rows full of ties and -inf")
    func tieOrderMatchesTorch() throws {
        let file = try JSONDecoder().decode(
            File.self, from: Data(contentsOf: TestPaths.fixture("generation/torch_sort_ties.json")))
        #expect(file.cases.count == 5)
        for c in file.cases {
            var keys = c.values.map { $0.map(Float.init) ?? -.infinity }
            var ids = (0..<Int32(keys.count)).map { $0 }
            keys.withUnsafeMutableBufferPointer { k in
                ids.withUnsafeMutableBufferPointer { i in
                    PairSort<TorchAscending>.sort(keys: k.baseAddress!, ids: i.baseAddress!, count: k.count)
                }
            }
            #expect(ids.map(Int.init) == c.torch_order, "row of \(c.values.count)")
        }
    }
}
