from memo.lru import LRUCache

__all__ = ["LRUCache"]
