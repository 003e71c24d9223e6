"""The backends a server offers: the configured one first, others only where they load."""

from pathlib import Path

import pytest

from assistant.app.pool import Pool
from assistant.errors import ConfigError
from assistant.settings import Settings


def test_offered_backends_are_those_that_load(sample_store: Path) -> None:
    settings = Settings(store=sample_store, llm_choices="extractive, no-such-backend,,extractive")
    assert settings.offered_llms() == ["extractive", "no-such-backend"]
    pool = Pool(settings)
    assert pool.names == ["extractive"]
    assert "Unknown answer backend 'no-such-backend'" in pool.unavailable["no-such-backend"]
    assert pool.get(None) is pool.default and pool.get("extractive") is pool.default
    with pytest.raises(ConfigError, match="'no-such-backend' is not offered here .*Offered: extractive"):
        pool.get("no-such-backend")
    facets = pool.facets()
    assert "Sennport Daily Ledger" in facets.sources and "" not in facets.sources and "md" in facets.kinds
