"""The performance suite: `python -m bench [retrieval|ingestion|generation|load|peer|all]`.

Each section measures ragqa against the engine it wraps (FAISS/BM25, sentence-transformers,
llama.cpp) or against a peer (LlamaIndex) in the same run, so figures are read as ratios on
one machine; results land in `bench/results/<section>.json` and `BENCHMARKS.md`.
"""
