"""A deep link as the app's first request: how long until the browser shows the proper navigation and the page's title.

Each repeat starts a fresh ``streamlit run app.py`` (the first request of a process is the slow one: nothing is
imported yet) and opens one page by its URL in headless Debian Chromium. A MutationObserver stamps
``performance.now()`` (from the navigation's start) for:

- ``raw nav``: the first sidebar navigation of any kind (Streamlit's own, from the ``pages/`` file names, is lowercase);
- ``proper nav``: the navigation with app.py's titles ("Live demo", "Metrics", …);
- ``title``: the page's own heading (its ``st.title``).

    python benchmarks/deep_link_first_paint.py                      # /metrics, 3 fresh app processes
    python benchmarks/deep_link_first_paint.py --path deployments --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streaming.server.launcher import free_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
TITLES = {"metrics": "Metrics", "deployments": "Deployments", "benchmark": "Benchmark", "arena": "Arena", "demo": "Live demo"}
# Installed before any page script runs (add_init_script): stamps each milestone once.
OBSERVER = """
(() => {
  window.__paint = {};
  const stamp = (k) => { if (!(k in window.__paint)) window.__paint[k] = performance.now(); };
  const check = () => {
    const nav = document.querySelector('[data-testid="stSidebarNav"]');
    if (nav && nav.innerText.trim()) {
      stamp('raw_nav');
      if (nav.innerText.includes('Live demo')) stamp('proper_nav');
    }
    const h1 = document.querySelector('h1');
    if (h1 && h1.innerText.includes(%r)) stamp('title');
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


def one(path: str, env: dict[str, str], log: Path) -> dict[str, float]:
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]  # fmt: skip
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"streamlit did not start; see {log}")
            time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(OBSERVER % TITLES[path])
            page.goto(f"{url}/{path}")
            page.wait_for_function("() => 'title' in window.__paint && 'proper_nav' in window.__paint", timeout=60_000)
            marks = page.evaluate("window.__paint")
            browser.close()
        return {k: v / 1000.0 for k, v in marks.items()}
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", default="metrics", choices=sorted(TITLES))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="first-paint-"))
    env = dict(os.environ, STREAMING_DB=str(tmp / "demo.db"))
    rows = []
    for i in range(args.repeats):
        r = one(args.path, env, tmp / "streamlit.log")
        rows.append(r)
        print(f"run {i + 1}: " + "  ".join(f"{k} {v:.2f} s" for k, v in sorted(r.items(), key=lambda kv: kv[1])), flush=True)
    for k in ("raw_nav", "proper_nav", "title"):
        vals = [r[k] for r in rows if k in r]
        if vals:
            print(f"{k:>10}: median {statistics.median(vals):.2f} s (min {min(vals):.2f}, max {max(vals):.2f}, n={len(vals)})")


if __name__ == "__main__":
    main()
