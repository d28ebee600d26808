"""No host, port or credential literal outside env.sh, tests and docs: settings come from env.sh."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ALLOWED = re.compile(r"^(env\.sh$|tests/|docs/|bench/results/|.*\.md$|.*package-lock\.json$)")
PORTS = "5432|1883|8883|4840|5020|30461|30462|30463|30173|30080|30090"
PATTERNS = {
    "host": re.compile(r"\blocalhost\b|\b127\.0\.0\.1\b|\b0\.0\.0\.0\b"),
    "port": re.compile(rf"(?<![\w.])({PORTS})(?![\w.])"),
    "credential": re.compile(
        r"""(password|passwd|secret|token)["']?\s*[:=]\s*["'](?![$<{])[^"'\s]{4,}["']"""
        r"""|://[^/\s:@]+:[^@\s/$]+@""",
        re.IGNORECASE,
    ),
}


def project_files() -> list[Path]:
    """Tracked files plus new files that are not ignored."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [Path(p) for p in out.splitlines() if p and (ROOT / p).is_file()]


def find_literals() -> list[str]:
    """`path:line: kind: text` for every literal outside the allowed places."""
    found = []
    for rel in project_files():
        if ALLOWED.match(rel.as_posix()):
            continue
        try:
            text = (ROOT / rel).read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for kind, pattern in PATTERNS.items():
                if pattern.search(line):
                    found.append(f"{rel}:{number}: {kind}: {line.strip()}")
    return found


def test_no_host_port_or_credential_literals() -> None:
    assert find_literals() == []


def test_the_check_catches_literals(tmp_path: Path) -> None:
    """The patterns match what they must (guards against a check that never fires)."""
    samples = {
        "host": 'url = "http://localhost/x"',
        "port": "port = 5432",
        "credential": 'password = "hunter22"',
    }
    for kind, line in samples.items():
        assert PATTERNS[kind].search(line), kind
    assert not PATTERNS["credential"].search("password = settings.db_password")
    assert not PATTERNS["port"].search("version = 1.5432")
