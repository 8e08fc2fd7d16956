// Checkpointodule KataribeM.
