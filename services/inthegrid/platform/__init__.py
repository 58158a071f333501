"""I/O at the edges, shared by the services: settings, logs, metrics, the bus and the database.

Services import from here and from ``inthegrid.domain``; never from each other.
"""
