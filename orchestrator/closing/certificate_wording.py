"""Word a certificate: its title, what it certifies, and the appeal deadline it implies.

The same words go on the PDF and in the email that carries it, so both come from here.
"""

from __future__ import annotations

from datetime import date

from calendars import wording
from orchestrator.closing.outcomes import MEDIATION_HELD
from orchestrator.core.models import ROLE_WORDS, Case, CaseKind, CertificateKind, Outcome, Party

TITLES = {
    CertificateKind.mediation: "Mediation certificate",
    CertificateKind.mias: "Mediation information certificate",
    CertificateKind.declined: "Mediation certificate: mediation declined",
    CertificateKind.missed_30_days: "Mediation certificate: mediation not arranged in 30 days",
}
DR_DECLINED_TITLE = "Certificate: disagreement resolution did not take place"
CASE_KIND_WORDS = {
    CaseKind.mediation: "SEND mediation",
    CaseKind.disagreement_resolution: "Disagreement resolution",
    CaseKind.mias: "Mediation information and advice",
}


def title(kind: CertificateKind, case: Case) -> str:
    """The certificate's title; a declined disagreement resolution has its own."""
    if kind is CertificateKind.declined and case.kind is CaseKind.disagreement_resolution:
        return DR_DECLINED_TITLE
    return TITLES[kind]


def statement(
    kind: CertificateKind,
    event_date: date,
    outcome: Outcome | None,
    case_kind: CaseKind,
    declined_by: Party | None = None,
    young_person: Party | None = None,
) -> str:
    """The sentence that says what happened, and on which day; a young person over
    compulsory school age decides, so the sentence names them."""
    day = wording.date_only(event_date)
    family = family_words(young_person)
    if kind is CertificateKind.declined and case_kind is CaseKind.disagreement_resolution:
        # Voluntary for everyone: here it is the other side, not the family, that said no.
        who = (
            f"the other party ({ROLE_WORDS[declined_by.role]})"
            if declined_by is not None
            else "the other party"
        )
        return (
            f"Disagreement resolution was requested, and on {day} {who} said it would not "
            "take part, so it did not take place."
        )
    if kind is CertificateKind.mediation:
        if outcome is not None and outcome.result not in MEDIATION_HELD:
            return (
                f"Mediation was arranged for {day} but did not take place: a party did not "
                "attend or could not be contacted."
            )
        return f"Mediation took place on {day}."
    if kind is CertificateKind.mias:
        return f"{family} received information and advice about mediation on {day}."
    if kind is CertificateKind.declined:
        return (
            f"{family} was given information about mediation and on {day} "
            "decided not to go to mediation."
        )
    return (
        f"On {day} the local authority said it could not arrange mediation within 30 days "
        f"of being told that {family if young_person else 'the parent or young person'} "
        "wanted it."
    )


def family_words(young_person: Party | None) -> str:
    """Who the certificate is for: the young person by name, else the family in general."""
    if young_person is None:
        return "The parent or young person"
    return f"{young_person.name}, the young person,"


def appeal_words(deadline: date | None, issued: date) -> str:
    """The appeal deadline, or the rule for it when the LA's decision date is not known."""
    if deadline is not None:
        return (
            f"An appeal to the First-tier Tribunal (Special Educational Needs and Disability) "
            f"must be made by {wording.date_only(deadline)}."
        )
    return (
        "An appeal to the First-tier Tribunal (Special Educational Needs and Disability) must "
        "be made by the later of two months from the local authority's decision and one "
        f"month from the date of this certificate ({wording.date_only(issued)})."
    )


def declined_words(case: Case) -> str:
    """Who said no, for a declined certificate: the family, or in disagreement resolution
    (voluntary for everyone) the other party."""
    if case.kind is CaseKind.disagreement_resolution:
        return "the other party said it would not take part"
    return "the family declined mediation"
