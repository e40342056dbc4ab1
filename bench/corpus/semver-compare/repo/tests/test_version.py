import pytest

from semver import Version, latest


def test_parse():
    assert Version.parse("v1.2.3-beta.1") == Version(1, 2, 3, "beta.1")


def test_numeric_ordering():
    assert Version.parse("1.10.0") > Version.parse("1.9.9")


def test_prerelease_before_release():
    assert Version.parse("2.0.0-rc.1") < Version.parse("2.0.0")
    assert Version.parse("2.0.0") > Version.parse("2.0.0-rc.1")


def test_latest_prefers_release_over_its_prerelease():
    assert latest(["1.4.0-rc.2", "1.4.0", "1.3.9"], include_pre=True) == "1.4.0"


def test_latest_skips_prereleases_by_default():
    assert latest(["1.4.0", "1.5.0-alpha"]) == "1.4.0"


def test_rejects_garbage():
    with pytest.raises(ValueError):
        Version.parse("1.2")
