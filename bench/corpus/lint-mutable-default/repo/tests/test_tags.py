from tagging import Document, tag_document


def test_keywords_become_tags():
    doc = tag_document(Document("Q3", "The invoice and the refund are late."))
    assert doc.tags == ["billing"]


def test_extra_tags_first():
    doc = tag_document(Document("Ops", "Another outage."), extra=["urgent"])
    assert doc.tags == ["urgent", "incident"]


def test_existing_tags_kept():
    doc = tag_document(Document("Login", "Reset my password", tags=["support"]))
    assert doc.tags == ["support", "security"]
