"""The redaction stage: every pixel that leaves Vigil passes through here."""

from vigil.redaction.config import RedactionConfig
from vigil.redaction.engine import RedactionError, Redactor
from vigil.redaction.temporal import TemporalRedactor

__all__ = ["RedactionConfig", "RedactionError", "Redactor", "TemporalRedactor"]
