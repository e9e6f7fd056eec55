"""`edgeproof demo` end to end with its smallest settings (real SmolLM2, real servers on loopback): the outcomes it
exists to show, the report files, and the report page in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from procs import ROOT

pytestmark = pytest.mark.slow
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALLEST = ("--sessions", "2", "--local-steps", "4")  # 2 sessions: the least that clears the validator's gate


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "120"
    return env


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "edgeproof_cli.main", "demo", "--out", str(out), *SMALLEST],
                          capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=900)
    seconds = time.monotonic() - started
    print(proc.stdout[-6000:])
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return out, json.loads((out / "report" / "run.json").read_text()), proc.stdout, seconds


def test_the_demo_shows_what_it_exists_to_show(demo_run):
    out, result, stdout, seconds = demo_run
    assert seconds < 600, f"the demo took {seconds:.0f} s"
    nodes = {n["name"]: n for n in result["poai"]["nodes"]}
    assert nodes["node-llamacpp"]["score"] == 1.0 and nodes["node-torch"]["score"] == 1.0
    cheat = nodes["node-cheat"]
    assert cheat["score"] == 0.0 and cheat["claimed_tops"] > 5 * cheat["measured_tops"]
    reasons = " ".join(cheat["reasons"])
    assert "over-claim" in reasons and "inference failed" in reasons  # both cheats show, each with its reason

    miners = {m["role"]: m for m in result["subnet"]["miners"]}
    assert miners["noisy"]["weight"] == 0.0 and "node-cheat failed PoAI" in miners["noisy"]["why"]
    assert miners["noisy"]["eval_loss"] > miners["good"]["eval_loss"]  # also the worse data: two penalties apart
    assert miners["copy"]["status"] == "copy" and miners["copy"]["weight"] < miners["good"]["weight"]
    assert "miner-good" in miners["copy"]["why"]
    assert miners["good"]["weight"] == pytest.approx(1.0)
    assert result["subnet"]["set_weights"] is not None  # set on the chain

    versions = result["federation"]["versions"]
    assert [v["version"] for v in versions] == [0, 1, 2]
    assert versions[-1]["eval_loss"] < versions[0]["eval_loss"]
    assert all(c["state"] == "finished" and c["rounds_trained"] == [1, 2] for c in result["federation"]["clients"])
    assert result["answers"]["base"] and result["answers"]["adapter"]
    assert all(result["outcomes"][k] for k in ("honest_nodes_pass", "cheat_caught", "cheat_miner_zero_weight",
                                               "copy_below_original", "good_miner_paid", "adapter_beats_base"))
    for title in ("Proof-of-AI: integrity per node", "Federation: held-out eval loss", "Outcomes"):
        assert title in stdout


def test_the_report_folder_holds_the_page_the_pngs_and_the_json(demo_run):
    out, result, _stdout, _seconds = demo_run
    report = out / "report"
    for name in ("eval_loss_per_round", "tflops_measured_vs_claimed", "weights_per_miner"):
        png = (report / f"{name}.png").read_bytes()
        assert png[:8] == PNG_MAGIC and png[12:16] == b"IHDR"
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert width >= 400 and height >= 250
        from PIL import Image  # matplotlib's own dependency: the file decodes as a whole

        with Image.open(report / f"{name}.png") as img:
            img.load()
            assert len(set(img.convert("L").getdata())) > 10  # drawn, not blank
    page = (report / "index.html").read_text()
    assert page.count("<svg") == 3 and "<script" not in page and "<link" not in page
    import re

    assert not re.findall(r'(?:src|href)="(?:https?:)?//|url\(\s*["\']?(?:https?:)?//', page)  # nothing fetched
    assert result["report"]["html"] == str(report / "index.html")
    # every SQLite store the run kept is intact
    for db in out.glob("*.sqlite"):
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", db


def _chromium() -> str:
    path = os.environ.get("EDGEPROOF_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("no Chromium: `make test` installs Debian's chromium (apt-get install chromium); elsewhere "
                    "install Chromium or Chrome and set EDGEPROOF_CHROMIUM to its binary")
    return path


def test_the_report_page_renders_its_plots_in_headless_chromium_with_no_console_errors(demo_run, tmp_path):
    from playwright.sync_api import sync_playwright

    out, _result, _stdout, _seconds = demo_run
    url = (out / "report" / "index.html").as_uri()
    messages, errors, requests = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: messages.append((m.type, m.text)))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            plots = page.eval_on_selector_all("figure[id^=plot-] svg", """svgs => svgs.map(s => {
                const r = s.getBoundingClientRect();
                return {w: r.width, h: r.height, shapes: s.querySelectorAll('path, rect, text, use').length};
            })""")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert len(plots) == 3, plots
    assert all(p["w"] > 300 and p["h"] > 150 and p["shapes"] > 20 for p in plots), plots
    assert not errors, errors
    assert not [m for m in messages if m[0] in ("error", "warning")], messages
    assert requests == [url]  # nothing fetched: the page works offline
    assert (tmp_path / "report.png").read_bytes()[:8] == PNG_MAGIC


def test_ctrl_c_mid_training_stops_every_server_and_leaves_the_stores_intact(tmp_path):
    """Interrupted while the federated clients train (threads, gRPC streams, the coordinator and the challenger all
    live), through the installed `edgeproof` script as a user runs it."""
    out = tmp_path / "run"
    script = Path(sys.executable).parent / "edgeproof"
    # SIGINT as a terminal delivers it: a suite started in the background (`make test &`, nohup) inherits SIGINT
    # ignored, and Python then installs no Ctrl-C handler at all (as it should: the user asked for that)
    proc = subprocess.Popen([str(script), "demo", "--out", str(out), "--sessions", "1", "--local-steps", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not list((out / "clients").glob("client-*/private.jsonl")):  # PoAI done, the clients are starting
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the demo did not reach its federated round in 300 s"
        time.sleep(0.2)
    time.sleep(8.0)  # into round 1's training
    proc.send_signal(signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the demo did not stop within 90 s of Ctrl-C") from None
    assert proc.returncode == 130, (proc.returncode, stdout[-2000:], stderr[-2000:])
    assert "interrupted: every server was shut down" in stdout
    assert "Traceback" not in stderr and "terminate called" not in stderr, stderr[-3000:]
    for db in ("poai.sqlite", "federation.sqlite"):
        with sqlite3.connect(out / db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", db
