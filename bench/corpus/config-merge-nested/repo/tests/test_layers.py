import json

from layered import deep_merge, load_layers
from layered.layers import DEFAULTS


def test_merge_scalars_and_lists():
    assert deep_merge({"a": 1, "l": [1]}, {"a": 2, "l": [3]}) == {"a": 2, "l": [3]}


def test_merge_nested():
    base = {"server": {"host": "h", "port": 1}}
    assert deep_merge(base, {"server": {"port": 2}}) == {"server": {"host": "h", "port": 2}}
    assert base == {"server": {"host": "h", "port": 1}}


def test_defaults_only():
    assert load_layers([]) == DEFAULTS


def test_user_file_overrides_nested_key(tmp_path):
    user = tmp_path / "user.json"
    user.write_text(json.dumps({"server": {"tls": {"enabled": True}}}))
    config = load_layers([tmp_path / "missing.json", user])
    assert config["server"]["tls"] == {"enabled": True, "cert": None}
    assert config["server"]["port"] == 8000


def test_later_file_wins(tmp_path):
    system, user = tmp_path / "system.json", tmp_path / "user.json"
    system.write_text(json.dumps({"server": {"port": 7000}, "features": ["a"]}))
    user.write_text(json.dumps({"server": {"port": 7001}}))
    config = load_layers([system, user])
    assert config["server"]["port"] == 7001
    assert config["features"] == ["a"]


def test_environment_wins(tmp_path):
    config = load_layers([], {"LAYERED_SERVER__PORT": "9000", "OTHER": "x"})
    assert config["server"]["port"] == 9000
    assert config["server"]["host"] == "127.0.0.1"
