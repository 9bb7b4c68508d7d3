"""Prometheus metrics, one registry per app so several apps can live in one process (tests)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ragqa_http_requests_total",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ragqa_http_request_seconds",
            "HTTP request latency (to the last byte)",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage = Histogram(
            "ragqa_stage_seconds",
            "Time per answerer stage",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_length = Gauge(
            "ragqa_generation_queue_length",
            "Requests waiting for a generation slot",
            registry=self.registry,
        )
        self.active_generations = Gauge(
            "ragqa_generations_active", "Generations running", registry=self.registry
        )
        self.tokens = Counter(
            "ragqa_tokens_total",
            "Tokens processed by the generator",
            ["kind"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "ragqa_rejected_total",
            "Requests refused by admission control",
            ["reason"],
            registry=self.registry,
        )

        self.feedback = Counter(
            "ragqa_feedback_total",
            "Readers' ratings of answers",
            ["rating"],
            registry=self.registry,
        )
        for rating in ("up", "down"):
            self.feedback.labels(rating)  # both series exist from the start, at 0
        self.engine_state = Gauge(
            "ragqa_engine_state",
            "1 for the generation engine's current state, 0 for the others",
            ["state"],
            registry=self.registry,
        )
        self.engine_restarts = Gauge(
            "ragqa_engine_restarts",
            "Times the generation engine was restarted after a crash or hang",
            registry=self.registry,
        )

        self.bilingual_chunks = Gauge(
            "ragqa_bilingual_chunks",
            "Chunk translations of the bilingual index: made, and wanted (every chunk into "
            "every other language of the collection)",
            ["kind"],
            registry=self.registry,
        )
        self.bilingual_sentences = Gauge(
            "ragqa_bilingual_sentences_translated",
            "Sentences the bilingual index translated since the service started",
            registry=self.registry,
        )
        self.bilingual_seconds = Gauge(
            "ragqa_bilingual_translate_seconds",
            "Model time those translations took",
            registry=self.registry,
        )

    def observe_bilingual(
        self, translated: int, wanted: int, sentences: int, seconds: float
    ) -> None:
        self.bilingual_chunks.labels("translated").set(translated)
        self.bilingual_chunks.labels("wanted").set(wanted)
        self.bilingual_sentences.set(sentences)
        self.bilingual_seconds.set(seconds)

    def observe_engine(self, state: str, restarts: int) -> None:
        for name in ("starting", "ready", "restarting", "failed", "stopped"):
            self.engine_state.labels(name).set(1 if name == state else 0)
        self.engine_restarts.set(restarts)

    def observe_stages(self, timings: dict[str, float]) -> None:
        for key, ms in timings.items():
            self.stage.labels(stage=key.removesuffix("_ms")).observe(ms / 1000)


class RequestMetricsMiddleware:
    """Counts and times every HTTP request, to its last byte, by route template and status.

    A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`)
    runs the app in a task and copies the response through a memory stream, a cost paid by
    every request.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before starting a response

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            # The router writes the matched route into this same scope dict.
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)
