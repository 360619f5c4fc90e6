"""uxtop's exceptions. The core's are defined in Rust and re-exported here."""

from uxtop._core import ConfigError, InternalError, UxtopError

__all__ = ["ConfigError", "InternalError", "UxtopError"]
