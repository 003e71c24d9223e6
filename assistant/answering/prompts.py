"""Prompt files from prompts/ (or the folder the `prompts_dir` setting names)."""

from __future__ import annotations

from pathlib import Path

from assistant.errors import ConfigError


def default_folder() -> Path:
    """The project's prompts/ folder (installed as the `prompts` data package)."""
    import prompts

    # A namespace package's __path__ can hold import hooks too: keep real folders.
    folders = [Path(p) for p in prompts.__path__ if Path(p).is_dir()]
    if not folders:
        raise ConfigError("The prompts/ folder is not installed; reinstall the project.")
    return folders[0]


def load(name: str, folder: Path | None = None) -> str:
    path = (folder or default_folder()) / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        raise ConfigError(f"Prompt file {path} is missing or unreadable.") from None
