"""The ``claude-force`` command line (typer + rich); heavy modules load lazily."""


def main() -> None:
    from .app import run

    run()
