from tests.trainer.conftest import cache_env, dataset, shared_cache  # noqa: F401
