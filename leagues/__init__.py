"""Who plays whom: iterated adaptation games, tournaments, leagues, ratings, storage, executors.

Entry points:
    play_game(GameSpec(a, b, GameConfig(...), seed)) -> GameResult   one iterated adaptation game
    Tournament(db, agents, TournamentConfig(...)).run(executor)      round robin / random pairings
    League(db, agents, LeagueConfig(...)).run(executor)              PFSP matchmaking, snapshots
    Evolution(db, agents, EvolutionConfig(...)).run(executor)        losers removed, winners copied
    make_executor("local" | "ray", workers=N, address=None)          where games are played
    report.standings(LeagueDB(db))                                   the leaderboard

Only ``leagues.ray_executor`` imports ray, and only when a Ray executor is made.
"""

from leagues.backends import make_executor
from leagues.evolution import Evolution, EvolutionConfig, population_shares
from leagues.executors import Executor, GameFailure, InProcessExecutor, RayConfig
from leagues.games import GameConfig, GameResult, GameSpec, play_game
from leagues.league import League, LeagueConfig
from leagues.ratings import Rating, RatingConfig, rate_game
from leagues.roster import AgentSpec
from leagues.storage import LeagueDB, StorageError
from leagues.tournament import Tournament, TournamentConfig

__all__ = [
    "AgentSpec",
    "Evolution",
    "EvolutionConfig",
    "Executor",
    "GameConfig",
    "GameFailure",
    "GameResult",
    "GameSpec",
    "InProcessExecutor",
    "League",
    "LeagueConfig",
    "LeagueDB",
    "Rating",
    "RatingConfig",
    "RayConfig",
    "StorageError",
    "Tournament",
    "TournamentConfig",
    "make_executor",
    "play_game",
    "population_shares",
    "rate_game",
]
