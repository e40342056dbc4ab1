from wraptext import fill, wrap


def test_short_text_is_one_line():
    assert wrap("hello world", width=20) == ["hello world"]


def test_line_may_be_exactly_width():
    assert wrap("aaaa bbbb cccc", width=9) == ["aaaa bbbb", "cccc"]


def test_never_exceeds_width():
    text = "the quick brown fox jumps over the lazy dog " * 5
    for width in (10, 15, 23):
        assert all(len(line) <= width for line in wrap(text, width))


def test_long_word_gets_own_line():
    assert wrap("a supercalifragilistic b", width=8) == ["a", "supercalifragilistic", "b"]


def test_fill_with_indent():
    assert fill("one two three four", width=12, indent="> ") == "> one two\n> three four"


def test_empty():
    assert wrap("   ") == []
