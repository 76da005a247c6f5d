"""Closing a case: outcomes, certificates, preparation papers, reports, mediator feeds."""
