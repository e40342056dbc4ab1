from crm.importer import ImportReport, import_contacts

__all__ = ["ImportReport", "import_contacts"]
