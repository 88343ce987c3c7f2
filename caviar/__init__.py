"""The `caviar` command line: one entry point whose subcommands live in caviar.commands."""
