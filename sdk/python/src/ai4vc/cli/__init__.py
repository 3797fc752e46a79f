"""The `ai4vc` command line (Typer + Rich) over `ai4vc.sdk`; entry point `ai4vc.cli.app:main`."""
