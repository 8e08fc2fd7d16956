// Tensorodule KataribeM.
