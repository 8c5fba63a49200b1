"""The webhook dispatcher process: claim, sign, POST, record, retry."""
