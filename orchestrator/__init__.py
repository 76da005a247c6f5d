"""Mediation Orchestrator: from "the family wants mediation" to "certificate issued"."""

__version__ = "0.1.0"
