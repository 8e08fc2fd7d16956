import Testing
@testable import KataribeTensor

@Test func moduleLinks() {}
