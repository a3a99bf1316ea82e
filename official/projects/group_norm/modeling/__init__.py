"""The norm factory and the backbones, decoders and heads built on it."""
