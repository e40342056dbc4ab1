from tagging.tags import Document, tag_document

__all__ = ["Document", "tag_document"]
