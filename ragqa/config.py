"""The one settings object: every path, model choice and limit, read once and passed down.

Values come from `RAGQA_*` environment variables or an optional `.env` file; the CLI and
`create_app(settings)` receive a `Settings` instance instead of reading the environment again.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragqa.types import PassageOrder

ReconcileMode = Literal["report", "index", "quarantine"]


class Settings(BaseSettings):
    """ragqa configuration (env prefix `RAGQA_`, e.g. `RAGQA_PORT=9000`)."""

    model_config = SettingsConfigDict(
        env_prefix="RAGQA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- paths -------------------------------------------------------------------------
    collection_dir: Path = Field(
        Path("corpus"), description="Folder of documents; a document's id is its path here."
    )
    index_dir: Path = Field(Path("var/index"), description="Where the built index lives.")
    store: Literal["faiss", "milvus"] = Field(
        "faiss",
        description="Where the index lives: faiss (files in index_dir, embedded) or milvus "
        "(a Milvus server that API replicas share, or a local Milvus Lite folder).",
    )
    milvus_uri: str = Field(
        "var/milvus.db",
        description="The Milvus to use with store=milvus: http://host:19530, or a local path "
        "ending in .db (Milvus Lite, one process).",
    )
    milvus_token: SecretStr | None = Field(None, description="Milvus credentials, if any.")
    milvus_prefix: str = Field(
        "ragqa",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$",
        description="Collection name prefix: several indexes can share one Milvus.",
    )
    milvus_index: Literal["HNSW", "IVF_FLAT"] = Field(
        "HNSW",
        description="The Milvus index over the dense vectors, chosen when the store is created: "
        "HNSW (up to a few million chunks) or IVF_FLAT (exact distances in the probed lists; "
        "docs/scaling.md).",
    )
    milvus_nlist: int = Field(
        1024,
        ge=1,
        le=65_536,
        description="IVF_FLAT's number of lists; about 4 x sqrt(expected chunks).",
    )
    store_refresh_s: float = Field(
        1.0,
        ge=0.0,
        le=3600.0,
        description="How often a shared store is checked for other replicas' writes.",
    )
    model_cache_dir: Path = Field(
        Path.home() / ".cache" / "ragqa" / "models",
        description="Provisioned models, keyed by content hash (outside the repo).",
    )
    feedback_db: Path | None = Field(
        None,
        description="SQLite file of readers' ratings of answers (default: feedback.sqlite3 "
        "beside the index folder).",
    )

    # --- models ------------------------------------------------------------------------
    embedder: str = Field(
        "multilingual-e5-small",
        description="Embedder: a provisioned name, a Hugging Face id or a local folder.",
    )
    generator: str = Field(
        "qwen2.5-coder-1.5b-instruct-q4_k_m",
        description="Generator: a provisioned name, a GGUF path or a Hugging Face folder/id.",
    )
    generator_backend: str = Field(
        "auto",
        description="Generation back end by name: llama_cpp (llama.cpp's server in a child "
        "process, supervised), openai (any OpenAI-compatible server at generator_url), "
        "transformers (in process, for a GPU); auto: openai when generator_url is set, "
        "llama_cpp for a GGUF file, transformers for anything else.",
    )
    generator_url: str | None = Field(
        None,
        description="An OpenAI-compatible engine to generate with instead of the embedded one, "
        "e.g. http://gpu-host:8080/v1 (vLLM, llama.cpp's server, Ollama, TGI).",
    )
    generator_model: str | None = Field(
        None, description="Model name to ask the remote engine for (default: its first model)."
    )
    generator_api_key: SecretStr | None = Field(
        None, description="Bearer key the remote engine expects, if any."
    )
    engine_start_timeout_s: float = Field(
        180.0, gt=0, description="Time the engine may take to load its model and self-test."
    )
    engine_hang_timeout_s: float = Field(
        15.0,
        gt=0,
        description="An embedded engine that answers no health check for this long is killed "
        "and restarted (its answers in flight fail with 503).",
    )
    n_threads: int = Field(2, ge=1, le=256, description="CPU threads for llama.cpp.")
    n_ctx: int = Field(4096, ge=512, le=131072, description="Generator context window.")
    embed_batch_size: int = Field(32, ge=1, le=1024)
    embedder_backend: str = Field(
        "auto",
        description="Embedder back end by name (registered in ragqa/models/embedders.py): onnx "
        "(ONNX Runtime, the graph exported once and cached beside the models), torch "
        "(sentence-transformers); auto: onnx for a local folder, torch for a Hugging Face id. "
        "An unknown name fails when the embedder loads, listing the valid ones.",
    )

    # --- chunking ----------------------------------------------------------------------
    chunk_size: int = Field(
        160, ge=32, le=2048, description="Target chunk size in embedder tokens (~300 CJK chars)."
    )
    chunk_overlap: int = Field(
        1, ge=0, le=8, description="Sentences repeated from the previous chunk."
    )

    # --- retrieval ---------------------------------------------------------------------
    top_k: int = Field(5, ge=1, le=50, description="Passages returned by search by default.")
    context_k: int = Field(4, ge=1, le=20, description="Passages handed to the generator.")
    passage_order: PassageOrder = Field(
        "ranked",
        description="The order the model reads its passages in: `ranked`, best first; "
        "`best_last`, best next to the question; `document`, each document's passages "
        "together in the document's own order, documents by their best hit.",
    )
    candidate_k: int = Field(
        30, ge=5, le=500, description="Candidates per retriever before fusion."
    )
    evidence_sentences: int = Field(
        0,
        ge=0,
        le=20,
        description="Evidence first: hand the model this many of the retrieved passages' "
        "sentences that best match the question (each with its neighbours), cut from the "
        "`evidence_candidates` best passages, instead of the `context_k` whole passages; "
        "0: whole passages.",
    )
    evidence_candidates: int = Field(
        8, ge=1, le=50, description="Passages whose sentences evidence first chooses from."
    )
    evidence_whole: int = Field(
        0, ge=0, le=20, description="Best-ranked passages evidence first keeps whole."
    )
    evidence_judged: int = Field(
        0,
        ge=0,
        le=9,
        description="Evidence first: the model picks, from this many best-scored sentences, the "
        "one that states the answer, and its probabilities are added to their scores; 0: off.",
    )
    evidence_neighbours: int = Field(
        1, ge=0, le=5, description="Sentences kept each side of a chosen one, for context."
    )
    evidence_max_chars: int = Field(
        900, ge=100, le=20000, description="Characters of evidence the model reads at most."
    )
    evidence_lead: int = Field(
        1,
        ge=0,
        le=5,
        description="Whole passages read: this many of their sentences that best match the "
        "question also go before them, as passages of their own, so the model reads the "
        "sentence likeliest to state the answer first; 0: off. Not with evidence first, nor "
        "with `bilingual_answers`.",
    )
    evidence_lead_chars: int = Field(
        300, ge=50, le=2000, description="Characters of leading sentences at most."
    )
    lead_first: bool = Field(
        True,
        description="With leading sentences chosen by a test (the kind of answer asked for, a "
        "quoted term, an edition, a post) and in the question's language: the answer is first "
        "written from them alone (a short, focused reading); only when that is refused (judged "
        "unanswered, the model's refusal, or a check) is it written from every passage. A "
        "question asking which city or country needs a geographic name in them.",
    )
    lead_support_threshold: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="With `lead_first`: the answer written from the leading sentences alone is "
        "kept only when the model's probability that they answer the question is at least "
        "this (chosen on the default set: below it, answers from one sentence were mostly "
        'wrong; docs/evaluation.md, "The lead alone first"); otherwise every passage is read.',
    )
    named_documents: bool = Field(
        True,
        description="Whole passages read for a question naming someone some retrieved "
        "passages name: only the passages of those passages' documents, so the model is not "
        "handed the facts of reports about others.",
    )
    lexical_weight: float = Field(
        0.1, ge=0.0, le=10.0, description="Weight of BM25 (relative to its best match) in fusion."
    )
    cross_lingual: bool = Field(
        True, description="Translate questions into the collection's other languages."
    )
    bilingual_max_chunks: int = Field(
        1_000,
        ge=0,
        description="Bilingual index: for collections of up to this many chunks, the local "
        "model translates every sentence into the collection's other language in the "
        "background, after the document is searchable, so a question finds passages of "
        "either language with no model call (translations.sqlite3 in index_dir keeps them). "
        "0: off.",
    )
    bilingual_answers: bool = Field(
        False,
        description="Answers use the bilingual index too: their retrieval searches the "
        "translations beside the translated question, and a passage in another language "
        "than the question's is given to the model in translation (cited and quoted from "
        "the original). Off: the bilingual index serves plain searches, which translate "
        "nothing (docs/evaluation.md has both measured).",
    )
    min_dense_score: float | None = Field(
        None,
        description="When no hit reaches this cosine, nothing is relevant and the answer is a "
        "refusal. Unset: the embedder's own floor from the model registry (0.80 for "
        "multilingual-e5-small, 0.25 for embeddinggemma-300m; each model's cosines have their "
        "own scale), or none for an embedder the registry does not know.",
    )

    # --- generation --------------------------------------------------------------------
    support_threshold: float | None = Field(
        0.60,
        ge=0.0,
        le=1.0,
        description="Refuse, without writing an answer, when the model's probability that the "
        "passages answer the question is below this (read from its token probabilities; "
        "needs a back end that returns them). 0 measures it without refusing; unset: off.",
    )
    question_gloss: bool = Field(
        False,
        description="The model is also given the question in its translation into the "
        "collection's other language (the one its search already made), under the question "
        "as asked: an English question over Chinese passages is read beside their words.",
    )
    read_simplified: bool = Field(
        True,
        description="Passages in traditional characters are given to the model in simplified "
        "ones (OpenCC, character for character) unless the question is in traditional "
        "characters: the small model reads simplified Chinese better. Citations still quote "
        "the original.",
    )
    quote_first: bool = Field(
        False,
        description="Quote first: before answering, the model copies the words of a passage "
        "the answer rests on (on llama.cpp a grammar holds them to a run of one passage "
        "sentence's clauses), or says none and the answer is a refusal; a citation of that "
        "passage then quotes them.",
    )
    per_document_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Answer document by document, then combine, when the model's probability "
        "that the question asks about several events or reports is at least this (read from "
        "its token probabilities, like the support); unset: always one answer.",
    )
    per_document_max: int = Field(
        3, ge=2, le=8, description="Documents answered one by one, in ranking order."
    )
    per_document_passages: int = Field(
        3, ge=1, le=8, description="Passages of each document the model reads for its part."
    )
    max_tokens: int = Field(256, ge=1, le=4096, description="Default answer length limit.")
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_concurrent_generations: int = Field(1, ge=1, le=64)
    max_queue: int = Field(4, ge=0, le=1024, description="Requests waiting for a generation slot.")
    generation_timeout_s: float = Field(120.0, gt=0, description="Per-request time limit.")
    warm_prompt_cache: bool = Field(
        True,
        description="Once the models are loaded, prefill the system prompt and worked examples "
        "every question starts with, in the background, so the first question does not pay "
        "for them (llama.cpp keeps them in its prompt cache); /readyz says `warming` until "
        "then.",
    )
    retry_after_s: int = Field(5, ge=1, description="Retry-After sent with 503 and 429.")

    # --- HTTP --------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    max_question_chars: int = Field(2000, ge=1)
    max_history_turns: int = Field(20, ge=0)
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1)
    api_key: SecretStr | None = Field(None, description="Bearer key for write endpoints.")
    allow_unauthenticated_writes: bool = Field(
        False, description="Open write endpoints when no API key is set (never in production)."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins whose pages may call the API from a browser."
    )
    rate_limit_per_minute: int = Field(
        30, ge=0, description="Per-client /v1/ask and chat requests a minute (0 = off)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR networks of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed, as a JSON list. Empty: the headers are ignored and "
        "the client is the peer of the connection.",
    )

    # --- collection --------------------------------------------------------------------
    reconcile_collection: ReconcileMode = Field(
        "report",
        description="At start-up, files in the collection folder that the index lacks (or holds "
        "in another version) are logged (report), indexed (index) or, if unindexed, moved to "
        "the index folder's quarantine/ (quarantine).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, proxies: list[str]) -> list[str]:
        """Only addresses and networks: a wildcard would let every client spoof its address."""
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or CIDR network") from None
        return proxies

    @field_validator("collection_dir", "index_dir", "model_cache_dir", "feedback_db")
    @classmethod
    def _absolute(cls, path: Path | None) -> Path | None:
        """Paths are fixed when settings are read, so a later chdir cannot move them."""
        return None if path is None else path.expanduser().resolve()

    @property
    def feedback_path(self) -> Path:
        """Where ratings are stored: `feedback_db`, or beside the index folder."""
        return self.feedback_db or self.index_dir.parent / "feedback.sqlite3"
