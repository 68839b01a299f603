"""Who plays whom: iterated adaptation games, tournaments, leagues, ratings, storage, executors."""
