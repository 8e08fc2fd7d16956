import Testing
@testable import KataribeGeneration

@Test func moduleLinks() {}
