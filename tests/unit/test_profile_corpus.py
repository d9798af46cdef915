"""Bad profiles, as a hostile user or an unlucky editor writes them: each is refused with one line naming the
field or the problem (exit 104, no traceback, nothing echoed at length); legitimate oddities still load.

The corpus mirrors the reliability probe: infinite and overflowing numbers, a rate one load generator cannot
send, names a file system refuses, non-UTF-8 and binary files, YAML nested thousands deep, a 10 MB value,
duplicate keys.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from harness.errors import ConfigError
from harness.load.launch import MAX_WALL_RPS_PER_PROCESS, Distribution, check_load_capacity
from harness.profile import ProfileError, load_profile
from harness.record import FOLDER_NAME_MAX_BYTES, make_unique_dir, run_folder_name

ROOT = Path(__file__).resolve().parents[2]
BASE = (ROOT / "profiles" / "realtime-target-tracking.yaml").read_text(encoding="utf-8")


def text(old: str, new: str) -> Callable[[], bytes]:
    return lambda: BASE.replace(old, new, 1).encode("utf-8")


CORPUS = [
    pytest.param(text("rate_rps: 2", "rate_rps: .inf"), "traffic.stages[0].rate_rps", id="infinite-rate"),
    pytest.param(text("rate_rps: 2", "rate_rps: .nan"), "traffic.stages[0].rate_rps", id="nan-rate"),
    pytest.param(text("duration: 250s", "duration: " + "9" * 400), "traffic.stages[0].duration",
                 id="400-digit-duration"),
    pytest.param(text("duration: 250s", 'duration: "' + "9" * 400 + 's"'), "traffic.stages[0].duration",
                 id="400-digit-duration-text"),
    pytest.param(text("duration: 250s", "duration: 400d"), "longer than a year", id="duration-over-a-year"),
    pytest.param(text("name: realtime-target-tracking", "name: " + "n" * 300), "name: ", id="name-300-chars"),
    pytest.param(text("region: us-east-1", "region: us-east-1\nregion: eu-west-1"), "key 'region' appears twice",
                 id="duplicate-key"),
    pytest.param(text("target_value: 10", "target_value: 10\n      target_value: 20"), "appears twice",
                 id="duplicate-nested-key"),
    pytest.param(lambda: b"a: " + b"[" * 20000 + b"]" * 20000, "nested more than", id="nested-20000-deep"),
    pytest.param(lambda: b"a:\n" + b"".join(b"  " * i + b"b:\n" for i in range(1, 200)), "nested more than",
                 id="mappings-nested-200-deep"),
    pytest.param(lambda: BASE.replace("Target", "T\u00e9rget").encode("latin-1"), "not UTF-8 text: byte 0xe9",
                 id="latin-1"),
    pytest.param(lambda: BASE.encode("utf-16"), "not a text file", id="utf-16"),
    pytest.param(lambda: bytes(range(256)) * 4, "not a text file", id="binary"),
    pytest.param(text("rate_rps: 2", "rate_rps: " + "x" * 10_000_000), "at most 1,048,576", id="10-MB-value"),
    pytest.param(text("rate_rps: 2", "rate_rps: " + "x" * 100_000), "(100002 characters)", id="100-kB-value-cut"),
]


@pytest.mark.parametrize(("content", "named"), CORPUS)
def test_a_broken_profile_is_refused_naming_the_problem_in_a_short_message(tmp_path: Path,
                                                                          content: Callable[[], bytes],
                                                                          named: str) -> None:
    path = tmp_path / "profile.yaml"
    path.write_bytes(content())
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    message = str(err.value)
    assert named in message
    assert len(message) < 1000, message[:2000]


@pytest.mark.parametrize("name", [
    pytest.param("négatif ☃ – test", id="unicode"),
    pytest.param("my profile/../../etc with spaces", id="needs-sanitising"),
    pytest.param("ü" * 200, id="long-unicode-name-at-the-limit"),
])
def test_legitimate_oddities_load_and_get_a_safe_folder_name(tmp_path: Path, name: str) -> None:
    data = yaml.safe_load(BASE)
    data["name"] = name
    data["description"] = "a long description " * 2000
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    profile = load_profile(path)
    folder = run_folder_name(0.0, profile.name)
    assert "/" not in folder and ".." not in folder.split("-", 1)[1][:2]
    assert len(folder.encode("utf-8")) <= 17 + FOLDER_NAME_MAX_BYTES
    assert make_unique_dir(tmp_path / "reports", folder).is_dir()


def test_two_runs_started_in_the_same_second_get_two_folders(tmp_path: Path) -> None:
    name = run_folder_name(1_700_000_000.0, "same")
    first, second, third = (make_unique_dir(tmp_path, name) for _ in range(3))
    assert [p.name for p in (first, second, third)] == [name, f"{name}-2", f"{name}-3"]


def test_a_rate_one_load_generator_cannot_send_is_refused_with_what_to_do() -> None:
    data = yaml.safe_load(BASE)
    data["traffic"]["stages"][0]["rate_rps"] = 1_000_000
    from harness.profile import parse_profile

    profile = parse_profile(data)
    with pytest.raises(ConfigError, match=r"traffic\.stages: .*--processes 6001"):
        check_load_capacity(profile, 30.0, Distribution())
    fits = parse_profile({**data, "traffic": {**data["traffic"], "stages": [
        {"name": "s", "duration": "60s", "rate_rps": MAX_WALL_RPS_PER_PROCESS / 30}]}})
    check_load_capacity(fits, 30.0, Distribution())  # at the limit: accepted
    check_load_capacity(profile, 1.0, Distribution(processes=201))  # shared among enough processes


@pytest.mark.parametrize(("content", "named"), [CORPUS[0], CORPUS[2], CORPUS[8], CORPUS[10], CORPUS[13]])
def test_the_cli_exits_104_with_one_line_and_no_traceback(tmp_path: Path, content: Callable[[], bytes],
                                                          named: str) -> None:
    path = tmp_path / "profile.yaml"
    path.write_bytes(content())
    out = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(path)], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 104
    assert "Traceback" not in out.stderr and named in out.stderr
    assert len(out.stderr) < 1000


def test_a_second_master_on_a_taken_port_is_refused_before_anything_starts() -> None:
    import socket

    from harness.load.launch import check_master_port

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"--master-bind-port {port}: cannot listen on 127.0.0.1:{port}"):
            check_master_port(Distribution(master=True, master_bind_port=port))
    check_master_port(Distribution(master=True, master_bind_port=port))  # free again: accepted
    check_master_port(Distribution())  # not a master: nothing to check
