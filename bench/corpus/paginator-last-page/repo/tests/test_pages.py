import pytest

from paginate import Paginator
from paginate.pages import PageOutOfRange


def test_exact_multiple():
    p = Paginator(list(range(40)), per_page=20)
    assert p.page_count == 2
    assert p.page(2).items == list(range(20, 40))


def test_empty_has_one_page():
    p = Paginator([], per_page=5)
    assert p.page_count == 1
    assert p.page(1).items == []


def test_partial_last_page():
    p = Paginator(list(range(45)), per_page=20)
    assert p.page_count == 3
    last = p.page(3)
    assert last.items == list(range(40, 45))
    assert not last.has_next


def test_iteration_covers_every_item():
    items = list(range(7))
    p = Paginator(items, per_page=3)
    assert [x for page in p for x in page.items] == items


def test_out_of_range():
    with pytest.raises(PageOutOfRange):
        Paginator(list(range(10)), per_page=5).page(3)
