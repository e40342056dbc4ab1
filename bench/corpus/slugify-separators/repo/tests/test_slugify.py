from slugs import slugify, unique_slug


def test_simple_title():
    assert slugify("Release notes") == "release-notes"


def test_punctuation_collapses_to_one_hyphen():
    assert slugify("Hello, World!") == "hello-world"


def test_accents_are_transliterated():
    assert slugify("Crème brûlée recipe") == "creme-brulee-recipe"


def test_no_leading_or_trailing_hyphens():
    assert slugify("  -- Why? --  ") == "why"


def test_truncates_at_word_boundary():
    assert slugify("alpha beta gamma", max_length=12) == "alpha-beta"


def test_unique_slug_counts_up():
    assert unique_slug("Release notes", {"release-notes", "release-notes-2"}) == "release-notes-3"


def test_unique_slug_of_symbols_only():
    assert unique_slug("!!!", set()) == "post"
