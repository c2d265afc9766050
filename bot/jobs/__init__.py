"""The jobs the core queues (kinds.py: one frozen dataclass per kind), stored as JSON by
`digest.codec` in the `jobs` table beside their `kind`, which only picks the type to read a
payload as; jobs queued by an older redigest are read by legacy.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.jobs.kinds import (
    JOB_TYPES,
    DigestJob,
    FlagJob,
    Job,
    PreviewJob,
    SavedFile,
    ScheduledJob,
    UnreadableJob,
    WatchJob,
)
from bot.jobs.legacy import read_old_job
from digest import codec

__all__ = [
    "JOB_TYPES",
    "DigestJob",
    "FlagJob",
    "Job",
    "PreviewJob",
    "SavedFile",
    "ScheduledJob",
    "UnreadableJob",
    "WatchJob",
    "job_payload",
    "read_job",
]


def job_payload(job: Job) -> dict[str, Any]:
    """What the `jobs` table stores for this job (as JSON), beside its `kind`."""
    payload: dict[str, Any] = codec.to_jsonable(job)
    return payload


def read_job(kind: str, payload: Mapping[str, Any]) -> Job:
    """The job a stored row holds: today's shape, or one an older redigest wrote."""
    tp = JOB_TYPES.get(kind)
    if tp is None:
        raise UnreadableJob(f"unknown job kind {kind}")
    try:
        job: Job = codec.from_jsonable(tp, dict(payload))
    except (TypeError, ValueError, KeyError):
        return read_old_job(tp, payload)
    return job
