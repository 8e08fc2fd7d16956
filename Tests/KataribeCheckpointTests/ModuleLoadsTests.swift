import Testing
@testable import KataribeCheckpoint

@Test func moduleLinks() {}
