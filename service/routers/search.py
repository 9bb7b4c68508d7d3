"""Passage search without generation."""

from __future__ import annotations

from functools import partial

import anyio
from fastapi import APIRouter

from service.deps import AnswererDep, State
from service.schemas import ErrorResponse, SearchRequest, SearchResponse, SearchResult

router = APIRouter(tags=["search"])


@router.post(
    "/v1/search",
    response_model=SearchResponse,
    responses={422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)
async def search(body: SearchRequest, answerer: AnswererDep, state: State) -> SearchResponse:
    """Hybrid (dense + BM25) search; `cross_lingual` also searches the query's translations
    (off by default: it costs a model call, and search must stay fast while answers generate).

    `async def` with the model call in the thread pool: FastAPI runs a plain `def` route with
    a `response_model` in two thread hops (the call, then validating the response); one is
    enough.
    """
    retrieval = await anyio.to_thread.run_sync(
        partial(
            answerer.retrieve,
            body.query,
            body.top_k or answerer.settings.top_k,
            mode=body.mode,
            cross_lingual=body.cross_lingual,
            history=[t.model_dump() for t in body.history],
        )
    )
    state.metrics.observe_stages(retrieval.timings)
    return SearchResponse(
        results=[SearchResult.model_validate(h, from_attributes=True) for h in retrieval.hits]
    )
