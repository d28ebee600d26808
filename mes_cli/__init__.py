"""The `mes` command line. Each subcommand imports its package only when it runs."""
