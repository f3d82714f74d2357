"""Job submission (docs/jobs.md): the job record and its states, the supervisor
of one entrypoint, the manager on the head, the GCS store, and the HTTP client
the ``polyray job`` command uses.

The manager runs in the head's process beside the dashboard, which serves it
under Ray's Jobs REST paths (polyray/dashboard/rest_jobs.py).
"""

from .record import JobRecord, JobStatus

__all__ = ["JobRecord", "JobStatus"]
