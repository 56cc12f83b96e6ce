"""Prediction without ground truth: localise the LA, crop, run the network, map back to the input grid."""
