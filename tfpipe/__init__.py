"""tfpipe: TensorFlow tabular pipeline (preprocess -> features -> ensembles -> SavedModel)."""
__version__ = "0.1.0"
