from crm import import_contacts


def test_all_good():
    report = import_contacts([{"name": "Ada", "email": "ada@ex.org", "age": "36"}])
    assert [c.name for c in report.imported] == ["Ada"]
    assert report.errors == []


def test_bad_row_does_not_stop_the_import():
    rows = [
        {"name": "Ada", "email": "ada@ex.org"},
        {"name": "", "email": "x@ex.org"},
        {"name": "Bob", "email": "bob@ex.org", "age": "forty"},
        {"name": "Cy", "email": "CY@EX.ORG"},
    ]
    report = import_contacts(rows)
    assert [c.email for c in report.imported] == ["ada@ex.org", "cy@ex.org"]
    assert report.errors[0] == "row 3: name is required"
    assert report.errors[1].startswith("row 4: invalid literal for int()")


def test_invalid_email_reported():
    report = import_contacts([{"name": "Z", "email": "z-at-ex.org"}])
    assert report.errors == ["row 2: invalid email 'z-at-ex.org'"]
