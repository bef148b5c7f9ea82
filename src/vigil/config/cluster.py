"""The ``cluster:`` section: how ``vigil run --cluster`` places cameras on Ray nodes.

Ignored by the embedded runner (``vigil run`` without ``--cluster``). In cluster
mode ``storage.media_dir`` must be a folder that every node and the API reach at
the same path (an NFS-style mount): groups write clips there and the store keeps
their paths, so the API on any node serves any node's clip. See docs/scaling.md
for how to size groups and nodes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ClusterConfig(BaseModel):
    """Camera groups (Ray actors) and where their files go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cameras_per_group: int = Field(
        8,
        ge=1,
        le=256,
        title="Cameras per group",
        description="Cameras run by one group actor (one process). Fewer: faults touch fewer cameras and the "
        "process has less to do under the GIL; more: fewer processes and detector copies per node.",
    )
    cpus_per_group: float = Field(
        1.0,
        gt=0,
        title="CPUs per group",
        description="Ray CPU resource each group reserves; a node runs as many groups as its CPUs allow.",
    )
    gpus_per_group: float = Field(
        0.0,
        ge=0,
        title="GPUs per group",
        description="Ray GPU resource each group reserves (a fraction shares one GPU between groups).",
    )
    max_restarts: int = Field(
        -1,
        ge=-1,
        title="Group restarts",
        description="How often Ray restarts a group that died (with its node or alone) on a surviving node; "
        "-1: without limit.",
    )
    journal_dir: Path | None = Field(
        None,
        title="Group journal folder",
        description="Node-local folder of each group's event journal (events wait there while the database is "
        "down). Empty: beside storage.journal_path (or the media folder's parent).",
    )
    delivery_lease_s: float = Field(
        60.0,
        ge=4,
        le=3600,
        title="Delivery lease (s)",
        description="How long a node's dispatcher holds the outbox rows it claimed; a dead node's rows go to "
        "another node after at most this long. Keep it above four times the longest transport timeout.",
    )
    status_interval_s: float = Field(
        1.0,
        gt=0,
        le=60,
        title="Status interval (s)",
        description="How often the driver collects the groups' status, new events and health.",
    )
