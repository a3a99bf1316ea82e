from pkgutil import extend_path  # noqa: D104 (only extends the path: see docs/DESIGN.md)

__path__ = extend_path(__path__, __name__)
