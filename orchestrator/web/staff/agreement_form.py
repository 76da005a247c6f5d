"""The outcome page's "Written agreement" section: the draft form, read and shown.

The form works without JavaScript: the issues one per line, what was agreed, and the
actions (who will do what by when) as rows, always with two blank rows after the filled
ones. Below it, each party's answer to the version they were sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import roster
from orchestrator.closing import agreements
from orchestrator.core.models import ROLE_WORDS, Case, Meeting, Outcome, OutcomeResult
from orchestrator.web.staff.forms import date_parts, read_date

BLANK_ROWS = 2
MAX_ROWS = 50
AGREED_RESULTS = (OutcomeResult.agreement, OutcomeResult.partial_agreement)


@dataclass
class ActionRow:
    owner: str = ""
    action: str = ""
    due: dict[str, str] = field(default_factory=dict)


@dataclass
class AgreementForm:
    issues: str = ""
    agreed_text: str = ""
    rows: list[ActionRow] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def with_blank_rows(self) -> AgreementForm:
        self.rows = [r for r in self.rows if r.owner or r.action or any(r.due.values())]
        self.rows += [ActionRow() for _ in range(BLANK_ROWS)]
        return self


def posted(form: Any) -> tuple[AgreementForm, agreements.AgreementDraft | None]:
    """What the mediator typed, and the draft it makes (None, with errors, if it makes none)."""
    shown = AgreementForm(
        issues=str(form.get("agreement_issues", ""))[:20000],
        agreed_text=str(form.get("agreed_text", ""))[:20000],
    )
    actions: list[agreements.ActionDraft] = []
    for i in range(1, MAX_ROWS + 1):
        if f"action_text_{i}" not in form:
            break
        owner = str(form.get(f"action_owner_{i}", "")).strip()
        text = str(form.get(f"action_text_{i}", "")).strip()[:1000]
        due = read_date(form, f"action_due_{i}", required=False)
        row = ActionRow(owner=owner, action=text, due=due.parts)
        shown.rows.append(row)
        if not (owner or text or any(due.parts.values())):
            continue
        if not text:
            shown.errors[f"action_text_{i}"] = f"Enter what will be done in action {i}"
        if due.error:
            shown.errors[f"action_due_{i}"] = f"Enter a real date for action {i}, like 27 3 2026"
        owner_id = _uuid(owner)
        if text and not due.error:
            actions.append(
                agreements.ActionDraft(
                    owner_party_id=owner_id,
                    action=text,
                    due=date.fromisoformat(due.value) if due.value else None,
                )
            )
    if not shown.agreed_text.strip():
        shown.errors = {"agreed_text": "Enter what was agreed", **shown.errors}
    if shown.errors:
        return shown.with_blank_rows(), None
    issues = [line.strip() for line in shown.issues.splitlines() if line.strip()][:50]
    draft = agreements.AgreementDraft(issues=issues, agreed_text=shown.agreed_text, actions=actions)
    return shown, draft


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def of_view(view: agreements.AgreementView | None, outcome: Outcome | None) -> AgreementForm:
    """The form as last sent, or a first draft from the outcome (agreed issues, its text)."""
    if view is not None:
        found = view.agreement
        return AgreementForm(
            issues="\n".join(found.issues),
            agreed_text=found.agreed_text,
            rows=[
                ActionRow(
                    owner=str(a.owner_party_id or ""), action=a.action, due=date_parts(a.due_on)
                )
                for a in view.actions
            ],
        ).with_blank_rows()
    issues = [i["summary"] for i in (outcome.issues if outcome else []) if i.get("agreed")]
    return AgreementForm(
        issues="\n".join(issues), agreed_text=(outcome.agreement_text or "") if outcome else ""
    ).with_blank_rows()


async def section(
    session: AsyncSession,
    *,
    meeting: Meeting,
    case: Case,
    outcome: Outcome | None,
    form: AgreementForm | None,
) -> dict[str, Any]:
    """The section's context: shown once an outcome with something agreed is recorded."""
    if outcome is None or outcome.result not in AGREED_RESULTS:
        return {"agreement_shown": False}
    view = await agreements.meeting_view(session, meeting_id=meeting.id)
    parties = await roster.list_parties(session, case_id=case.id)
    return {
        "agreement_shown": True,
        "agreement": view,
        "agreement_form": form or of_view(view, outcome),
        "owner_options": [(str(p.id), f"{p.name} ({ROLE_WORDS[p.role]})") for p in parties],
    }
