import pytest

from appconf import SettingsError, load_settings


def test_file_overrides_defaults(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"port": 9000}')
    assert load_settings(path) == {"port": 9000, "workers": 2, "log_level": "INFO"}


def test_missing_required_file_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="settings.json"):
        load_settings(tmp_path / "settings.json")


def test_missing_optional_file_gives_defaults(tmp_path):
    assert load_settings(tmp_path / "nope.json", required=False)["port"] == 8080


def test_invalid_json_names_line(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{\n"port": }')
    with pytest.raises(SettingsError, match="line 2"):
        load_settings(path)


def test_unknown_key(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"prot": 1}')
    with pytest.raises(SettingsError, match="prot"):
        load_settings(path)
