"""Use cases, one function each, working through a unit of work."""
