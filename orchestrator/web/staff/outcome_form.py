"""Read the outcome form: any number of issue rows and next-step rows, into ``OutcomeCreate``.

The form works without JavaScript: it always shows a blank row after the filled ones
(at least three issue rows), and "Add another issue" / "Add another next step" send the
form back with one more blank row, saving nothing. What was typed is kept either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from orchestrator.closing import outcomes
from orchestrator.core.models import Outcome

MIN_ISSUE_ROWS = 3
MAX_ROWS = 50  # as the API allows (OutcomeCreate)


@dataclass
class IssueRow:
    summary: str = ""
    agreed: bool = False


DATE_PARTS = ("day", "month", "year")


@dataclass
class StepRow:
    action: str = ""
    who: str = ""
    due_typed: tuple[str, ...] = ("", "", "")  # day, month and year, as typed

    @property
    def blank(self) -> bool:
        return not (self.action or self.who or any(self.due_typed))

    @property
    def due(self) -> date | None:
        """The date typed, if it is a real one."""
        day, month, year = self.due_typed
        try:
            return date(int(year), int(month), int(day))
        except ValueError:
            return None


@dataclass
class OutcomeForm:
    """What the form shows: the typed values, the rows, and what is wrong with them."""

    values: dict[str, str] = field(default_factory=dict)
    issues: list[IssueRow] = field(default_factory=list)
    steps: list[StepRow] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    focus: str = ""  # the id of a row just added, for the keyboard to start at

    def with_blank_rows(self, *, add: str = "") -> OutcomeForm:
        """The filled rows, then a blank one (issues: at least three rows in all).

        "Add another" needs nothing more: the row just filled in is kept, a new blank row
        follows it, and the keyboard is sent to that blank row (``focus``).
        """
        issues = [row for row in self.issues if row.summary or row.agreed]
        steps = [row for row in self.steps if not row.blank]
        issues.append(IssueRow())
        while len(issues) < MIN_ISSUE_ROWS:
            issues.append(IssueRow())
        steps.append(StepRow())
        self.issues, self.steps = issues[:MAX_ROWS], steps[:MAX_ROWS]
        if add == "issue":
            self.focus = f"issue_{_first_blank(i.summary for i in self.issues)}"
        elif add == "step":
            self.focus = f"step_action_{_first_blank(s.action for s in self.steps)}"
        return self


def _first_blank(texts: Any) -> int:
    return next((i for i, text in enumerate(texts, start=1) if not text), 1)


def _rows(form: Any, prefix: str) -> int:
    """How many rows of this kind the posted form holds."""
    numbers = [
        int(name.removeprefix(prefix))
        for name in form
        if name.startswith(prefix) and name.removeprefix(prefix).isdigit()
    ]
    return min(max(numbers, default=0), MAX_ROWS)


def _text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def posted(form: Any) -> OutcomeForm:
    """The form as posted, row by row, nothing checked yet."""
    values = {name: _text(form, name) for name in ("result", "agreement_text", "notes")}
    issues = [
        IssueRow(summary=_text(form, f"issue_{i}"), agreed=form.get(f"agreed_{i}") == "yes")
        for i in range(1, _rows(form, "issue_") + 1)
    ]
    steps = [
        StepRow(
            action=_text(form, f"step_action_{i}"),
            who=_text(form, f"step_who_{i}"),
            due_typed=tuple(_text(form, f"step_due_{i}-{part}") for part in DATE_PARTS),
        )
        for i in range(1, _rows(form, "step_action_") + 1)
    ]
    return OutcomeForm(values=values, issues=issues, steps=steps)


def of_outcome(outcome: Outcome) -> OutcomeForm:
    """The form filled in with an outcome already recorded, to correct it."""
    values = {
        "result": outcome.result.value,
        "agreement_text": outcome.agreement_text or "",
        "notes": outcome.notes or "",
    }
    issues = [
        IssueRow(summary=str(i["summary"]), agreed=bool(i.get("agreed")))
        for i in outcome.issues
        if "summary" in i
    ]
    steps = []
    for step in outcome.next_steps:
        if "action" not in step:
            continue
        due = date.fromisoformat(step["due"]) if step.get("due") else None
        steps.append(
            StepRow(
                action=str(step["action"]),
                who=str(step.get("who", "")),
                due_typed=(str(due.day), str(due.month), str(due.year)) if due else ("", "", ""),
            )
        )
    return OutcomeForm(values=values, issues=issues, steps=steps)


def _due(row: StepRow, number: int, errors: dict[str, str]) -> str | None:
    """The step's date as ISO text, or None; a refusal in ``errors`` if it is no real date."""
    if not any(row.due_typed):
        return None
    if row.due is None:
        errors[f"step_due_{number}"] = (
            f"Next step {number}: enter a real date, for example 27 3 2026, or leave it blank"
        )
        return None
    return row.due.isoformat()


def _steps(rows: list[StepRow], errors: dict[str, str]) -> list[dict[str, Any]]:
    steps = []
    for number, row in enumerate(rows, start=1):
        if row.blank:
            continue
        if not row.action:
            errors[f"step_action_{number}"] = f"Next step {number}: say what will happen"
        if not row.who:
            errors[f"step_who_{number}"] = f"Next step {number}: say who will do it"
        due = _due(row, number, errors)
        steps.append({"action": row.action, "who": row.who, "due": due})
    return steps


def to_outcome(form: OutcomeForm) -> outcomes.OutcomeCreate | None:
    """The outcome the form describes, or None with what is wrong put in ``form.errors``."""
    errors = form.errors
    if not form.values.get("result"):
        errors["result"] = "Choose what happened"
    issues = [{"summary": row.summary, "agreed": row.agreed} for row in form.issues if row.summary]
    steps = _steps(form.steps, errors)
    if errors:
        return None
    raw = {
        "result": form.values["result"],
        "issues": issues,
        "agreement_text": form.values.get("agreement_text") or None,
        "next_steps": steps,
        "notes": form.values.get("notes") or None,
    }
    try:
        return outcomes.OutcomeCreate.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            name = str(err["loc"][0]) if err["loc"] else "result"
            at = name if name in ("result", "agreement_text", "notes") else "result"
            errors.setdefault(at, _plain(name))
        return None


def _plain(name: str) -> str:
    """A refusal of the whole outcome in plain words, by the part that is wrong."""
    return {
        "result": "Choose what happened",
        "issues": "Keep each issue under 1,000 characters, and no more than 50 issues",
        "next_steps": "Keep each next step under 1,000 characters, and no more than 50 steps",
        "agreement_text": "Keep the agreement under 20,000 characters",
        "notes": "Keep the notes under 5,000 characters",
    }.get(name, "Check the outcome and try again")
