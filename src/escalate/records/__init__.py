"""What a run leaves behind: record types, the run directory, the SQLite ledger, the console."""
