from paginate.pages import Page, Paginator

__all__ = ["Page", "Paginator"]
