"""Load env.sh's settings (and generated secrets) into this process's environment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env_sh_settings() -> dict[str, str]:
    """The MES_* variables env.sh exports, as bash computes them."""
    out = subprocess.run(
        ["bash", "-c", f"source '{ROOT / 'env.sh'}' >/dev/null && env -0"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    pairs = (item.split("=", 1) for item in out.split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith("MES_")}


def load_env_sh() -> None:
    """Export env.sh's defaults into os.environ without overriding what is already set."""
    for key, value in env_sh_settings().items():
        os.environ.setdefault(key, value)
