# Type stubs for the Rust extension module. Each part adds its own names.
__version__: str
