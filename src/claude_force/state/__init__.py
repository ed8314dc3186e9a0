"""Where state is kept: the one SQLite helper (:mod:`claude_force.state.sqlite`) that the cache,
memory and metrics stores open their databases through."""
