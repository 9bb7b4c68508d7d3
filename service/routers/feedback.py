"""Readers' ratings of answers: stored for evaluation (`ragqa feedback export`) and counted."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import RateLimit, State
from service.http_shared import check_length
from service.schemas import ErrorResponse, FeedbackRequest, FeedbackResponse

router = APIRouter(tags=["feedback"])


@router.post(
    "/v1/feedback",
    response_model=FeedbackResponse,
    status_code=201,
    responses={code: {"model": ErrorResponse} for code in (413, 422, 429)},
    dependencies=[RateLimit],
)
def add_feedback(body: FeedbackRequest, state: State) -> FeedbackResponse:
    """Rate an answer up or down, with an optional comment; the thumbs-down ones become
    evaluation items for a person to complete with the right answer."""
    check_length(body.question, len(body.history), state)
    feedback_id = state.feedback.add(
        rating=body.rating,
        question=body.question,
        answer=body.answer,
        refused=body.refused,
        citations=[c.model_dump() for c in body.citations],
        history=[t.model_dump() for t in body.history],
        comment=body.comment.strip(),
    )
    state.metrics.feedback.labels(body.rating).inc()
    return FeedbackResponse(id=feedback_id)
