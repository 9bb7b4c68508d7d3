"""Ingestion and indexing: load, clean, chunk, embed, and store a document collection."""
