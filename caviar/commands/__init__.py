"""One module per `caviar` subcommand, each with `register(subparsers)`."""
