// Tokenizersodule KataribeM.
