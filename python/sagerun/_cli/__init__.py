"""The ``sagerun`` console script's subcommands, one module each.

Every module exposes ``add_parser(subparsers)``, which registers the
subcommand and sets ``run(args, parser) -> exit code`` as its default.
"""
