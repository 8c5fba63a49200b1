"""Redis as every process uses it: key and channel names, clients, Lua scripts."""
