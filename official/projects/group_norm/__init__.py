"""Group Normalization (Wu & He, 2018) in TensorFlow Model Garden."""
