import json

from flags import FlagStore


def test_known_flags(tmp_path):
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": {"new_checkout": True, "beta_admin": False}}))
    store = FlagStore.from_file(path)
    assert store.is_enabled("new_checkout")
    assert not store.is_enabled("beta_admin")
    assert store.enabled() == ["new_checkout"]


def test_unknown_flag_is_off():
    assert not FlagStore({"a": True}).is_enabled("admin_impersonation")


def test_caller_can_default_on():
    assert FlagStore().is_enabled("dark_mode", default=True)
