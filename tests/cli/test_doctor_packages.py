"""``doctor``'s packages: every package requirements.txt pins, by name and by version (not a short list of its own)."""

from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path

from streaming.doctor import check_packages, packages_summary

ROOT = Path(__file__).resolve().parents[2]


def test_doctor_checks_every_pinned_package_of_requirements_txt() -> None:
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==", (ROOT / "requirements.txt").read_text(), flags=re.M)
    checks = check_packages()
    assert [c.name.strip() for c in checks] == list(dict.fromkeys(pins))  # each once, in file order (llama-cpp-python has two marker lines)
    assert len(checks) >= 25
    summary = packages_summary(checks)
    assert summary.detail.startswith(f"{sum(c.level == 'ok' for c in checks)} of {len(checks)} pinned in requirements.txt")


def test_a_wrong_version_and_a_missing_package_are_said(tmp_path: Path) -> None:
    have = md.version("orjson")
    req = tmp_path / "requirements.txt"
    req.write_text(f"# pins\norjson=={have}\npandas==0.0.1  # too old\nno-such-package-here==1.0 ; python_version >= '3'\n"
                   "skipped-on-this-machine==1.0 ; python_version < '3'\n")  # fmt: skip
    by = {c.name.strip(): c for c in check_packages(req)}
    assert set(by) == {"orjson", "pandas", "no-such-package-here"}
    assert by["orjson"].level == "ok" and by["orjson"].detail == have
    assert by["pandas"].level == "warn" and by["pandas"].detail == f"{md.version('pandas')} installed, requirements.txt pins 0.0.1"
    assert by["no-such-package-here"].level == "FAIL" and "not installed (requirements.txt pins 1.0)" in by["no-such-package-here"].detail
    assert by["no-such-package-here"].fix == "pip install -r requirements.txt"
    assert packages_summary(list(by.values())).detail == "1 of 3 pinned in requirements.txt installed at their version; 1 missing; 1 at another version"
