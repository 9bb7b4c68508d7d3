"""Section 5: ragqa beside LlamaIndex's standard RAG answerer, same collection, same models.

LlamaIndex runs as its documentation shows: SimpleDirectoryReader over the collection folder,
SentenceSplitter, VectorStoreIndex with HuggingFaceEmbedding (the same embedder folder, with
e5's "query: "/"passage: " instructions), `as_query_engine` with OpenAILike, LlamaIndex's client
for an OpenAI-compatible server, pointed at an engine started as the service starts its own
(the same GGUF, n_ctx, threads and batch; greedy; the GGUF's chat template applied by the
engine). Both answer the same questions alternately, scored by eval.metrics; ragqa runs as
configured (hybrid retrieval, cross-lingual expansion).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.alone import EngineAlone
from bench.report import Section, Table, Target, ratio
from eval.backends import Answer, Found, InProcessBackend
from eval.items import EvalItem
from eval.metrics import AnswerRow
from eval.runner import answer_row, evaluate_answers, evaluate_retrieval, retrieval_row
from eval.summary import summarise_answers, summarise_retrieval
from ragqa.config import Settings
from service.answering import Answerer
from service.generation import ENGINE_MODEL_ALIAS

SPLITTER_OVERLAP_TOKENS = 20


@dataclass(frozen=True)
class PeerOptions:
    answer_questions: int
    retrieval_questions: int


FULL = PeerOptions(answer_questions=6, retrieval_questions=30)
QUICK = PeerOptions(answer_questions=1, retrieval_questions=3)


class LlamaIndexRag:
    """LlamaIndex's standard answerer over the collection folder, built in the constructor,
    answering with its own engine process; `close` stops that engine."""

    def __init__(self, settings: Settings, embedder_path: str, model_path: str) -> None:
        from llama_index.core import Settings as LlamaIndexSettings
        from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.llms.openai_like import OpenAILike
        from transformers import AutoTokenizer

        # LlamaIndex counts tokens with tiktoken by default, which downloads its tables;
        # the embedder's own tokenizer keeps it offline and sizes chunks as ragqa does.
        tokenizer = AutoTokenizer.from_pretrained(embedder_path, model_max_length=1 << 30)
        LlamaIndexSettings.tokenizer = tokenizer.encode
        embed = HuggingFaceEmbedding(
            model_name=embedder_path,
            query_instruction="query: ",
            text_instruction="passage: ",
            embed_batch_size=settings.embed_batch_size,
            device="cpu",
        )
        started = time.perf_counter()
        documents = SimpleDirectoryReader(input_dir=str(settings.collection_dir)).load_data()
        splitter = SentenceSplitter(
            chunk_size=settings.chunk_size, chunk_overlap=SPLITTER_OVERLAP_TOKENS
        )
        self.index = VectorStoreIndex.from_documents(
            documents, embed_model=embed, transformations=[splitter]
        )
        self.build_seconds = time.perf_counter() - started
        self.n_chunks = len(self.index.docstore.docs)
        self.retriever = self.index.as_retriever(similarity_top_k=max(5, settings.context_k))
        self.engine = EngineAlone(model_path, settings)
        try:
            self.llm = OpenAILike(
                model=ENGINE_MODEL_ALIAS,
                api_base=self.engine.engine.base_url() + "/v1",
                api_key="unused",  # the engine is on loopback and asks for none
                is_chat_model=True,  # the engine applies the GGUF's own chat template
                context_window=settings.n_ctx,
                max_tokens=settings.max_tokens,
                temperature=0.0,
                # greedy, and prompt caching as the service asks for it (llama.cpp's fields)
                additional_kwargs={"seed": 0, "extra_body": {"top_k": 1, "cache_prompt": True}},
                timeout=settings.generation_timeout_s,
                max_retries=0,
            )
            self.query_engine = self.index.as_query_engine(
                llm=self.llm, similarity_top_k=settings.context_k
            )
        except BaseException:
            self.engine.close()
            raise

    def close(self) -> None:
        self.engine.close()

    def search(self, question: str) -> list[Found]:
        return [
            Found(node.metadata["file_name"], node.get_content())
            for node in self.retriever.retrieve(question)
        ]

    def ask(self, question: str) -> Answer:
        """The answer, timed; LlamaIndex has no refusal (an empty answer simply misses its
        facts), no citations and no token counts."""
        started = time.perf_counter()
        text = str(self.query_engine.query(question))
        total_ms = (time.perf_counter() - started) * 1000
        return Answer(
            text=text,
            refused=False,
            citation_docs={},
            timings={"total_ms": total_ms},
            prompt_tokens=0,
            completion_tokens=0,
        )


def _mean_seconds(rows: Sequence[AnswerRow]) -> float:
    return sum(r.timings["total_ms"] for r in rows) / len(rows) / 1000


def run_peer(
    section: Section,
    settings: Settings,
    answerer: Answerer,
    ragqa_build_seconds: float,
    peer: LlamaIndexRag,
    answer_items: Sequence[EvalItem],
    retrieval_items: Sequence[EvalItem],
) -> Section:
    backend = InProcessBackend(answerer, settings)
    k = settings.context_k
    ragqa_hits = evaluate_retrieval(backend, retrieval_items, context_k=k)
    peer_hits = [
        retrieval_row(item, lambda i: peer.search(i.question), context_k=k)
        for item in retrieval_items
    ]
    ragqa_rows: list[AnswerRow] = []
    peer_rows: list[AnswerRow] = []
    for item in answer_items:  # alternately, so both meet the same machine conditions
        ragqa_rows += evaluate_answers(backend, [item])
        peer_rows.append(answer_row(item, peer.ask(item.question)))
    table = Table(
        "ragqa vs LlamaIndex (same collection, embedder and GGUF)",
        [
            "system",
            "index build s",
            "chunks",
            f"hit@5 ({len(retrieval_items)} q)",
            "search p50 ms",
            f"accuracy ({len(answer_items)} q)",
            "mean answer s",
            "accuracy per second",
        ],
    )
    per_second: dict[str, float | None] = {}
    for name, build_s, chunks, hits, rows in (
        ("ragqa", ragqa_build_seconds, len(answerer.snapshot), ragqa_hits, ragqa_rows),
        ("LlamaIndex", peer.build_seconds, peer.n_chunks, peer_hits, peer_rows),
    ):
        retrieval = summarise_retrieval(hits)
        accuracy = summarise_answers(rows)["accuracy"]
        seconds = _mean_seconds(rows)
        per_second[name] = ratio(accuracy, seconds) if accuracy is not None else None
        table.rows.append(
            [
                name,
                build_s,
                chunks,
                retrieval["hit_at_5"],
                retrieval["latency_ms_p50"],
                accuracy,
                seconds,
                per_second[name],
            ]
        )
    section.tables.append(table)
    ours, theirs = per_second["ragqa"], per_second["LlamaIndex"]
    if ours is not None and theirs is not None:
        better = ours > theirs
        section.targets.append(
            Target(
                "accuracy per second, ragqa vs LlamaIndex",
                "better than the peer",
                f"{ours:.3f} vs {theirs:.3f}",
                better,
                "" if better else "see the answers side by side",
            )
        )
    section.tables.append(
        Table(
            "Answers side by side",
            ["question", "ragqa correct", "ragqa s", "LlamaIndex correct", "LlamaIndex s"],
            [
                [
                    r.id,
                    r.correct,
                    r.timings["total_ms"] / 1000,
                    p.correct,
                    p.timings["total_ms"] / 1000,
                ]
                for r, p in zip(ragqa_rows, peer_rows, strict=True)
            ],
        )
    )
    section.notes += [
        "Questions: answerable, single-turn questions of the eval set (answers: the CI subset, "
        "languages interleaved; hit@5: the first of the whole set). Accuracy is eval.metrics's "
        "(every answer fact group found in the answer; a refusal is wrong). LlamaIndex has no "
        "citations or refusals, so only accuracy and hit@5 compare.",
        "LlamaIndex reads the raw files (its standard reader; no cleaning of the damaged "
        f"articles), splits them with SentenceSplitter (chunk_size {settings.chunk_size} tokens "
        f"of the embedder's tokenizer, overlap {SPLITTER_OVERLAP_TOKENS}) and answers with its "
        f"default QA prompt for a chat model over the top {settings.context_k} chunks, sent "
        "as chat messages to an engine of its own started as ragqa's is (the GGUF's own chat "
        "template applied by the engine). ragqa's index build embeds the same collection "
        "(cleaned) with the same model.",
        "ragqa's search and answer times include its cross-lingual query translation (a model "
        "call, cached per question); LlamaIndex's standard answerer does not translate.",
    ]
    return section


def peer_available() -> tuple[bool, str]:
    """Whether LlamaIndex's packages import; the error when they do not."""
    try:
        import llama_index.core
        import llama_index.embeddings.huggingface
        import llama_index.llms.openai_like  # noqa: F401
    except ImportError as error:
        return False, str(error)
    return True, ""


def answerable_single_turn(items: Sequence[EvalItem], limit: int) -> list[EvalItem]:
    return [i for i in items if i.type != "unanswerable" and not i.history][:limit]
