"""The package version, in one place (the CLI prints it; `scriptcheck.__version__` re-exports it)."""

__version__ = "0.1.0"
