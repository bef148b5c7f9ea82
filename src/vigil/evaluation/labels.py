"""The labels file of ``vigil eval`` (the format of ``../shared/data/incidents/labels.yaml``).

.. code-block:: yaml

    clips:
      - file: street/accident.mp4          # relative to the labels file
        camera: street-05                   # optional: the config's camera id (else its first camera)
        incidents:                          # or the word "none" for an incident-free clip
          - {type: collision, start: 16.6, end: 20.4, note: "..."}
        not:                                # things that happen and must not be reported as that type
          - {type: pedestrian, start: 3.0, end: 12.0, note: "..."}

Times are seconds of video from the first decoded frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vigil.config.models import INCIDENT_TYPES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Label(_Strict):
    """One labelled event (or one thing that must not be reported as ``type``)."""

    type: str = Field(title="Incident type", description="One of Vigil's incident types.")
    start: float = Field(ge=0, title="Start (s)", description="When it starts, in seconds from the first frame.")
    end: float = Field(ge=0, title="End (s)", description="When it ends (or the clip ends), in seconds.")
    note: str = Field("", title="Note", description="What happens, in words.")

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in INCIDENT_TYPES:
            raise ValueError(f"unknown incident type {value!r}; known: {', '.join(INCIDENT_TYPES)}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Label:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class ClipLabels(_Strict):
    """The labels of one clip."""

    file: str = Field(title="Clip", description="Video file, relative to the labels file (or absolute).")
    camera: str | None = Field(
        None, title="Camera id", description="Camera of the clip's configuration whose zones apply; default its first."
    )
    config: str | None = Field(
        None,
        title="Configuration",
        description="Configuration file for this clip, relative to the configs folder; default: found by name.",
    )
    incidents: list[Label] = Field(
        default_factory=list, title="Incidents", description='Labelled incidents, or "none" for an incident-free clip.'
    )
    not_: list[Label] = Field(
        default_factory=list,
        alias="not",
        title="Must not be reported",
        description="Things that happen and must not be reported as the named type (wrong-type alarms).",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("incidents", mode="before")
    @classmethod
    def _none(cls, value: Any) -> Any:
        return [] if value in (None, "none") else value

    def name(self) -> str:
        """The clip's name in tables and for finding its configuration.

        The stem of ``config`` when given, else the clip's folder
        (``incidents/<name>/clip.mp4``), else (a file at the top level) its stem.
        """
        if self.config:
            return Path(self.config).stem
        path = Path(self.file)
        return path.parent.name if path.parent.name not in ("", ".") else path.stem


class LabelFile(_Strict):
    """A labels file: clips with their incidents."""

    clips: list[ClipLabels] = Field(min_length=1, title="Clips", description="The labelled clips.")


class LabelsError(ValueError):
    """A labels file that cannot be read, with the file and the field in the message."""


def load_labels(path: Path | str) -> LabelFile:
    """Read and validate a labels file.

    Raises
    ------
    LabelsError
        Naming the file and the clip/field at fault.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LabelsError(f"{path}: cannot read labels ({exc})") from exc
    try:
        return LabelFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise LabelsError(f"{path}: invalid labels: {problems}") from exc
