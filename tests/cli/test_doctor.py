"""``python -m streaming doctor`` on this machine: every check runs for real, exit code 0 when the built-ins work, keys never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.model


def doctor(tmp_path: Path, deployments: str | None, **env: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "streaming"]
    if deployments is not None:
        f = tmp_path / "deployments.toml"
        f.write_text(deployments)
        args += ["--deployments", str(f)]
    e = {k: v for k, v in os.environ.items() if k != "STREAMING_SERVER_URL"}
    e.update({"STREAMING_DB": str(tmp_path / "db" / "doctor.db"), **env})
    return subprocess.run([*args, "doctor"], capture_output=True, text=True, cwd=ROOT, env=e, timeout=240)


def test_doctor_reports_every_check_and_passes_here(tmp_path: Path) -> None:
    deps = ('[[deployments]]\nname = "my-azure"\nprovider = "azure"\nendpoint = "https://x.openai.azure.com"\ndeployment = "d"\n'
            'api_key_env = "DOCTOR_TEST_KEY"\n[[deployments]]\nname = "no-key-yet"\nprovider = "openai"\nmodel = "m"\n'
            'api_key_env = "DOCTOR_TEST_MISSING"\n')  # fmt: skip
    p = doctor(tmp_path, deps, DOCTOR_TEST_KEY="sk-doctor-secret-0123456789")
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    for line in ("python", "llama-cpp-python", "llama.cpp", "built-in server", "sim-fast", "local model", "chromium",
                 "results database", "deployments file"):  # fmt: skip
        assert any(ln.split("  ")[0] in ("ok", "warn") and line in ln for ln in out.splitlines()), (line, out)
    assert "4-token answer" in out and "The built-in deployments work." in out
    assert "key set in the environment (DOCTOR_TEST_KEY)" in out
    assert "no key: DOCTOR_TEST_MISSING is not set" in out
    assert "sk-doctor-secret" not in out + p.stderr


def test_doctor_names_a_bad_deployments_file_and_an_unwritable_database(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    p = doctor(tmp_path, '[[deployments]]\nname = "x"\nprovider = "nope"\n', STREAMING_DB=str(blocked / "sub" / "db.sqlite"))
    assert "FAIL  deployments file" in p.stdout and "field 'provider'" in p.stdout
    assert "FAIL  results database" in p.stdout and "STREAMING_DB" in p.stdout
    assert p.returncode == 0  # the built-in deployments still work: these are fixes to make, not a broken install
