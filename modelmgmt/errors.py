"""The library's own exceptions; every message says what was expected and what came."""

from __future__ import annotations

__all__ = [
    "ModelmgmtError",
    "NotFoundError",
    "NotFittedError",
    "IntegrityError",
    "PluginError",
    "ConflictError",
    "InvalidArgumentError",
    "ModelTypeError",
    "ConvergenceWarning",
    "PluginWarning",
    "InputSignatureError",
    "UnknownOutputError",
    "AlertWarning",
    "CBPEWarning",
]


class ModelmgmtError(Exception):
    """Base class of every exception modelmgmt raises on purpose."""


class NotFoundError(ModelmgmtError, KeyError):
    """A model, version, alias, run, store key or plugin name does not exist."""

    def __str__(self) -> str:  # KeyError would repr() the message; keep it readable
        return str(self.args[0]) if self.args else ""


class NotFittedError(ModelmgmtError, ValueError):
    """A model was asked to predict (or be saved) before it was fitted."""


class IntegrityError(ModelmgmtError):
    """Stored bytes do not match the digest recorded for them."""


class ModelTypeError(IntegrityError, TypeError):
    """A manifest names a model type that is not registered, abstract, or not a Model: the
    artifact cannot be trusted to rebuild what it claims, and nothing is imported for it."""


class PluginError(ModelmgmtError):
    """A plugin is broken, misnamed, or clashes with another plugin."""


class ConflictError(ModelmgmtError):
    """An operation was refused because of the current state (e.g. an alias points there)."""


class InvalidArgumentError(ModelmgmtError, ValueError, TypeError):
    """An argument's value or type was refused; ``except ValueError`` and ``except TypeError``
    both catch it, so callers written against either keep working."""


class ConvergenceWarning(UserWarning):
    """A fit ended before it converged (the loss was still falling fast, or a solver hit its
    iteration limit): train longer, raise the learning rate or scale the data."""


class PluginWarning(UserWarning):
    """A plugin (or one of its names) could not be used and was skipped; the message names it."""


class InputSignatureError(InvalidArgumentError):
    """Input does not match a served version's signature (feature count or dtype)."""


class UnknownOutputError(InputSignatureError):
    """A requested output the served model does not produce."""


class BatchingWarning(UserWarning):
    """A served version's rows are not independent of the rows batched with them (its model
    computes differently by batch size), so its requests are run alone: answers stay exact."""


class AlertWarning(UserWarning):
    """Warning category of monitor alerts that have no callback."""


class CBPEWarning(UserWarning):
    """The reference shows that the model's scores are not calibrated: CBPE can't be trusted."""
