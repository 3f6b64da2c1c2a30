"""scalinglab: train tiny Transformers and fit neural scaling laws (the library of "Scaling Laws, Hands-On")."""
__version__ = "0.1.0"
