"""Jobs: the record, the store, the function catalog and the job functions, their Lua scripts."""
