"""The registry's store layout: every key the registry reads or writes is built here.

Keys, relative to the registry's root::

    blobs/sha256/<hex>                              tensor bytes, shared by all versions
    models/<name>/claimed                           hint: a recently claimed version number
    models/<name>/versions/<n>/claim.json           version number n taken (put-if-absent)
    models/<name>/versions/<n>/manifest.json        written last: the version is visible
    models/<name>/versions/<n>/deleted|aborted      markers (n is never reused)
    models/<name>/versions/<n>/tags.json            tags set after register (set_tags)
    models/<name>/versions/<n>/attachments/<file>   files stored beside a version
    models/<name>/aliases/<alias>/<seq>.json        alias history, append-only (a log)
    models/<name>/aliases/<alias>/head.json         hint: the log's last record (O(1) reads)
    models/<name>/changes/<seq>.json                log of deletions and tag changes
    models/<name>/index.json                        search summary of every version (a cache)
    runs/<experiment>/<run id>.json                 tracking runs
    runs/<experiment>/<run id>/artifacts/<file>     files logged by a run
    run-ids/<run id>                                the experiment of a run (O(1) get_run)
    run-index/<experiment>.json                     search summary of ended runs (a cache)
    run-changes/<experiment>/<seq>.json             ended runs written again (the index replays it)
    deployments/<name>/<seq>.json                   deployment events, append-only (a log)

Nothing else in the package spells a key: gc, blobs, tracking and the registry all call these
functions, so the deletion path (gc) and the writers can never disagree about the layout.
"""

from __future__ import annotations

from typing import Any

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.stores.base import validate_key

__all__ = [
    "ABORTED",
    "BLOB_PREFIX",
    "CLAIM",
    "DELETED",
    "MANIFEST",
    "MODELS",
    "RUNS",
    "TAGS",
    "alias_prefix",
    "attachment_key",
    "attachments_prefix",
    "blob_key",
    "changes_prefix",
    "check_file_name",
    "claim_hint_key",
    "deployment_prefix", "deployments_prefix", "log_record_key", "log_head_key",
    "index_key",
    "is_run_record",
    "model_prefix",
    "parse_version_key",
    "run_artifact_prefix",
    "run_id_key",
    "run_key",
    "runs_prefix",
    "version_key",
    "version_prefix",
]

BLOB_PREFIX = "blobs/sha256/"
MODELS = "models/"
RUNS = "runs/"
RUN_IDS = "run-ids/"
DEPLOYMENTS = "deployments/"

# leaves of a version's folder
CLAIM, MANIFEST, DELETED, ABORTED, TAGS = "claim.json", "manifest.json", "deleted", "aborted", "tags.json"
HINT = "claimed"


def check_file_name(name: Any, what: str) -> str:
    """A user-given file name (an attachment, a run artifact) checked as a key part."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"{what} name must be a str; got {type(name).__name__}")
    try:
        return validate_key(name)
    except ValueError as exc:
        raise InvalidArgumentError(f"invalid {what} name {name!r}: {exc}") from None


def blob_key(digest: str) -> str:
    """``blobs/sha256/<hex>``: where a tensor's bytes live."""
    return BLOB_PREFIX + digest


def model_prefix(name: str) -> str:
    """``models/<name>/``: everything of one model."""
    return f"{MODELS}{name}/"


def claim_hint_key(name: str) -> str:
    """``models/<name>/claimed``: a recently claimed version number (a lower bound of the top)."""
    return f"{MODELS}{name}/{HINT}"


def version_prefix(name: str, version: int | None = None) -> str:
    """``models/<name>/versions/`` or, with a version, that version's folder (trailing '/')."""
    base = f"{MODELS}{name}/versions/"
    return base if version is None else f"{base}{version}/"


def version_key(name: str, version: int, leaf: str) -> str:
    """The key of ``leaf`` (claim.json, manifest.json, ...) in a version's folder."""
    return f"{version_prefix(name, version)}{leaf}"


def attachments_prefix(name: str, version: int) -> str:
    """The folder of a version's attachments (trailing '/')."""
    return version_key(name, version, "attachments/")


def attachment_key(name: str, version: int, file: str) -> str:
    """One attachment of a version."""
    return version_key(name, version, f"attachments/{file}")


def alias_prefix(name: str, alias: str | None = None) -> str:
    """``models/<name>/aliases/`` or one alias's log folder."""
    base = f"{MODELS}{name}/aliases/"
    return base if alias is None else f"{base}{alias}/"


def changes_prefix(name: str) -> str:
    """The log of a model's deletions and tag changes (the search index replays it)."""
    return f"{MODELS}{name}/changes/"


def index_key(name: str) -> str:
    """The model's search summary (a cache any reader may rewrite)."""
    return f"{MODELS}{name}/index.json"


def parse_version_key(key: str) -> tuple[str, int, str] | None:
    """``(name, version, leaf)`` for a key directly in a version folder, else None."""
    if not key.startswith(MODELS):
        return None
    parts = key[len(MODELS):].split("/")
    if len(parts) != 4 or parts[1] != "versions" or not parts[2].isdigit():
        return None
    return parts[0], int(parts[2]), parts[3]


def runs_prefix(experiment: str | None = None) -> str:
    """``runs/`` or one experiment's folder."""
    return RUNS if experiment is None else f"{RUNS}{experiment}/"


def run_key(experiment: str, run_id: str) -> str:
    """The record of one run."""
    return f"{RUNS}{experiment}/{run_id}.json"


def is_run_record(key: str, experiment: str) -> bool:
    """Whether ``key`` is a run record directly in ``experiment``'s folder."""
    leaf = key[len(runs_prefix(experiment)):]
    return "/" not in leaf and leaf.endswith(".json")


def run_artifact_prefix(experiment: str, run_id: str) -> str:
    """The folder of a run's artifacts (trailing '/')."""
    return f"{RUNS}{experiment}/{run_id}/artifacts/"


def run_id_key(run_id: str) -> str:
    """``run-ids/<id>``: holds the run's experiment name."""
    return f"{RUN_IDS}{run_id}"


def run_index_key(experiment: str) -> str:
    """The experiment's summary of ended runs (a cache any reader may rewrite)."""
    return f"run-index/{experiment}.json"


def run_changes_prefix(experiment: str) -> str:
    """The log of ended runs that were written again."""
    return f"run-changes/{experiment}/"


def log_record_key(prefix: str, seq: int) -> str:
    """Record ``seq`` of the append-only log under ``prefix`` (zero-padded: listings sort)."""
    return f"{prefix}{seq:010d}.json"


def log_head_key(prefix: str) -> str:
    """The head hint of the log under ``prefix`` (a copy of a recent record)."""
    return f"{prefix}head.json"


def deployments_prefix() -> str:
    """The folder of every deployment's history."""
    return DEPLOYMENTS


def deployment_prefix(name: str) -> str:
    """A deployment's event log folder."""
    return f"{DEPLOYMENTS}{name}/"
