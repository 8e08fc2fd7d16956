// Modelsodule KataribeM.
