import Testing
@testable import KataribeModels

@Test func moduleLinks() {}
