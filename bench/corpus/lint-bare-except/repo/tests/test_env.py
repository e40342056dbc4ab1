from settings import env_int, env_list


def test_env_int_reads_number():
    assert env_int("WORKERS", 2, {"WORKERS": "8"}) == 8


def test_env_int_bad_value_uses_default():
    assert env_int("WORKERS", 2, {"WORKERS": "eight"}) == 2


def test_env_int_unset_uses_default():
    assert env_int("WORKERS", 3, {}) == 3


def test_env_list():
    assert env_list("HOSTS", {"HOSTS": "a, b,,c "}) == ["a", "b", "c"]
