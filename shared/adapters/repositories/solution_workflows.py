"""solution_workflows: the Solution Saga's state machine, one row per research request (agents.md §9).

The row is the whole state: the step, what the research found (web results, innovators rows,
expert answers), what the member was told, the tasks it waits on and every LLM decision
(``conversation_log``). Steps read it locked (``lock``) and write it back whole (``save``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Row, Sql
from shared.adapters.repositories._rows import json_param, uuid_of, uuid_or_none

_LIKE_ESCAPE = re.compile(r"([\\%_])")


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _dict_or_none(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


@dataclass
class Workflow:
    id: UUID
    user_id: UUID
    conversation_id: UUID | None
    request_description: str
    category: str | None
    urgency: str
    current_step: str
    status: str
    web_research_status: str
    web_results: list[dict[str, Any]]
    matched_innovators: list[dict[str, Any]]
    community_insights: list[dict[str, Any]]
    expert_recommendations: list[dict[str, Any]]
    initial_findings: dict[str, Any] | None
    final_recommendations: dict[str, Any] | None
    community_request_id: UUID | None
    quality_threshold_met: bool
    last_decision_at: datetime | None
    next_action: str | None
    pending_tasks: list[dict[str, Any]]
    completed_tasks: list[dict[str, Any]]
    conversation_log: list[dict[str, Any]]
    created_at: datetime
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    source_event_id: UUID | None = None


def _workflow(row: Row) -> Workflow:
    return Workflow(
        id=uuid_of(row["id"]),
        user_id=uuid_of(row["user_id"]),
        conversation_id=uuid_or_none(row["conversation_id"]),
        request_description=row["request_description"],
        category=row["category"],
        urgency=row["urgency"],
        current_step=row["current_step"],
        status=row["status"],
        web_research_status=row["web_research_status"],
        web_results=_list(row["web_results"]),
        matched_innovators=_list(row["matched_innovators"]),
        community_insights=_list(row["community_insights"]),
        expert_recommendations=_list(row["expert_recommendations"]),
        initial_findings=_dict_or_none(row["initial_findings"]),
        final_recommendations=_dict_or_none(row["final_recommendations"]),
        community_request_id=uuid_or_none(row["community_request_id"]),
        quality_threshold_met=bool(row["quality_threshold_met"]),
        last_decision_at=row["last_decision_at"],
        next_action=row["next_action"],
        pending_tasks=_list(row["pending_tasks"]),
        completed_tasks=_list(row["completed_tasks"]),
        conversation_log=_list(row["conversation_log"]),
        created_at=row["created_at"],
        completed_at=row["completed_at"],
        cancelled_at=row["cancelled_at"],
        source_event_id=uuid_or_none(row["source_event_id"]),
    )


@dataclass(frozen=True)
class InnovatorMatch:
    id: UUID
    user_id: UUID
    company_name: str
    solution_name: str | None
    solution_description: str | None
    categories: tuple[str, ...]
    relevance: int = 0  # categories in common plus the request's terms it names


@dataclass(frozen=True)
class ExpertAnswer:
    response_id: UUID
    expert_user_id: UUID
    expert_first_name: str | None
    summary: str
    verbatim: str | None


@dataclass(frozen=True)
class WorkflowSources:
    """What one workflow found, as stored: the raw material of the grounding check."""

    workflow_id: UUID
    web_results: list[dict[str, Any]]
    matched_innovators: list[dict[str, Any]]
    community_insights: list[dict[str, Any]]


@dataclass(frozen=True)
class OpenFollowUp:
    """A follow-up question decision point 2 asked an expert, sent and not answered yet."""

    workflow_id: UUID
    workflow_status: str  # in_progress | completed
    request_description: str
    response_id: UUID | None  # the expert's answer it follows
    question: str
    sent_at: datetime


class SolutionWorkflowRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def add(
        self,
        *,
        user_id: UUID,
        conversation_id: UUID | None,
        request_description: str,
        category: str | None,
        urgency: str,
        source_event_id: UUID | None,
        now: datetime,
    ) -> UUID | None:
        """A new workflow; None when ``source_event_id`` already started one."""
        row = self._sql.one(
            "solution_insert_workflow",
            user_id=user_id,
            conversation_id=conversation_id,
            request_description=request_description,
            category=category,
            urgency=urgency,
            source_event_id=source_event_id,
            now=now,
        )
        return None if row is None else uuid_of(row["id"])

    def by_event(self, source_event_id: UUID) -> Workflow | None:
        row = self._sql.one("solution_workflow_by_event", source_event_id=source_event_id)
        return None if row is None else _workflow(row)

    def lock(self, workflow_id: UUID) -> Workflow | None:
        row = self._sql.one("solution_lock_workflow", workflow_id=workflow_id)
        return None if row is None else _workflow(row)

    def save(self, w: Workflow) -> None:
        row = self._sql.one(
            "solution_save_workflow",
            workflow_id=w.id,
            current_step=w.current_step,
            status=w.status,
            web_research_status=w.web_research_status,
            web_results=json_param(w.web_results),
            matched_innovators=json_param(w.matched_innovators),
            community_insights=json_param(w.community_insights),
            expert_recommendations=json_param(w.expert_recommendations),
            initial_findings=json_param(w.initial_findings),
            final_recommendations=json_param(w.final_recommendations),
            community_request_id=w.community_request_id,
            quality_threshold_met=w.quality_threshold_met,
            last_decision_at=w.last_decision_at,
            next_action=w.next_action,
            pending_tasks=json_param(w.pending_tasks),
            completed_tasks=json_param(w.completed_tasks),
            conversation_log=json_param(w.conversation_log),
            completed_at=w.completed_at,
            cancelled_at=w.cancelled_at,
        )
        if row is None:
            raise LookupError(f"no solution workflow {w.id}")

    def open_for_user(
        self,
        user_id: UUID,
        *,
        workflow_id: UUID | None = None,
        about: str | None = None,
        request_ids: Sequence[UUID] | None = None,
    ) -> list[Workflow]:
        """The member's in-progress workflows (one by id, those waiting on one of
        ``request_ids``, or those whose request mentions ``about``), locked."""
        pattern = "%" + _LIKE_ESCAPE.sub(r"\\\1", about.strip()) + "%" if about and about.strip() else None
        rows = self._sql.all(
            "solution_open_workflows_for_user",
            user_id=user_id,
            workflow_id=workflow_id,
            pattern=pattern,
            request_ids=None if request_ids is None else list(request_ids),
        )
        return [_workflow(r) for r in rows]

    def sources_for_user(self, user_id: UUID, *, since: datetime, limit: int) -> list[WorkflowSources]:
        return [
            WorkflowSources(
                workflow_id=uuid_of(r["id"]),
                web_results=_list(r["web_results"]),
                matched_innovators=_list(r["matched_innovators"]),
                community_insights=_list(r["community_insights"]),
            )
            for r in self._sql.all("solution_sources_for_user", user_id=user_id, since=since, limit=limit)
        ]

    def expert_answers(self, workflow_id: UUID) -> list[ExpertAnswer]:
        """Every answer on the community request the workflow waits on."""
        return [
            ExpertAnswer(
                response_id=uuid_of(r["id"]),
                expert_user_id=uuid_of(r["user_id"]),
                expert_first_name=r["expert_first_name"],
                summary=r["response_text"],
                verbatim=r["verbatim_answer"],
            )
            for r in self._sql.all("solution_request_responses", workflow_id=workflow_id)
        ]

    def match_innovators(
        self, *, user_id: UUID, categories: Sequence[str], terms: Sequence[str], limit: int
    ) -> list[InnovatorMatch]:
        """Active innovators (not the member) by category, or naming one of ``terms`` as a word."""
        escaped = [re.escape(t.lower()) for t in terms if t]
        rows = self._sql.all(
            "innovators_match_need",
            user_id=user_id,
            categories=list(categories),
            terms=escaped,
            limit=limit,
        )
        return [
            InnovatorMatch(
                id=uuid_of(r["id"]),
                user_id=uuid_of(r["user_id"]),
                company_name=r["company_name"],
                solution_name=r["solution_name"],
                solution_description=r["solution_description"],
                categories=tuple(r["categories"] or ()),
                relevance=int(r["overlap"] or 0) + int(r["matched_terms"] or 0),
            )
            for r in rows
        ]

    def open_follow_ups(
        self, user_id: UUID, *, since: datetime, workflow_id: UUID | None = None, limit: int = 1
    ) -> list[OpenFollowUp]:
        """Follow-up questions asked of this member (the expert) whose message was sent and that
        they have not answered, on workflows in progress or completed since ``since``; the most
        recently sent first (one workflow's with ``workflow_id``)."""
        return [
            OpenFollowUp(
                workflow_id=uuid_of(r["workflow_id"]),
                workflow_status=r["status"],
                request_description=r["request_description"],
                response_id=uuid_or_none(r["response_id"]),
                question=str(r["question"] or ""),
                sent_at=r["sent_at"],
            )
            for r in self._sql.all(
                "solution_open_follow_ups",
                user_id=user_id,
                since=since,
                workflow_id=workflow_id,
                limit=limit,
            )
        ]
