import Testing
@testable import KataribeTokenizers

@Test func moduleLinks() {}
