"""The composition root: the command line, Settings, the database engine, metrics, and `serve`.

Owns: reading the environment (config), engines and migrations (db), the Prometheus
registry (metrics), building every part from Settings (runtime), the HTTP listener and
Socket Mode (server, web), and `serve` as an object (service).
May import: every package. Nothing imports it (tests and `bot.__main__` aside).
"""
