"""Every error keel raises on purpose.

One tree, so callers can catch exactly what they mean::

    KeelError
    ├── ConfigError                 a setting is missing or malformed
    ├── InvalidArgumentError        a value a caller passed is wrong (names the value)
    │   ├── FilterSyntaxError       a search filter does not parse
    │   ├── UnsafePathError         a path escapes its root (``..``, absolute, NUL ...)
    │   └── ModelInputError         prediction input does not match the model's signature
    ├── NotFoundError               an id or name that does not exist
    ├── AlreadyExistsError          a unique name that is taken
    ├── ConflictError               a write that contradicts what is stored
    │   └── ParamConflictError      a param re-logged with another value
    ├── StoreError                  the database or blob store failed
    │   ├── DatabaseUnavailableError  the database cannot be reached or did not answer in time
    │   ├── BlobCorruptedError      a blob's bytes no longer match its hash
    │   └── MigrationError          the schema could not be brought up to date
    ├── StepFailedError             a pipeline step raised, timed out or lost its worker
    ├── ResourceUnavailableError    no runner or worker can give a step what it asks for
    ├── PermissionDeniedError       the caller may not do this
    │   └── AuthenticationError     no valid credentials came with a server request
    └── ModelSecurityError          a model package failed a security check
        ├── TamperedModelError      a file's bytes or the manifest changed after signing
        ├── UntrustedModelError     unsigned, or signed by a key not trusted (policy strict)
        └── UnsafeModelError        a pickle-family file would import a forbidden global

The server maps these to HTTP status codes in one place; the CLI prints their message.
"""

from __future__ import annotations


class KeelError(Exception):
    """Base of every error keel raises on purpose."""


class ConfigError(KeelError):
    """A setting is missing or malformed."""


class InvalidArgumentError(KeelError, ValueError):
    """A value passed by the caller is wrong; the message names it and says what to do."""


class FilterSyntaxError(InvalidArgumentError):
    """A search filter string does not parse."""


class UnsafePathError(InvalidArgumentError):
    """A path would escape the folder it must stay in."""


class ModelInputError(InvalidArgumentError):
    """Input to ``predict`` misses a column, has an extra one, or a column of the wrong type."""


class NotFoundError(KeelError, LookupError):
    """The object asked for does not exist."""


class AlreadyExistsError(KeelError):
    """An object with this unique name exists already."""


class ConflictError(KeelError):
    """The write contradicts what is already stored."""


class ParamConflictError(ConflictError):
    """A parameter was logged again with a different value."""


class ConstraintError(ConflictError):
    """The database refused a write that contradicts what is stored: a key that is taken, or
    a reference to something that does not exist (any more)."""


class StoreError(KeelError):
    """The metadata database or the blob store failed."""


class DatabaseUnavailableError(StoreError):
    """The metadata database cannot be reached or did not answer in time (try again later)."""


class BlobCorruptedError(StoreError):
    """A blob read back does not match its content hash."""


class MigrationError(StoreError):
    """The database schema could not be upgraded."""


class StepFailedError(KeelError):
    """A pipeline step failed for good (after its retries); completed steps stay cached."""


class ResourceUnavailableError(KeelError):
    """No runner or worker can provide the CPUs, memory, GPUs or resources a step requests."""


class PermissionDeniedError(KeelError):
    """The caller is not allowed to do this."""


class AuthenticationError(PermissionDeniedError):
    """No valid credentials came with a request to a server that requires them."""


class ModelSecurityError(KeelError):
    """A model package failed a security check; it was not loaded."""


class TamperedModelError(ModelSecurityError):
    """A package file or its manifest changed after it was written or signed."""


class UntrustedModelError(ModelSecurityError):
    """A package is unsigned or signed by an unknown key, and the trust policy refuses it."""


class UnsafeModelError(ModelSecurityError):
    """A pickle-family file would import a global outside the allowlist, or cannot be scanned."""


__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "BlobCorruptedError",
    "ConfigError",
    "ConflictError",
    "ConstraintError",
    "DatabaseUnavailableError",
    "FilterSyntaxError",
    "InvalidArgumentError",
    "KeelError",
    "MigrationError",
    "ModelInputError",
    "ModelSecurityError",
    "NotFoundError",
    "ParamConflictError",
    "PermissionDeniedError",
    "ResourceUnavailableError",
    "StepFailedError",
    "StoreError",
    "TamperedModelError",
    "UnsafeModelError",
    "UnsafePathError",
    "UntrustedModelError",
]
