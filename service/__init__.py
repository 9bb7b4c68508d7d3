"""The HTTP service: retrieval, cited answers, documents, widget."""
