"""`UserError`: the one exception type for mistakes a user can make and fix.

A bad flag, a missing file, an offline download, a checkpoint that belongs to other models: each
raises `UserError` with one line that names the bad value and says what to do. The CLI prints only
these as `gan-tf: error: ...` with exit code 2; every other exception is a bug in gan-tf and keeps its
traceback (exit code 1). Imports nothing, so every module (serving included) can raise it.
"""


class UserError(Exception):
    """A mistake the user can fix; its message is one line that says how."""


class TrainingDiverged(UserError):
    """A loss or a weight became NaN or infinite; the last finished epoch's checkpoint is kept."""
