"""The zoo's cache against a real HTTP server on 127.0.0.1: downloads,
checksums, dropped connections, offline mode, concurrent loads, and the
catalogue shipped in a wheel install."""

import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

import numpy as np
import pytest

import mmkeras
from mmkeras import zoo

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
TINY = os.path.join(zoo.BUNDLED_CATALOGUE, "test_fusion.tiny")
NAME = "hosted_fusion.tiny"


class _Server:
    """Serves `model.keras` in one of the modes: "good", "drop" (half the
    bytes, then the connection closes) or "altered" (same size)."""

    def __init__(self, data):
        self.data, self.mode, self.requests = data, "good", 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                body = server.data
                if server.mode == "altered":
                    body = bytes([body[0] ^ 1]) + body[1:]
                self.send_response(200)
                self.send_header("Content-Length", str(len(server.data)))
                self.end_headers()
                if server.mode == "drop":
                    body = body[: len(body) // 2]
                self.wfile.write(body)
                self.wfile.flush()
                if server.mode == "drop":
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/model.keras"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture()
def hosted(tmp_path, monkeypatch):
    """A catalogue with one hosted entry, its server and an empty cache."""
    model_path = os.path.join(TINY, "model.keras")
    with open(model_path, "rb") as file:
        server = _Server(file.read())
    catalogue = tmp_path / "catalogue"
    catalogue.mkdir()
    manifest = {
        **zoo.info("test_fusion.tiny"),
        "name": NAME,
        "description": "test_fusion.tiny, hosted",
    }
    del manifest["files"]
    zoo.write_entry(
        str(catalogue),
        manifest,
        [{"name": "model.keras", "path": model_path, "uri": server.url}],
    )
    monkeypatch.setenv("MMKERAS_ZOO_CATALOGUE", str(catalogue))
    monkeypatch.setenv("MMKERAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MMKERAS_OFFLINE", raising=False)
    yield server
    server.httpd.shutdown()


def _cached_files(tmp_path):
    folder = tmp_path / "cache" / NAME / "1"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_hosted_entry_downloads_once_then_loads_offline(
    hosted, tmp_path, monkeypatch
):
    model = zoo.load(NAME)
    assert type(model).__name__ == "FusionClassifier"
    assert _cached_files(tmp_path) == [".lock", "model.keras"]
    # Readable by everyone, as a plain `open` would make it.
    (tmp_path / "plain").write_bytes(b"")
    cached = tmp_path / "cache" / NAME / "1" / "model.keras"
    assert cached.stat().st_mode == (tmp_path / "plain").stat().st_mode
    monkeypatch.setenv("MMKERAS_OFFLINE", "1")
    hosted.httpd.shutdown()
    zoo.load(NAME)
    assert hosted.requests == 1


def test_an_entry_that_requires_a_hosted_one_downloads_it_too(
    hosted, tmp_path, monkeypatch
):
    manifest = {
        **zoo.info("test_fusion.tiny"),
        "name": "needs_hosted.tiny",
        "requires": [NAME],
    }
    del manifest["files"]
    zoo.write_entry(
        str(tmp_path / "catalogue"),
        manifest,
        [{"name": "model.keras", "path": os.path.join(TINY, "model.keras")}],
    )
    files = zoo.download("needs_hosted.tiny")
    assert list(files) == ["model.keras"]
    assert _cached_files(tmp_path) == [".lock", "model.keras"]
    assert hosted.requests == 1


def test_entries_that_require_each_other_name_the_cycle(tmp_path, monkeypatch):
    catalogue = tmp_path / "catalogue"
    catalogue.mkdir()
    for name, required in (("a.tiny", "b.tiny"), ("b.tiny", "a.tiny")):
        manifest = {
            **zoo.info("test_fusion.tiny"),
            "name": name,
            "requires": [required],
        }
        del manifest["files"]
        zoo.write_entry(
            str(catalogue),
            manifest,
            [
                {
                    "name": "model.keras",
                    "path": os.path.join(TINY, "model.keras"),
                }
            ],
        )
    monkeypatch.setenv("MMKERAS_ZOO_CATALOGUE", str(catalogue))
    with pytest.raises(
        zoo.ManifestError,
        match=r"cycle \(a.tiny -> b.tiny "
        r"-> a.tiny\); remove one",
    ):
        zoo.download("a.tiny")


def test_written_entries_are_readable_by_everyone(tmp_path):
    manifest = {**zoo.info("test_fusion.tiny"), "name": "shared.tiny"}
    del manifest["files"]
    zoo.write_entry(
        str(tmp_path),
        manifest,
        [{"name": "model.keras", "path": os.path.join(TINY, "model.keras")}],
    )
    (tmp_path / "plain").mkdir()
    expected = (tmp_path / "plain").stat().st_mode
    assert (tmp_path / "shared.tiny").stat().st_mode == expected


def test_offline_mode_names_the_missing_file(hosted, monkeypatch):
    monkeypatch.setenv("MMKERAS_OFFLINE", "1")
    with pytest.raises(zoo.OfflineError) as error:
        zoo.load(NAME)
    message = str(error.value)
    assert "model.keras of hosted_fusion.tiny is not in the cache" in message
    assert f"mmkeras zoo download {NAME}" in message
    assert hosted.requests == 0


def test_a_dropped_connection_leaves_nothing_and_a_retry_works(
    hosted, tmp_path
):
    hosted.mode = "drop"
    with pytest.raises(zoo.DownloadError, match="download"):
        zoo.load(NAME)
    assert _cached_files(tmp_path) == [".lock"]
    hosted.mode = "good"
    zoo.load(NAME)
    assert _cached_files(tmp_path) == [".lock", "model.keras"]


def test_altered_bytes_are_a_checksum_error_and_change_nothing(
    hosted, tmp_path
):
    hosted.mode = "altered"
    expected = zoo.info(NAME)["files"][0]["sha256"]
    with pytest.raises(zoo.ChecksumError) as error:
        zoo.load(NAME)
    message = str(error.value)
    assert "model.keras" in message and expected in message
    actual = message.split("has sha256 ")[1].split(",")[0]
    assert len(actual) == 64 and actual != expected
    assert _cached_files(tmp_path) == [".lock"]


def test_a_corrupted_cache_file_names_the_repair_which_works(
    hosted, tmp_path, caplog
):
    zoo.load(NAME)
    path = tmp_path / "cache" / NAME / "1" / "model.keras"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(zoo.ChecksumError) as error:
        zoo.load(NAME)
    message = str(error.value)
    assert message.startswith(f"{path} (model.keras) has sha256 ")
    assert message.endswith(f"; `mmkeras zoo download {NAME}` fetches it again")
    with caplog.at_level("WARNING", logger="mmkeras.zoo"):
        files = zoo.download(NAME)
    assert caplog.messages == [
        f"{path} has the wrong sha256; downloading it again"
    ]
    expected = zoo.info(NAME)["files"][0]["sha256"]
    assert zoo.cache.sha256(files["model.keras"]) == expected
    assert hosted.requests == 2
    zoo.load(NAME)


def test_a_killed_download_s_part_file_goes_with_the_next_download(
    hosted, tmp_path
):
    slot = tmp_path / "cache" / NAME / "1"
    slot.mkdir(parents=True)
    # What a download killed mid-way leaves: its temporary file.
    handle, _ = tempfile.mkstemp(
        prefix=".model.keras.", suffix=".part", dir=slot
    )
    os.close(handle)
    zoo.download(NAME)
    assert _cached_files(tmp_path) == [".lock", "model.keras"]


@pytest.mark.parametrize(
    "version", ["../../escaped", "../minilm_l6.sentence/1"]
)
def test_a_version_that_is_a_path_writes_nothing(hosted, tmp_path, version):
    path = tmp_path / "catalogue" / NAME / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "version": version}))
    with pytest.raises(zoo.ManifestError, match=": version must start"):
        zoo.download(NAME)
    assert hosted.requests == 0
    assert sorted(os.listdir(tmp_path)) == ["catalogue"]


def test_two_processes_loading_at_once_download_once(hosted):
    code = f"import mmkeras; print(type(mmkeras.zoo.load({NAME!r})).__name__)"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert out.strip().endswith("FusionClassifier")
    assert hosted.requests == 1


def test_unknown_names_list_the_closest():
    with pytest.raises(zoo.UnknownModelError) as error:
        zoo.load("efficientnet_lite.imagenet")
    assert "Did you mean efficientnet_lite0.imagenet" in str(error.value)


def test_the_catalogue_ships_in_a_wheel_install(tmp_path):
    """A non-editable install, used from another directory."""
    target = tmp_path / "site"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            REPO,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr
    shutil.rmtree(tmp_path / "build", ignore_errors=True)
    code = (
        "import mmkeras, numpy as np; "
        "print(mmkeras.__file__); "
        "print(mmkeras.zoo.list_models()); "
        "m = mmkeras.zoo.load('test_fusion.tiny'); "
        "print(type(m).__name__)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    module_file, names, family = run.stdout.strip().splitlines()[-3:]
    assert module_file.startswith(str(target))
    assert (
        "test_fusion.tiny" in names and "efficientnet_lite0.imagenet" in names
    )
    assert family == "FusionClassifier"


def test_write_entry_hashes_and_documents_the_files(tmp_path):
    data = tmp_path / "model.keras"
    data.write_bytes(np.arange(10, dtype="uint8").tobytes())
    manifest = {**zoo.info("test_fusion.tiny"), "name": "demo.entry"}
    del manifest["files"], manifest["schema_version"]
    written = zoo.write_entry(
        str(tmp_path), manifest, [{"name": "model.keras", "path": str(data)}]
    )
    assert written["schema_version"] == zoo.manifest.SCHEMA_VERSION
    assert zoo.read_manifest(str(tmp_path / "demo.entry")) == written
    entry = written["files"][0]
    assert entry["uri"] == "file:model.keras" and entry["size"] == 10
    assert entry["sha256"] == mmkeras.zoo.cache.sha256(str(data))
    card = (tmp_path / "demo.entry" / "MODEL_CARD.md").read_text()
    assert entry["sha256"] in card and manifest["command"] in card
