"""What every request can reach: settings, limits, metrics, feedback and the answerer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ragqa.config import Settings
from service.answering import Answerer
from service.feedback import FeedbackStore
from service.limits import ClientRateLimiter, GenerationLimiter
from service.metrics import Metrics


@dataclass
class AppState:
    """Everything a request needs, created once per app."""

    settings: Settings
    limiter: GenerationLimiter
    rate_limiter: ClientRateLimiter
    feedback: FeedbackStore
    metrics: Metrics = field(default_factory=Metrics)
    answerer: Answerer | None = None
    # Set once the prompt preambles are prefilled (or warming is off): until then /readyz says
    # `warming`, so a load balancer's first question does not pay for that first reading.
    warmed: threading.Event = field(default_factory=threading.Event)
