"""uxtop: htop for user experience."""

__version__ = "0.1.0"
