"""ragqa: cited answers from a document collection, offline."""

__version__ = "0.1.0"
