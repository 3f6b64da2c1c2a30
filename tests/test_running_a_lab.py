"""The README's "Running a lab" path, not only its test command: after the install, JupyterLab starts
headless and serves the labs, and a lab's first cell runs in the kernel it gets, progress bars included."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
from nbclient import NotebookClient

from scalinglab.assign import ROOT

TOKEN = "scalinglab-test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?token={TOKEN}", timeout=10) as response:
        return response.status, response.read().decode()


def test_jupyter_lab_serves_the_labs(tmp_path):
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
                               f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT / 'labs'}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 90
        while True:
            try:
                assert get(port, "/api/status")[0] == 200
                break
            except OSError:
                assert server.poll() is None and time.time() < deadline, "JupyterLab did not start"
                time.sleep(1)
        status, page = get(port, "/lab")
        assert status == 200 and "JupyterLab" in page
        status, body = get(port, "/api/contents/lab00_power_laws.ipynb")
        assert status == 200 and json.loads(body)["content"]["cells"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_labs_first_cell_runs_with_notebook_progress_bars(tmp_path, monkeypatch):
    nb = nbformat.read(ROOT / "labs" / "lab00_power_laws.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    bar = nbformat.v4.new_code_cell("from tqdm.auto import tqdm\nfor _ in tqdm(range(3)):\n    pass")
    nb.cells = [first, bar]
    monkeypatch.setenv("SCALINGLAB_PROFILE", "smoke")
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.outputs if o.output_type == "stream")
    assert "profile: smoke" in printed
    assert "IProgress not found" not in printed  # ipywidgets is installed: a notebook bar, not text
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in nb.cells[1].outputs)
