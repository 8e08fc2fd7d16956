// Generationodule KataribeM.
